"""Pooling the epochs of several recordings (several participants, labs, amplifiers).

:func:`pool_batches` matches channels by name, brings every recording to one sampling rate and
one epoch window, keeps each recording's characters distinct and records which recording
every epoch came from (``EpochBatch.recording``, read by the decoders' per-recording
alignment, :mod:`neurospell.decoder.alignment`). :func:`conform_batch` brings a recording to
a model's channels and rate before it is scored; :func:`aligned_scores` scores each recording
of a batch after aligning the model on that recording's own (unlabelled) epochs.

The common rate is the lowest rate among the recordings (or a rate given): each recording is
filtered and epoched at its own rate first (the causal band-pass is defined in Hz, so it is
the same filter at every rate, and its 20 Hz low edge leaves nothing near any of these
rates' Nyquist frequencies), then each epoch is interpolated (cubic spline) at the common
sample times. Taking the lowest rate never invents samples a recording does not hold, and the
decoders decimate further anyway (the LDAs to 25 Hz, the networks to about 128 Hz).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.types import EpochBatch

__all__ = ["pool_batches", "resample_epochs", "pick_channels", "conform_batch", "aligned_scores"]


def _with(b: EpochBatch, data=None, sfreq=None, ch_names=None, trials=None, recording=None) -> EpochBatch:
    return EpochBatch(b.data if data is None else data, b.codes, b.onsets, b.tmin,
                      b.sfreq if sfreq is None else sfreq, b.ch_names if ch_names is None else ch_names,
                      b.targets, b.trials if trials is None else trials,
                      b.recording if recording is None else recording)


def resample_epochs(batch: EpochBatch, sfreq: float, *, tmax: float | None = None) -> EpochBatch:
    """Epochs interpolated at ``sfreq`` over the same window (cubic spline per epoch).

    Parameters
    ----------
    batch : EpochBatch
        Band-limited epochs (the ``[preprocessing]`` band-pass), volts.
    sfreq : float
        The new sampling rate, Hz.
    tmax : float | None
        Last sample time wanted (s); default: the batch's last sample time. Samples are
        ``tmin + k / sfreq`` for every ``k`` that keeps them at or before ``tmax``.
    """
    from scipy.interpolate import CubicSpline

    sfreq = float(sfreq)
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise NeurospellError(f"resample_epochs: sfreq must be a number > 0, got {sfreq!r}.")
    last = batch.times[-1] if tmax is None else min(float(tmax), batch.times[-1])
    n_new = int(np.floor((last - batch.tmin) * sfreq + 1e-6)) + 1
    if np.isclose(sfreq, batch.sfreq) and n_new == batch.n_times:
        return batch
    if np.isclose(sfreq, batch.sfreq):
        return _with(batch, data=batch.data[:, :, :n_new])
    t_new = batch.tmin + np.arange(n_new) / sfreq
    data = CubicSpline(batch.times, np.asarray(batch.data, np.float64), axis=2)(t_new)
    return _with(batch, data=data.astype(np.float32), sfreq=sfreq)


def pick_channels(batch: EpochBatch, ch_names: Sequence[str], *, name: str = "the recording",
                  reference: str = "the first recording") -> EpochBatch:
    """The epochs of ``batch`` on ``ch_names`` (by name, in that order).

    Channels of ``batch`` not in ``ch_names`` are dropped (logged); missing ones are an error
    naming them, both recordings and what to do.
    """
    ch_names = list(ch_names)
    have = list(batch.ch_names)
    missing = [c for c in ch_names if c not in have]
    if missing:
        common = [c for c in ch_names if c in have]
        raise NeurospellError(
            f"recordings: the channels of {name} cannot be matched by name with those of {reference} "
            f"(channels: {len(ch_names)} vs {len(have)}): {name} lacks {', '.join(missing)} "
            f"(it has {', '.join(have)}). Pooled recordings, and a model and the recordings it scores, "
            f"need the same channel names: name the channels of {name} as the montage does, pick the "
            f"common ones in every recording with MNE (raw.pick({common!r}), then save to FIF), or "
            "train one model per montage.")
    if have == ch_names:
        return batch
    extra = [c for c in have if c not in ch_names]
    if extra:
        logger.warning("%s: channels %s are not in %s and are left out.", name, ", ".join(extra), reference)
    idx = [have.index(c) for c in ch_names]
    return _with(batch, data=batch.data[:, idx], ch_names=tuple(ch_names))


def pool_batches(batches: Sequence[EpochBatch], names: Sequence[str] | None = None, *,
                 sfreq: float | None = None) -> EpochBatch:
    """Pool recordings' epochs: channels by name, one rate, one window, distinct characters.

    Parameters
    ----------
    batches : sequence of EpochBatch
        One per recording (a batch that already holds several recordings keeps them apart).
    names : sequence of str | None
        The recordings' names, for messages.
    sfreq : float | None
        Common sampling rate; default: the lowest rate of the recordings (see the module
        docstring).

    Returns
    -------
    batch : EpochBatch
        ``trials`` renumbered so that characters of different recordings never share an
        index; ``recording`` the index of each epoch's recording (when more than one).
    """
    batches = list(batches)
    if not batches:
        raise NeurospellError("pool_batches: give at least one batch.")
    names = [f"recording {i + 1}" for i in range(len(batches))] if names is None else [str(n) for n in names]
    b0 = batches[0]
    tmins = {round(b.tmin, 6) for b in batches}
    if len(tmins) > 1:
        raise NeurospellError(
            f"recordings: the epochs start at different times relative to the flash ({sorted(tmins)} s); "
            "epoch every recording with the same [preprocessing] tmin.")
    rates = sorted({float(b.sfreq) for b in batches})
    target = rates[0] if sfreq is None else float(sfreq)
    if len(rates) > 1 or sfreq is not None and not np.isclose(target, rates[0]):
        logger.info("recordings at %s Hz: epochs resampled to %g Hz", "/".join(f"{r:g}" for r in rates), target)
    tmax = min(b.times[-1] for b in batches)
    out, offset, rec_offset = [], 0, 0
    for b, name in zip(batches, names, strict=True):
        b = pick_channels(b, b0.ch_names, name=name, reference=names[0])
        b = resample_epochs(b, target, tmax=tmax)
        tr = b.trials if b.trials is not None else np.zeros(len(b), np.int64)
        tr = np.asarray(tr) - (tr.min() if len(tr) else 0) + offset
        offset = int(tr.max()) + 1 if len(tr) else offset
        rec = np.zeros(len(b), np.int64) if b.recording is None else np.asarray(b.recording) - b.recording.min()
        rec = rec + rec_offset
        rec_offset = int(rec.max()) + 1 if len(rec) else rec_offset
        out.append(_with(b, trials=tr, recording=rec))
    if len(out) == 1:
        b = out[0]
        single = b.recording is None or len(np.unique(b.recording)) <= 1
        return EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, b.ch_names, b.targets, b.trials,
                          None if single else b.recording)
    n_times = min(b.n_times for b in out)
    return EpochBatch.concatenate([b if b.n_times == n_times else _with(b, data=b.data[:, :, :n_times])
                                   for b in out])


def conform_batch(batch: EpochBatch, ch_names, sfreq: float, n_times: int, *,
                  name: str = "the recording") -> EpochBatch:
    """A recording's epochs on a model's channels (by name) and at its rate and length."""
    b = pick_channels(batch, ch_names, name=name, reference="the model")
    if not np.isclose(b.sfreq, sfreq):
        logger.info("%s: epochs resampled from %g Hz to the model's %g Hz", name, b.sfreq, sfreq)
        b = resample_epochs(b, sfreq)
    if b.n_times > n_times:
        b = _with(b, data=b.data[:, :, :n_times])
    return b


def aligned_scores(decoder, batch: EpochBatch, names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Decision scores of ``batch``, each recording aligned on its own epochs first when the
    decoder aligns (labels are not read).

    Returns
    -------
    scores : array, shape (n_epochs,)
    notes : list of str
        One line per aligned recording (empty when the decoder does not align).
    """
    if not decoder.aligns:
        return decoder.decision_function(batch), []
    rec = np.zeros(len(batch), np.int64) if batch.recording is None else np.asarray(batch.recording)
    ids = list(np.unique(rec))
    names = [f"recording {i + 1}" for i in range(len(ids))] if names is None else [str(Path(n).name) for n in names]
    scores, notes = np.empty(len(batch)), []
    for k, r in enumerate(ids):
        m = rec == r
        sub = batch.subset(m)
        name = names[k] if k < len(names) else f"recording {k + 1}"
        decoder.align_to(sub, source=name)
        scores[m] = decoder.decision_function(sub)
        how = ("Riemannian re-centering of their covariances" if decoder.alignment_method == "riemann"
               else "Euclidean alignment")
        notes.append(f"Aligned the model on {name}'s {int(m.sum())} unlabelled epochs ({how}; no labels "
                     "used) before scoring them.")
    return scores, notes
