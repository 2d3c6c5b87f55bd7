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
replays as it did); at another rate they are resampled, and the log says so once. Channels
are matched by name as the offline paths match them
(:func:`~neurospell.session.pooling.pick_channels`): a stream with the model's channels in
another order (the parametric simulated participant's ``Pz Cz Fz ...`` and the generic model's
``Fz Cz P3 ...``), or with more channels, gives the model its channels in its order (said once);
one that lacks a channel of the model is an error naming it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from neurospell.logs import logger
from neurospell.types import EpochBatch

from .pooling import pick_channels, resample_epochs

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
        self._picks: tuple | None = None  # ((stream channels, model channels), indices) once matched

    def __call__(self, batch: EpochBatch) -> EpochBatch:
        """``batch`` as the model takes it (the same object when its rate is the model's)."""
        if not len(batch):
            return batch
        want = model_input(self.decoder)
        if want is None:
            return batch
        ch_names, sfreq, n_times = want
        if ch_names and tuple(batch.ch_names) != ch_names:
            batch = self._pick(batch, ch_names)
        if math.isclose(batch.sfreq, sfreq, rel_tol=1e-6):
            return batch
        if not self.logged:
            self.logged = True
            logger.info("resampling epochs %g -> %g Hz for the model (per epoch, after filtering at the "
                        "stream's rate)", batch.sfreq, sfreq)
        return resample_epochs(batch, sfreq, tmax=batch.tmin + (n_times - 1) / sfreq)

    def _pick(self, batch: EpochBatch, ch_names: tuple[str, ...]) -> EpochBatch:
        """The model's channels of ``batch``, by name, in the model's order."""
        have = tuple(batch.ch_names)
        if self._picks is None or self._picks[0] != (have, ch_names):
            pick_channels(batch, ch_names, name="the stream", reference="the model")  # (its errors, once)
            self._picks = ((have, ch_names), [have.index(c) for c in ch_names])
            logger.info("taking the model's channels by name: %s (the stream's order: %s)", " ".join(ch_names),
                        " ".join(have))
        return replace(batch, data=batch.data[:, self._picks[1]], ch_names=ch_names)
