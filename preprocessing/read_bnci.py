"""BNCI Horizon 2020 data set 003-2015 (visual P300 row/column speller, Guger et al. 2009).

Each ``.mat`` file (MATLAB v5) holds one struct named after the file (``s6``, ...) with two
fields, ``train`` and ``test``, each an ``11 x n_samples`` float64 array:

- row 0: the time of each sample in seconds (256 Hz);
- rows 1-8: the EEG, raw with DC offsets, unit not stated (read as microvolts);
- row 9: the flashed group while a flash lasts, 0 between flashes: 1-6 = columns 1-6,
  7-12 = rows 1-6 of the 6 x 6 matrix;
- row 10: 1 while the flashed row or column holds the target symbol.

:func:`read_bnci` gives one ``Raw`` with both parts as two phrases of one session:
``train`` as ``phrase/calibration/<its text>``, then a gap, then ``test`` as
``phrase/test/<its text>``. One Raw (not two recordings) because this is the form of a
neurospell speller session (``neurospell demo --recording s6.mat`` calibrates on ``train``
and spells ``test``; ``neurospell replay s6.mat --decoder M`` decodes both phrases), while a
part selector (:data:`PARTS`, ``s6.mat:train`` / ``s6.mat:test`` on the command line, see
:mod:`neurospell.parts`) reads one part alone, so that ``neurospell train s6.mat:train`` and
``neurospell evaluate MODEL s6.mat:test`` train on one part and score the other.

The gap between the parts (:data:`GAP_S` seconds, annotated ``BAD_gap``) holds a straight
line from the last sample of ``train`` to the first of ``test``: the two parts were recorded
separately, and neurospell's causal filter runs over the whole recording, so a step between
them would ring into ``test``; ``BAD_gap`` keeps every epoch out of the gap.

Flash codes follow :mod:`neurospell.markers` for ``SpellerLayout.row_column()`` (code =
group index + 1, groups 0-5 rows, 6-11 columns): BNCI rows 7-12 -> codes 1-6, BNCI
columns 1-6 -> codes 7-12. Each character (a run of flashes between the long pauses) gets
``trial/<i>/<symbol>``, its symbol the one at its target row and column of
:data:`neurospell.types.DEFAULT_SYMBOLS` (A-Z, 1-9, space), numbered across the file
(``train`` 0-4, ``test`` 5-9 with either part alone too).

Channel names are an assumption: the source does not give the channel order; the data
set's montage is Fz Cz P3 Pz P4 PO7 Oz PO8 and the names are given in that order to rows
1-8 (stated in ``raw.info["description"]`` and in a log line).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.markers import flash_to_annotation, phrase_to_annotation, trial_to_annotation
from neurospell.types import DEFAULT_SYMBOLS
from neurospell.units import UNIT_SCALE

from .read_events import split_trials

__all__ = ["read_bnci", "is_bnci_mat", "BNCI_CH_NAMES", "PARTS", "GAP_S"]

#: Channel names given to EEG rows 1-8 (the data set's montage; the order is assumed).
BNCI_CH_NAMES = ("Fz", "Cz", "P3", "Pz", "P4", "PO7", "Oz", "PO8")
#: The parts of a file, in recording order, and the phrase kind each becomes.
PARTS = {"train": "calibration", "test": "test"}
#: Seconds of interpolated signal (annotated ``BAD_gap``) between ``train`` and ``test``.
GAP_S = 10.0
_N_ROWS = 11
_N_SIDE = 6  # 6 x 6 matrix
_ASSUMPTION = ("channel names assumed: Fz Cz P3 Pz P4 PO7 Oz PO8 in file order (the data set's "
               "montage; the source does not give the order)")


def is_bnci_mat(path) -> bool:
    """Whether ``path`` looks like a BNCI 003-2015 file: MATLAB v5 whose first variable is a
    struct with fields ``train`` and ``test``.

    Reads the first few hundred bytes only (decompressing at most 512 bytes of a compressed
    element) and never raises: any file it cannot make sense of is not one.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        if len(head) < 136 or not head.startswith(b"MATLAB 5.0 MAT-file") or head[126:128] not in (b"IM", b"MI"):
            return False
        bo = "<" if head[126:128] == b"IM" else ">"
        typ, nbytes = (int(v) for v in np.frombuffer(head, f"{bo}u4", 2, 128))
        if typ == 15:  # miCOMPRESSED
            elem = zlib.decompressobj().decompress(head[136:], 512)
        elif typ == 14:
            elem = head[128:]
        else:
            return False
        if len(elem) < 40 or int(np.frombuffer(elem, f"{bo}u4", 1, 0)[0]) != 14:
            return False
        flags = int(np.frombuffer(elem, f"{bo}u4", 1, 16)[0])
        if flags & 0xFF != 2:  # mxSTRUCT_CLASS
            return False
        return b"train\x00" in elem[:512] and b"test\x00" in elem[:512]
    except (OSError, ValueError, zlib.error):
        return False


def _load_struct(path: Path) -> tuple[str, dict]:
    """The struct's name and its ``train`` and ``test`` arrays, checked."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path, squeeze_me=False, struct_as_record=True)
    except NotImplementedError:
        raise NeurospellError("MATLAB v7.3 (HDF5) files are not supported; save with -v7") from None
    names = [k for k in mat if not k.startswith("__")]
    structs = [k for k in names if getattr(mat[k], "dtype", None) is not None and mat[k].dtype.names]
    if len(structs) != 1:
        raise NeurospellError(
            "a BNCI 003-2015 .mat file holds one struct with fields 'train' and 'test'; this file has "
            f"{len(structs)} structs among its variables {names}")
    st = mat[structs[0]]
    if st.size != 1:
        raise NeurospellError(f"the struct {structs[0]!r} must be 1 x 1, got shape {st.shape}")
    st = st.ravel()[0]
    missing = [p for p in PARTS if p not in st.dtype.names]
    if missing:
        raise NeurospellError(
            f"the struct {structs[0]!r} needs the fields 'train' and 'test'; missing {missing} "
            f"(it has {list(st.dtype.names)})")
    out = {}
    for part in PARTS:
        a = np.asarray(st[part])
        if a.dtype == object or a.ndim != 2 or a.shape[0] != _N_ROWS or a.shape[1] < 2:
            raise NeurospellError(
                f"{structs[0]}.{part} must be a numeric {_N_ROWS} x n_samples array (time, 8 EEG rows, "
                f"flashed group, target flag), got {a.dtype} of shape {a.shape}")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise NeurospellError(f"{structs[0]}.{part} holds NaN or infinite values (corrupt data)")
        out[part] = a
    return structs[0], out


def _sfreq(name: str, t: np.ndarray) -> float:
    dt = np.diff(t)
    step = float(np.median(dt))
    if not step > 0 or np.max(np.abs(dt - step)) > 0.01 * step:
        raise NeurospellError(
            f"{name}: row 0 (time in seconds) must rise by one constant step; steps range from "
            f"{dt.min():g} to {dt.max():g} s")
    return float(np.round(1.0 / step, 6))


def _flashes(name: str, group: np.ndarray, flag: np.ndarray):
    """Onset samples, neurospell codes and target flags of the flashes of one part."""
    bad = np.setdiff1d(np.unique(group), np.arange(13))
    if bad.size:
        raise NeurospellError(
            f"{name}: row 9 (flashed group) must hold 0 (no flash), 1-6 (columns) or 7-12 (rows), "
            f"got also {', '.join(f'{v:g}' for v in bad[:5])}")
    badf = np.setdiff1d(np.unique(flag), [0, 1])
    if badf.size:
        raise NeurospellError(f"{name}: row 10 (target flag) must hold 0 or 1, got also {', '.join(f'{v:g}' for v in badf[:5])}")
    g = group.astype(np.int64)
    prev = np.r_[0, g[:-1]]
    onsets = np.flatnonzero((g != 0) & (g != prev))
    if onsets.size == 0:
        raise NeurospellError(f"{name}: row 9 (flashed group) holds no flash")
    v = g[onsets]
    codes = np.where(v >= 7, v - 6, v + 6)  # rows 7-12 -> 1-6, columns 1-6 -> 7-12
    return onsets, codes, flag[onsets] > 0


def _symbols(name: str, codes, targets, trials, first_trial: int) -> list[str]:
    """The symbol of each character, from its target row and column; an error when the
    target flags of a character do not name exactly one row and one column."""
    out = []
    for t in np.unique(trials):
        tg = set(codes[(trials == t) & targets].tolist())
        rows = sorted(c for c in tg if c <= _N_SIDE)
        cols = sorted(c for c in tg if c > _N_SIDE)
        if len(rows) != 1 or len(cols) != 1:
            raise NeurospellError(
                f"{name}: character {int(t) - first_trial + 1} has target flashes on rows {rows} and columns "
                f"{[c - _N_SIDE for c in cols]} (neurospell codes {sorted(tg)}); a character's target flashes "
                "must be exactly one row and one column (the target flags of this file are inconsistent)")
        out.append(DEFAULT_SYMBOLS[(rows[0] - 1) * _N_SIDE + (cols[0] - _N_SIDE - 1)])
    return out


def read_bnci(path, part: str | None = None):
    """Read a BNCI Horizon 2020 003-2015 file into an MNE ``Raw`` with speller annotations.

    Parameters
    ----------
    path : path-like
        The ``.mat`` file (``s6.mat``, ...).
    part : ``"train"`` | ``"test"`` | None
        One part alone; ``None`` (default) reads both as two phrases with a ``BAD_gap``
        between them.

    Returns
    -------
    raw : mne.io.RawArray
        8 EEG channels named Fz Cz P3 Pz P4 PO7 Oz PO8 (an assumption: the source does not
        give the order), in volts (the file's values read as microvolts), at the file's rate
        (256 Hz); annotations ``flash/<code>/target|nontarget`` at each flash onset (row 9
        turning non-zero), ``trial/<i>/<symbol>`` one sample before each character's first
        flash (as a live session marks a trial before it flashes),
        ``phrase/calibration/<text>`` (``train``) and ``phrase/test/<text>`` (``test``) at the
        start of each part, ``BAD_gap`` between the parts.
    """
    import mne

    path = Path(path)
    if part is not None and part not in PARTS:
        raise NeurospellError(f"part must be one of {list(PARTS)} or None, got {part!r}")
    struct, arrays = _load_struct(path)
    parts = list(PARTS) if part is None else [part]
    sfreqs = {p: _sfreq(f"{struct}.{p}", arrays[p][0]) for p in PARTS}
    if len(set(sfreqs.values())) != 1:
        raise NeurospellError(f"the parts have different sampling rates: {sfreqs}")
    sfreq = sfreqs["train"]
    chunks, onsets, descs = [], [], []
    start, n_trials, n_gap = 0, 0, int(round(GAP_S * sfreq))
    for p in PARTS:
        a = arrays[p]
        fl_on, codes, targets = _flashes(f"{struct}.{p}", a[9], a[10])
        trials = split_trials(fl_on / sfreq) + n_trials
        symbols = _symbols(f"{struct}.{p}", codes, targets, trials, n_trials)
        n_trials = int(trials.max()) + 1
        if p not in parts:
            continue
        if chunks:  # the gap: a straight line from the last sample before to the first after
            last, first = chunks[-1][:, -1:], a[1:9, :1]
            chunks.append(last + (first - last) * np.arange(1, n_gap + 1) / (n_gap + 1))
            onsets.append(start / sfreq)
            descs.append("BAD_gap")
            start += n_gap
        chunks.append(a[1:9])
        onsets.append(start / sfreq)
        descs.append(phrase_to_annotation(PARTS[p], "".join(symbols)))
        on_s = (start + fl_on) / sfreq
        for t, sym in zip(np.unique(trials), symbols, strict=True):  # one sample before its first flash
            onsets.append(max(start / sfreq, float(on_s[trials == t][0]) - 1 / sfreq))
            descs.append(trial_to_annotation(int(t), sym))
        onsets += on_s.tolist()
        descs += [flash_to_annotation(int(c), bool(t)) for c, t in zip(codes, targets, strict=True)]
        logger.info("%s %s: %d flashes (%d targets), %d characters %r", path.name, p, len(fl_on),
                    int(targets.sum()), len(symbols), "".join(symbols))
        start += a.shape[1]
    durations = [n_gap / sfreq if d == "BAD_gap" else 0.0 for d in descs]
    info = mne.create_info(list(BNCI_CH_NAMES), sfreq, "eeg")
    info["description"] = f"BNCI Horizon 2020 003-2015 {struct} ({'+'.join(parts)}); {_ASSUMPTION}"
    raw = mne.io.RawArray(np.concatenate(chunks, axis=1) * UNIT_SCALE["uv"], info, verbose="error")
    raw.set_annotations(mne.Annotations(onsets, durations, descs))
    logger.info("%s: %s", path.name, _ASSUMPTION)
    return raw
