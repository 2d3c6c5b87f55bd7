"""Speller events in a recording: markers to annotations, and flashes grouped into trials.

Every reader (:mod:`neurospell.preprocessing.readers`) turns its format's markers into the
annotations of :mod:`neurospell.markers` (``flash/<code>/target``, ``flash/<code>/nontarget``,
``trial/<i>/<symbol>``) through the one mapping here.
"""

from __future__ import annotations

import numpy as np

from neurospell.markers import (
    TRIAL_START,
    decode_symbol,
    flash_to_annotation,
    parse_flash,
    parse_trial,
    trial_to_annotation,
)

__all__ = ["split_trials"]


def _marker_to_description(value) -> str | None:
    """Map a marker (int code or string) to an annotation description; ``None`` to drop it."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        v = int(value)
        if v == 0:
            return None
        if v == TRIAL_START:
            return "trial"
        info = parse_flash(v)
        if info is not None:
            return flash_to_annotation(info.code, info.target)
        return str(v)
    text = str(value)
    if not text.strip():
        return None
    trial = parse_trial(text)
    if trial is not None:
        idx, sym = trial
        return trial_to_annotation(idx, None if sym is None else decode_symbol(sym))
    text = text.strip()
    info = parse_flash(text)
    if info is not None and not text.lstrip("-").isdigit():
        return flash_to_annotation(info.code, info.target)
    if text.lstrip("-").isdigit():
        return _marker_to_description(int(text))
    return text.replace(":", "/")


def _normalise_annotations(raw):
    """Number bare ``trial`` annotations (from integer codes) in time order."""
    ann = raw.annotations
    if not len(ann) or "trial" not in set(ann.description):
        return raw
    desc = list(ann.description)
    order = np.argsort(ann.onset, kind="stable")
    used = {parse_trial(d)[0] for d in desc if parse_trial(d) is not None}
    nxt = (max(used) + 1) if used else 0
    for i in order:
        if desc[i] == "trial":
            desc[i] = trial_to_annotation(nxt)
            nxt += 1
    import mne

    raw.set_annotations(
        mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time, ch_names=ann.ch_names)
    )
    return raw


def _events_to_annotations(raw, samples: np.ndarray, values) -> None:
    """Add annotations for marker ``values`` at ``samples`` (indices into ``raw``)."""
    import mne

    onsets, descs = [], []
    for s, v in zip(samples, values, strict=True):
        d = _marker_to_description(v)
        if d is not None:
            onsets.append(s / raw.info["sfreq"])
            descs.append(d)
    if onsets:
        raw.set_annotations(raw.annotations + mne.Annotations(onsets, 0.0, descs, orig_time=raw.annotations.orig_time))


def split_trials(onsets, *, gap_factor: float = 4.0, min_gap: float = 1.0) -> np.ndarray:
    """Group flash onsets into trials (characters) at the long pauses between flash runs.

    Parameters
    ----------
    onsets : array, shape (n_flashes,)
        Flash onset times in seconds, sorted.
    gap_factor : float
        A pause longer than ``gap_factor`` times the median inter-flash interval ...
    min_gap : float
        ... and longer than ``min_gap`` seconds starts a new trial.

    Returns
    -------
    trials : array of int, shape (n_flashes,)
        Trial index of each flash, from 0.
    """
    onsets = np.asarray(onsets, dtype=float)
    if onsets.size == 0:
        return np.zeros(0, dtype=np.int64)
    d = np.diff(onsets)
    if d.size == 0:
        return np.zeros(1, dtype=np.int64)
    thresh = max(gap_factor * float(np.median(d)), min_gap)
    return np.concatenate([[0], np.cumsum(d > thresh)]).astype(np.int64)
