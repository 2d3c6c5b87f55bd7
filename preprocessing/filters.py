"""Filter design shared by the offline causal path and the online filter.

Both paths build the same second-order sections from a
:class:`~neurospell.config.PreprocessConfig`: a Butterworth band-pass (or high/low-pass
when one edge is ``None``) of order ``filter_order`` followed by an optional IIR notch at
``notch`` Hz (quality factor 30). The filter starts in its steady state for the first
sample (``sosfilt_zi * x[0]``) so that an electrode offset does not ring through the
high-pass for seconds. Decimation keeps every ``k``-th sample counted from the first
sample of the stream (``k = sfreq / resample_sfreq``, which must be an integer), after the
low-pass edge has removed what would alias.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger

__all__ = ["design_sos", "decimation_factor", "reference_matrix", "reference_weights", "apply_reference",
           "pick_channels"]

NOTCH_Q = 30.0


def design_sos(cfg, sfreq: float) -> np.ndarray | None:
    """Second-order sections of the causal filter described by ``cfg`` at ``sfreq`` Hz.

    Parameters
    ----------
    cfg : PreprocessConfig
    sfreq : float
        Sampling rate of the input in Hz.

    Returns
    -------
    sos : array, shape (n_sections, 6) | None
        ``None`` when ``cfg`` asks for no filtering at all.
    """
    from scipy import signal

    nyq = sfreq / 2.0
    parts = []
    l_freq, h_freq = cfg.l_freq, cfg.h_freq
    if h_freq is not None and h_freq >= nyq:
        raise NeurospellError(
            f"[preprocessing] h_freq ({h_freq} Hz) must be below the Nyquist frequency "
            f"({nyq:g} Hz) of data sampled at {sfreq:g} Hz. Lower h_freq or set it to None."
        )
    if l_freq is not None and l_freq >= nyq:
        raise NeurospellError(
            f"[preprocessing] l_freq ({l_freq} Hz) must be below the Nyquist frequency ({nyq:g} Hz)."
        )
    if l_freq is not None and h_freq is not None:
        parts.append(signal.butter(cfg.filter_order, [l_freq, h_freq], "bandpass", fs=sfreq, output="sos"))
    elif l_freq is not None:
        parts.append(signal.butter(cfg.filter_order, l_freq, "highpass", fs=sfreq, output="sos"))
    elif h_freq is not None:
        parts.append(signal.butter(cfg.filter_order, h_freq, "lowpass", fs=sfreq, output="sos"))
    if cfg.notch is not None:
        if cfg.notch >= nyq:
            logger.info("notch at %g Hz is above the Nyquist frequency (%g Hz): skipped", cfg.notch, nyq)
        else:
            b, a = signal.iirnotch(cfg.notch, NOTCH_Q, fs=sfreq)
            parts.append(signal.tf2sos(b, a))
    if not parts:
        return None
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def initial_state(sos: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Steady-state filter state for a constant input ``x0`` (shape (n_channels,)).

    Returns
    -------
    zi : array, shape (n_sections, n_channels, 2)
    """
    from scipy import signal

    return signal.sosfilt_zi(sos)[:, None, :] * np.asarray(x0, dtype=np.float64)[None, :, None]


def decimation_factor(cfg, sfreq: float) -> int:
    """Integer decimation factor from ``sfreq`` to ``cfg.resample_sfreq`` (1 when unset)."""
    if cfg.resample_sfreq is None or cfg.resample_sfreq == sfreq:
        return 1
    ratio = sfreq / cfg.resample_sfreq
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 1e-6 * ratio:
        divisors = [sfreq / d for d in range(1, 11) if float(sfreq / d).is_integer() or d == 1][:6]
        raise NeurospellError(
            f"[preprocessing] resample_sfreq ({cfg.resample_sfreq} Hz) must divide the sampling rate "
            f"({sfreq:g} Hz) by an integer for causal decimation; e.g. "
            f"{', '.join(f'{d:g}' for d in divisors)}. Change resample_sfreq or set it to None."
        )
    new = sfreq / k
    if cfg.h_freq is None or cfg.h_freq > new / 2:
        logger.warning(
            "Decimating %g Hz -> %g Hz with h_freq=%s: frequencies above %g Hz will alias. "
            "Set [preprocessing] h_freq below %g Hz.", sfreq, new, cfg.h_freq, new / 2, new / 2,
        )
    return k


def pick_channels(ch_names, ch_types, picks) -> np.ndarray:
    """Indices of ``picks`` (``"eeg"``, ``"all"``, a channel type, or a list of names)."""
    ch_names = list(ch_names)
    ch_types = list(ch_types) if ch_types is not None else ["eeg"] * len(ch_names)
    if picks is None or (isinstance(picks, str) and picks == "all"):
        return np.arange(len(ch_names))
    if isinstance(picks, str):
        idx = [i for i, t in enumerate(ch_types) if t == picks]
        if not idx:
            raise NeurospellError(
                f"picks={picks!r} selects no channel: the channel types are {sorted(set(ch_types))}. "
                "Pass picks='all' or a list of channel names."
            )
        return np.asarray(idx)
    names = [str(p) for p in picks]
    missing = [n for n in names if n not in ch_names]
    if missing:
        raise NeurospellError(f"picks names channels {missing} that are not in the data {ch_names}.")
    return np.asarray([ch_names.index(n) for n in names])


def reference_weights(cfg, ch_names) -> np.ndarray | None:
    """The reference as channel weights ``w`` (the reference signal is ``w @ x``), or ``None``.

    Parameters
    ----------
    cfg : PreprocessConfig
    ch_names : sequence of str
        The picked (EEG) channels the reference is computed over.
    """
    n = len(ch_names)
    ref = cfg.reference
    if isinstance(ref, str) and ref == "none":
        return None
    if isinstance(ref, str) and ref == "average":
        return np.full(n, 1.0 / n)
    missing = [r for r in ref if r not in ch_names]
    if missing:
        raise NeurospellError(
            f"[preprocessing] reference names channels {missing} that are not among the "
            f"picked channels {list(ch_names)}. Use 'average', 'none' or existing names."
        )
    w = np.zeros(n)
    for r in ref:
        w[list(ch_names).index(r)] = 1.0 / len(ref)
    return w


def reference_matrix(cfg, ch_names) -> np.ndarray | None:
    """Re-referencing as a matrix ``R`` (``R @ x``), or ``None`` for no change.

    Parameters
    ----------
    cfg : PreprocessConfig
    ch_names : sequence of str
        The picked (EEG) channels the reference is computed over.
    """
    w = reference_weights(cfg, ch_names)
    return None if w is None else np.eye(len(ch_names)) - w[None, :]


def apply_reference(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` minus the reference ``w @ x``, each sample on its own.

    The reference is summed channel by channel (element-wise operations, in channel order),
    so a sample's result does not depend on the samples processed with it: a stream filtered
    in chunks of any size gives the same values, bit for bit (a matrix product's blocking,
    and so its last-bit rounding, depends on the number of columns).

    Parameters
    ----------
    w : array, shape (n_channels,)
        From :func:`reference_weights`.
    x : array, shape (n_channels, n_samples)
    """
    ref = np.zeros(x.shape[1])
    for j in np.flatnonzero(w):
        ref += w[j] * x[j]
    return x - ref[None, :]
