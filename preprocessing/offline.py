"""Offline preprocessing of a ``Raw``: filtering, referencing, decimation, epoching.

Two filter paths, chosen by ``PreprocessConfig.phase``:

``"causal"`` (default)
    The same SOS IIR filter, steady-state initial state, re-referencing and decimation as
    :class:`~neurospell.preprocessing.OnlineFilter`, applied to the whole recording at once.
    The online epocher reproduces these epochs sample for sample, so a decoder trained on
    them sees at calibration the signal it will see online. This is what decoders train on.
``"zero-phase"``
    MNE's FIR ``raw.filter`` (forward-backward, no phase delay) and ``raw.resample``. Its
    ERPs peak earlier and are less smeared than the causal ones (a 4th-order Butterworth
    band-pass 0.5-20 Hz delays the P300 by some tens of milliseconds), but no online
    system can compute it, so a model trained on it meets a shifted signal online. Use it
    for plots and offline analyses only. Measured on ``sample_data/`` (target minus
    non-target at Pz, 0.5-20 Hz): peak at 324 ms / 6.8 µV zero-phase, 336 ms / 4.6 µV causal.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError, validate_type
from neurospell.config import PreprocessConfig
from neurospell.logs import logger, use_log_level
from neurospell.markers import parse_flash, parse_trial
from neurospell.types import EpochBatch

from .filters import (
    apply_reference,
    decimation_factor,
    design_sos,
    initial_state,
    pick_channels,
    reference_weights,
)
from .readers import split_trials

__all__ = ["causal_filter_raw", "epochs_from_raw", "flash_table"]


def _check_cfg(cfg):
    validate_type(cfg, PreprocessConfig, "cfg", hint="Pass load_config().preprocessing or PreprocessConfig(...).")


def _check_raw(raw):
    import mne

    validate_type(raw, mne.io.BaseRaw, "raw", hint="Read a file with load_recording(path) first.")
    if not raw.preload:
        raw.load_data(verbose="error")


def _relative_onsets(raw) -> np.ndarray:
    """Annotation onsets in seconds from the first sample of ``raw``."""
    ann = raw.annotations
    onset = np.asarray(ann.onset, dtype=float)
    if ann.orig_time is not None:
        onset = onset - raw.first_time
    return onset


def causal_filter_raw(raw, cfg, *, picks="eeg", verbose=None):
    """Apply the online (causal) filter, reference and decimation to a whole ``Raw``.

    Parameters
    ----------
    raw : mne.io.Raw
    cfg : PreprocessConfig
    picks : str | list of str
        Channels to keep and filter (``"eeg"``: the EEG channels).
    verbose : bool | str | int | None

    Returns
    -------
    raw_out : mne.io.RawArray
        The picked channels, filtered with ``scipy.signal.sosfilt`` from the steady state of
        the first sample, re-referenced, decimated to ``cfg.resample_sfreq``; annotations
        carried over with onsets relative to the first sample.
    """
    import mne
    from scipy import signal

    with use_log_level(verbose):
        _check_cfg(cfg)
        _check_raw(raw)
        sfreq = raw.info["sfreq"]
        idx = pick_channels(raw.ch_names, raw.get_channel_types(), picks)
        names = [raw.ch_names[i] for i in idx]
        types = [raw.get_channel_types()[i] for i in idx]
        x = raw.get_data(picks=idx).astype(np.float64, copy=True)
        ref = reference_weights(cfg, names)
        if ref is not None:
            x = apply_reference(ref, x)  # as the online filter: the same values
        sos = design_sos(cfg, sfreq)
        if sos is not None:
            x, _ = signal.sosfilt(sos, x, axis=-1, zi=initial_state(sos, x[:, 0]))
        k = decimation_factor(cfg, sfreq)
        if k > 1:
            x = np.ascontiguousarray(x[:, ::k])
        info = mne.create_info(names, sfreq / k, types)
        out = mne.io.RawArray(x, info, verbose="error")
        ann = raw.annotations
        if len(ann):
            out.set_annotations(mne.Annotations(_relative_onsets(raw), ann.duration, ann.description))
        logger.info("Causal filter: %d channels, %g Hz -> %g Hz, sos=%s", len(names), sfreq, sfreq / k,
                    None if sos is None else sos.shape)
        return out


def flash_table(raw):
    """The flashes of a ``Raw``: onsets, codes, targets and trials, from its annotations.

    Returns
    -------
    onsets : array, shape (n_flashes,)
        Seconds from the first sample, sorted.
    codes : array of int, shape (n_flashes,)
    targets : array of bool, shape (n_flashes,) | None
        ``None`` unless every flash says whether it was a target.
    trials : array of int, shape (n_flashes,)
        From ``trial/<i>`` annotations (the last trial that started at or before the
        flash; -1 before the first), or, without any, from the long pauses between flashes.
    descriptions : list of str
    """
    onsets_all = _relative_onsets(raw)
    fl_on, fl_code, fl_tgt, fl_desc = [], [], [], []
    tr_on, tr_idx = [], []
    for on, d in zip(onsets_all, raw.annotations.description, strict=True):
        info = parse_flash(d)
        if info is not None and not str(d).strip().lstrip("-").isdigit():
            fl_on.append(on)
            fl_code.append(info.code)
            fl_tgt.append(info.target)
            fl_desc.append(str(d))
            continue
        tr = parse_trial(d)
        if tr is not None:
            tr_on.append(on)
            tr_idx.append(tr[0])
    order = np.argsort(fl_on, kind="stable")
    onsets = np.asarray(fl_on, dtype=float)[order]
    codes = np.asarray(fl_code, dtype=np.int64)[order]
    tg = [fl_tgt[i] for i in order]
    targets = None if (not tg or any(t is None for t in tg)) else np.asarray(tg, dtype=bool)
    desc = [fl_desc[i] for i in order]
    if tr_on:
        tord = np.argsort(tr_on, kind="stable")
        t_on = np.asarray(tr_on)[tord]
        t_idx = np.asarray(tr_idx, dtype=np.int64)[tord]
        pos = np.searchsorted(t_on, onsets + 1e-9, side="right") - 1
        trials = np.where(pos >= 0, t_idx[np.clip(pos, 0, None)], -1).astype(np.int64)
    else:
        trials = split_trials(onsets)
    return onsets, codes, targets, trials, desc


def epochs_from_raw(raw, cfg, *, picks="eeg", verbose=None):
    """Cut the flashes of a ``Raw`` into MNE ``Epochs`` and an :class:`EpochBatch`.

    Parameters
    ----------
    raw : mne.io.Raw
        With flash annotations (``flash/<code>[/target|/nontarget]``) and optionally
        ``trial/<i>[/<symbol>]`` annotations, as :func:`load_recording` returns.
    cfg : PreprocessConfig
        Band-pass, notch, reference, decimation, window (``tmin``, ``tmax``), baseline and
        peak-to-peak rejection (``reject_uv``, µV). ``phase="causal"`` (default) filters
        exactly like the online path; ``"zero-phase"`` uses MNE's FIR filter.
    picks : str | list of str
        Channels to epoch (default the EEG channels).
    verbose : bool | str | int | None

    Returns
    -------
    epochs : mne.Epochs
        Preloaded; event ids per flash description (``epochs.event_id``); dropped epochs
        (window outside the data, rejected amplitude) are in ``epochs.drop_log``.
    batch : EpochBatch
        The kept epochs as float32 volts, shape (n_epochs, n_channels, n_times), with each
        flash's stimulus code, onset (seconds from the first sample), target label (or
        ``None`` if the file does not say) and trial index.
    """
    import mne

    with use_log_level(verbose):
        _check_cfg(cfg)
        _check_raw(raw)
        onsets, codes, targets, trials, desc = flash_table(raw)
        if onsets.size == 0:
            kinds = sorted(set(raw.annotations.description))[:10]
            raise NeurospellError(
                "epochs_from_raw: the recording has no flash annotations (flash/<code>[/target]); "
                f"its annotations are {kinds or 'none'}. Read it with load_recording, which maps "
                "speller markers to flash annotations."
            )
        if cfg.phase == "causal":
            fr = causal_filter_raw(raw, cfg, picks=picks)
        else:
            fr = _zero_phase_raw(raw, cfg, picks)
        sfreq = fr.info["sfreq"]
        uniq = sorted(set(desc))
        event_id = {d: i + 1 for i, d in enumerate(uniq)}
        # The input sample nearest each onset (ties to the earlier one), then the first
        # output sample at or after it: the rule the online epocher applies to timestamps.
        if cfg.phase == "causal":
            k = int(round(raw.info["sfreq"] / sfreq))
            s_in = np.ceil(onsets * raw.info["sfreq"] - 0.5).astype(np.int64)
            samples = -(-s_in // k)
        else:
            samples = np.round(onsets * sfreq).astype(np.int64)
        events = np.column_stack([samples, np.zeros_like(samples), [event_id[d] for d in desc]])
        keep = np.r_[True, np.diff(samples) != 0]
        if not keep.all():
            logger.warning("%d flashes share a sample with the previous one and are skipped.", int((~keep).sum()))
        sel = np.flatnonzero(keep)
        reject = None if cfg.reject_uv is None else {
            t: cfg.reject_uv * 1e-6 for t in set(fr.get_channel_types()) if t in ("eeg", "eog")
        }
        epochs = mne.Epochs(
            fr, events[sel], event_id, tmin=cfg.tmin, tmax=cfg.tmax,
            baseline=cfg.baseline, reject=reject or None, preload=True,
            reject_by_annotation=True, verbose="error",
        )
        kept = sel[epochs.selection]
        n_drop = len(sel) - len(kept)
        if n_drop:
            reasons = {}
            for log in epochs.drop_log:
                for r in log:
                    reasons[r] = reasons.get(r, 0) + 1
            logger.warning("epochs_from_raw: %d of %d flashes dropped (%s).", n_drop, len(sel),
                           ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "unknown")
        batch = EpochBatch(
            epochs.get_data(copy=False).astype(np.float32),
            codes[kept],
            onsets[kept],
            float(epochs.tmin),
            sfreq,
            tuple(epochs.ch_names),
            None if targets is None else targets[kept],
            trials[kept],
        )
        logger.info("epochs_from_raw: %d epochs x %d channels x %d samples (%s phase)",
                    len(batch), batch.n_channels, batch.n_times, cfg.phase)
        return epochs, batch


def _zero_phase_raw(raw, cfg, picks):
    import mne

    idx = pick_channels(raw.ch_names, raw.get_channel_types(), picks)
    r = raw.copy().pick([raw.ch_names[i] for i in idx])
    if r.annotations.orig_time is not None or r.first_samp:
        info = r.info.copy()
        with info._unlock():
            info["meas_date"] = None
        onsets = _relative_onsets(r)
        out = mne.io.RawArray(r.get_data(), info, verbose="error")
        out.set_annotations(mne.Annotations(onsets, r.annotations.duration, r.annotations.description))
        r = out
    sfreq = r.info["sfreq"]
    if cfg.h_freq is not None and cfg.h_freq >= sfreq / 2:
        raise NeurospellError(f"[preprocessing] h_freq ({cfg.h_freq} Hz) must be below Nyquist ({sfreq / 2:g} Hz).")
    if cfg.reference != "none":
        ref = "average" if cfg.reference == "average" else list(cfg.reference)
        r.set_eeg_reference(ref, projection=False, verbose="error")
    if cfg.l_freq is not None or cfg.h_freq is not None:
        r.filter(cfg.l_freq, cfg.h_freq, picks="all", phase="zero", verbose="error")
    if cfg.notch is not None and cfg.notch < sfreq / 2:
        r.notch_filter(cfg.notch, picks="all", verbose="error")
    if cfg.resample_sfreq is not None and cfg.resample_sfreq != sfreq:
        r.resample(cfg.resample_sfreq, verbose="error")
    return r
