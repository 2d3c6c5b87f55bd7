"""Inspecting a recording: a summary and an ERP plot (target vs non-target per channel)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.logs import use_log_level
from neurospell.markers import parse_flash, parse_trial

from .offline import causal_filter_raw, epochs_from_raw

__all__ = ["summarize_raw", "plot_erp"]


def summarize_raw(raw) -> dict:
    """Channels, duration, sampling rate and marker counts of a ``Raw``.

    Returns
    -------
    summary : dict
        ``ch_names``, ``ch_types`` (type -> count), ``sfreq`` (Hz), ``n_samples``,
        ``duration_s``, ``n_flashes``, ``n_targets``, ``n_nontargets``, ``n_unknown``
        (flashes without a target label), ``flash_codes`` (code -> count), ``n_trials``,
        ``other_markers`` (description -> count).
    """
    flash_codes: Counter = Counter()
    n_t = n_nt = n_unk = n_trials = 0
    other: Counter = Counter()
    for d in raw.annotations.description:
        d = str(d)
        info = parse_flash(d) if not d.strip().lstrip("-").isdigit() else None
        if info is not None:
            flash_codes[info.code] += 1
            if info.target is None:
                n_unk += 1
            elif info.target:
                n_t += 1
            else:
                n_nt += 1
        elif parse_trial(d) is not None:
            n_trials += 1
        else:
            other[d] += 1
    return {
        "ch_names": list(raw.ch_names),
        "ch_types": dict(Counter(raw.get_channel_types())),
        "sfreq": float(raw.info["sfreq"]),
        "n_samples": int(raw.n_times),
        "duration_s": raw.n_times / raw.info["sfreq"],
        "n_flashes": int(sum(flash_codes.values())),
        "n_targets": n_t,
        "n_nontargets": n_nt,
        "n_unknown": n_unk,
        "flash_codes": dict(sorted(flash_codes.items())),
        "n_trials": n_trials,
        "other_markers": dict(other.most_common()),
    }


def plot_erp(raw, cfg, fname, *, picks="eeg", max_groups: int = 4, verbose=None) -> Path:
    """Save the average response per channel as a PNG (matplotlib, Agg backend).

    With flash annotations: target vs non-target averages (or all flashes when the file
    has no target labels). Without: the averages of the ``max_groups`` most frequent other
    markers (e.g. ``square`` / ``rt`` in the EEGLAB sample).

    Parameters
    ----------
    raw : mne.io.Raw
    cfg : PreprocessConfig
        Filter and window (the causal path by default, i.e. what the decoder sees).
    fname : path-like
        Output PNG.
    picks : str | list of str
    max_groups : int
    verbose : bool | str | int | None

    Returns
    -------
    path : Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import mne

    with use_log_level(verbose):
        path = check_fname(fname, "fname", must_exist=False)
        groups: dict[str, np.ndarray] = {}
        summ = summarize_raw(raw)
        if summ["n_flashes"]:
            epochs, batch = epochs_from_raw(raw, cfg, picks=picks)
            data, times, names = batch.data, batch.times, batch.ch_names
            if batch.targets is not None:
                groups["target"] = data[batch.targets]
                groups["non-target"] = data[~batch.targets]
            else:
                groups["all flashes"] = data
        else:
            fr = causal_filter_raw(raw, cfg, picks=picks) if cfg.phase == "causal" else raw.copy().pick(picks)
            descs = [d for d, _ in Counter(fr.annotations.description).most_common()
                     if not d.upper().startswith(("BAD", "EDGE")) and parse_trial(d) is None][:max_groups]
            if not descs:
                raise _no_events(raw)
            events, ids = mne.events_from_annotations(fr, event_id={d: i + 1 for i, d in enumerate(descs)},
                                                      verbose="error")
            ep = mne.Epochs(fr, events, ids, tmin=cfg.tmin, tmax=cfg.tmax, baseline=cfg.baseline,
                            preload=True, verbose="error")
            times, names = ep.times, ep.ch_names
            for d in descs:
                if len(ep[d]):
                    groups[d] = ep[d].get_data(copy=False)
        n = len(names)
        ncol = min(4, n)
        nrow = int(np.ceil(n / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.3 * nrow), sharex=True, sharey=True,
                                 squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= n:
                ax.axis("off")
                continue
            for label, d in groups.items():
                ax.plot(times, d[:, i].mean(axis=0) * 1e6, label=f"{label} (n={len(d)})")
            ax.axvline(0, color="k", lw=0.5)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(names[i], fontsize=9)
        axes.flat[0].legend(fontsize=7)
        for ax in axes[-1]:
            ax.set_xlabel("time (s)")
        for ax in axes[:, 0]:
            ax.set_ylabel("µV")
        fig.suptitle(f"Average responses ({cfg.phase} {cfg.l_freq}-{cfg.h_freq} Hz)", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path


def _no_events(raw):
    return NeurospellError(
        "plot_erp: the recording has no event annotations to average over "
        f"(annotations: {sorted(set(raw.annotations.description))[:10] or 'none'})."
    )
