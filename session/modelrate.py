"""Epochs at the model's sampling rate: a live session (and its replay) on a source whose rate
is not the one its model was trained at (e.g. a 256 Hz amplifier and the 250 Hz ``generic``
model).

The stream is filtered and epoched at its own rate (the online, causal filter:
:class:`~neurospell.preprocessing.OnlineEpocher`); each epoch is then resampled to the model's
rate by :func:`~neurospell.session.pooling.resample_epochs`, the rule the offline paths use
(:func:`~neurospell.session.pooling.conform_batch`: ``neurospell evaluate`` on a recording at
another rate; pooled training): a cubic spline
through the epoch's band-limited samples, evaluated at ``tmin + k / sfreq_model`` over the
same window, cut to the model's number of samples. So there is one resampling rule, applied
per epoch both live and offline: an epoch's resampled samples depend on that epoch's samples
alone (no edge effect that differs between the live stream and a recording), and a replay,
which feeds the recorded samples through the same driver, resamples them bit for bit as the
live session did. What differs from the offline path is the filter (causal, live; as the
offline pipeline says, offline), not the resampling.

:class:`ModelRate` is the driver's (:class:`~neurospell.session.drivers.StreamDriver`):
epochs at the model's rate pass through untouched (every session recorded before this module
replays as it did); at another rate they are resampled, and the log says so once.
"""

from __future__ import annotations

import math

from neurospell.logs import logger
from neurospell.types import EpochBatch

from .pooling import resample_epochs

__all__ = ["ModelRate", "model_input"]


def model_input(decoder) -> tuple[tuple[str, ...], float, int] | None:
    """The channels, sampling rate and samples per epoch ``decoder`` scores (``None``: not
    known, e.g. not fitted). A :class:`~neurospell.session.modelswitch.SwitchingDecoder`: its
    current model's."""
    model = getattr(decoder, "current", decoder)
    prov = getattr(model, "provenance_", None) or {}
    if "sfreq" not in prov or "n_times" not in prov:
        return None
    return tuple(prov.get("ch_names") or ()), float(prov["sfreq"]), int(prov["n_times"])


class ModelRate:
    """Resamples a driver's epochs to its decoder's rate when the stream's differs.

    Parameters
    ----------
    decoder : BaseDecoder | SwitchingDecoder
        Read at each call (a refit swapped in is fitted on epochs already at the model's rate).
    """

    def __init__(self, decoder):
        self.decoder = decoder
        self.logged = False

    def __call__(self, batch: EpochBatch) -> EpochBatch:
        """``batch`` as the model takes it (the same object when its rate is the model's)."""
        if not len(batch):
            return batch
        want = model_input(self.decoder)
        if want is None or math.isclose(batch.sfreq, want[1], rel_tol=1e-6):
            return batch
        _, sfreq, n_times = want
        if not self.logged:
            self.logged = True
            logger.info("resampling epochs %g -> %g Hz for the model (per epoch, after filtering at the "
                        "stream's rate)", batch.sfreq, sfreq)
        return resample_epochs(batch, sfreq, tmax=batch.tmin + (n_times - 1) / sfreq)
