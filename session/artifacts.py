"""Artifact epochs in a live stream: one epoch far outside the model's amplitude is skipped,
a stream whose every epoch is is a unit error.

A decoder refuses epochs whose amplitude is implausible for its training scale
(:class:`~neurospell.check.AmplitudeError`). For a recording or a batch that is a unit
error (millivolts given as volts). A live session scores one epoch at a time, and there one
epoch 100x the training scale is usually an artifact (an electrode pop, a movement, the
filter ringing after a step in the signal): the session must not end on it. The rule, the
same for the live session and its replay (both feed the stream driver):

- an epoch the decoder refuses for its amplitude gives no evidence: its flash is not given
  to the engine and not logged as scored, and it is counted (:attr:`ArtifactGate.n_skipped`);
- until an epoch of the stream has been scored, :data:`UNIT_RUN` refused in a row are a
  unit error: the decoder's error is raised (every epoch shows it, from the start).
"""

from __future__ import annotations

from neurospell.check import AmplitudeError
from neurospell.logs import logger

__all__ = ["ArtifactGate", "UNIT_RUN"]

#: Epochs refused in a row, before any was scored, that make a unit error (one repetition of
#: a 6 x 6 row/column grid).
UNIT_RUN = 12


class ArtifactGate:
    """Scores single epochs, skipping artifact epochs (see the module docstring).

    Attributes
    ----------
    n_skipped : int
        Epochs skipped for their amplitude.
    n_scored : int
        Epochs scored.
    """

    def __init__(self):
        self.n_skipped = 0
        self.n_scored = 0
        self._run = 0

    def score(self, decoder, epoch) -> float | None:
        """The decoder's score of ``epoch`` (an :class:`~neurospell.types.EpochBatch` of one),
        or ``None`` for an artifact epoch.

        Raises
        ------
        AmplitudeError
            :data:`UNIT_RUN` epochs refused in a row before any was scored.
        """
        try:
            value = float(decoder.decision_function(epoch)[0])
        except AmplitudeError as err:
            self._run += 1
            self.n_skipped += 1
            if self.n_scored == 0 and self._run >= UNIT_RUN:
                raise AmplitudeError(f"The first {self._run} epochs of the stream were all refused: {err}",
                                     err.ratio) from None
            logger.warning("An epoch %.0fx the model's training amplitude was skipped as an artifact "
                           "(%d so far): its flash gives no evidence.", err.ratio, self.n_skipped)
            return None
        self._run = 0
        self.n_scored += 1
        return value
