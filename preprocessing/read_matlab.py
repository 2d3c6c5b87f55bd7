"""MATLAB files: g.tec's P300 recordings (``fs``, ``y``, ``trig``) and a strict MAT v5 reader."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.markers import flash_to_annotation, trial_to_annotation

from .read_events import split_trials

__all__ = ["gtec_to_raw", "read_mat_numeric", "GTEC_CH_NAMES"]

#: Usual electrode positions of g.tec's 8-channel P300 cap (unverified for the shared files).
GTEC_CH_NAMES = ("Fz", "Cz", "P3", "Pz", "P4", "PO7", "Oz", "PO8")


def gtec_to_raw(fs, y, trig, *, ch_names=GTEC_CH_NAMES):
    """Build a ``Raw`` from the g.tec P300 variables (``fs``, ``y`` in µV, ``trig`` ±1).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    y : array, shape (n_samples, n_channels)
        EEG in microvolts.
    trig : array, shape (n_samples,) or (n_samples, 1)
        ``+1`` at the onset of a target flash, ``-1`` at a non-target flash, ``0`` otherwise.
    ch_names : sequence of str
        Channel names (the usual g.tec P300 montage by default, unverified for the shared files).

    Returns
    -------
    raw : mne.io.RawArray
        EEG in volts; flashes as ``flash/0/target`` / ``flash/0/nontarget`` (their row or
        column is unknown) and one ``trial/<i>`` annotation per character, found at the
        long pauses between flash runs.
    """
    import mne

    fs = float(np.asarray(fs).ravel()[0])
    y = np.asarray(y, dtype=np.float64)
    trig = np.asarray(trig).ravel()
    if y.ndim != 2:
        raise NeurospellError(f"'y' must be a 2-D array (n_samples, n_channels), got shape {y.shape}")
    if trig.shape[0] != y.shape[0]:
        raise NeurospellError(f"'trig' has {trig.shape[0]} samples but 'y' has {y.shape[0]}")
    if not (np.isfinite(fs) and fs > 0):
        raise NeurospellError(f"'fs' must be a positive sampling rate, got {fs!r}")
    bad = set(np.unique(trig).tolist()) - {-1, 0, 1}
    if bad:
        raise NeurospellError(f"'trig' must hold only -1, 0, +1, got also {sorted(bad)[:5]}")
    n_ch = y.shape[1]
    names = list(ch_names) if len(ch_names) == n_ch else [f"EEG{i + 1}" for i in range(n_ch)]
    info = mne.create_info(names, fs, "eeg")
    raw = mne.io.RawArray(y.T * 1e-6, info, verbose="error")
    idx = np.flatnonzero(trig)
    onsets = idx / fs
    descs = [flash_to_annotation(0, bool(trig[i] > 0)) for i in idx]
    trials = split_trials(onsets)
    t_on, t_desc = [], []
    for t in np.unique(trials):
        t_on.append(onsets[np.flatnonzero(trials == t)[0]])
        t_desc.append(trial_to_annotation(int(t)))
    raw.set_annotations(mne.Annotations(np.r_[onsets, t_on], 0.0, descs + t_desc))
    return raw


def _read_gtec(path: Path):
    mat = read_mat_numeric(path)
    missing = [k for k in ("fs", "y", "trig") if k not in mat]
    if missing:
        raise NeurospellError(
            f"a g.tec P300 .mat file needs the variables fs, y, trig; missing {missing} "
            f"(the file has {sorted(mat)})"
        )
    return gtec_to_raw(mat["fs"], mat["y"], mat["trig"])


_MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MX_NUMERIC = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15}


def read_mat_numeric(path) -> dict:
    """The real numeric matrices of a MATLAB v5 .mat file, parsed with bounds checks.

    A small, strict reader (scipy's ``loadmat`` can crash the interpreter on corrupt
    files): every size is checked against the bytes that are there; other variable kinds
    (cells, structs, strings, sparse, complex) are skipped.

    Returns
    -------
    variables : dict of str -> array
        Column-major MATLAB arrays as NumPy arrays of their stored shape.
    """
    blob = Path(path).read_bytes()
    if len(blob) < 128:
        raise NeurospellError(f"the MAT-file header is cut short ({len(blob)} bytes, the header is 128)")
    if blob[:19] == b"MATLAB 7.3 MAT-file" or blob[512:520] == b"\x89HDF\r\n\x1a\n":
        raise NeurospellError("MATLAB v7.3 (HDF5) files are not supported; save with -v7 or -v6")
    if not blob.startswith(b"MATLAB 5.0 MAT-file"):
        raise NeurospellError("it is not a MATLAB 5 MAT-file (no 'MATLAB 5.0 MAT-file' header)")
    endian = blob[126:128]
    if endian not in (b"IM", b"MI"):
        raise NeurospellError(f"the MAT-file endian indicator is corrupt ({endian!r})")
    bo = "<" if endian == b"IM" else ">"
    out: dict = {}

    def tag(buf, pos):
        if pos + 8 > len(buf):
            raise NeurospellError(f"the MAT-file is truncated at byte {pos} (a data element header is cut)")
        a, b = np.frombuffer(buf, dtype=f"{bo}u4", count=2, offset=pos)
        if a >> 16:  # small data element: (nbytes << 16 | type), data in the next 4 bytes
            return int(a & 0xFFFF), int(a >> 16), pos + 4, pos + 8
        nbytes = int(b)
        start = pos + 8
        if start + nbytes > len(buf):
            raise NeurospellError(
                f"the MAT-file is truncated: an element at byte {pos} needs {nbytes} bytes, "
                f"{len(buf) - start} are left"
            )
        return int(a), nbytes, start, start + nbytes

    def matrix(buf):
        # array flags
        t, n, d0, d1 = tag(buf, 0)
        if t != 6 or n != 8:
            raise NeurospellError("corrupt MAT-file matrix (array flags)")
        flags = int(np.frombuffer(buf, dtype=f"{bo}u4", count=1, offset=d0)[0])
        cls, is_complex = flags & 0xFF, bool(flags & 0x0800)
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t != 5 or n % 4 or n == 0:
            raise NeurospellError("corrupt MAT-file matrix (dimensions)")
        dims = tuple(int(v) for v in np.frombuffer(buf, dtype=f"{bo}i4", count=n // 4, offset=d0))
        if any(v < 0 for v in dims):
            raise NeurospellError(f"corrupt MAT-file matrix (negative dimensions {dims})")
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t not in (1, 16):
            raise NeurospellError("corrupt MAT-file matrix (name)")
        name = bytes(buf[d0:d0 + n]).decode("ascii", errors="replace")
        if cls not in _MX_NUMERIC or is_complex:
            return name, None
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t not in _MI_DTYPES:
            raise NeurospellError(f"corrupt MAT-file matrix {name!r} (data type {t})")
        dt = np.dtype(_MI_DTYPES[t]).newbyteorder(bo)
        count = int(np.prod(dims)) if dims else 0
        if n != count * dt.itemsize:
            raise NeurospellError(
                f"corrupt MAT-file matrix {name!r}: {dims} needs {count * dt.itemsize} bytes, it stores {n}"
            )
        arr = np.frombuffer(buf, dtype=dt, count=count, offset=d0).reshape(dims, order="F")
        return name, arr.astype(arr.dtype.newbyteorder("="))

    pos = 128
    while pos < len(blob):
        t, n, d0, d1 = tag(blob, pos)
        if t == 15:  # miCOMPRESSED: one zlib-compressed element
            try:
                inner = zlib.decompress(blob[d0:d1])
            except zlib.error as err:
                raise NeurospellError(f"a compressed MAT-file element at byte {pos} is corrupt ({err})") from None
            it, _n, i0, i1 = tag(inner, 0)
            if it == 14:
                name, arr = matrix(inner[i0:i1])
                if arr is not None:
                    out[name] = arr
            pos = d1
        elif t == 14:
            name, arr = matrix(blob[d0:d1])
            if arr is not None:
                out[name] = arr
            pos = (d1 + 7) & ~7
        else:
            raise NeurospellError(f"unexpected MAT-file element type {t} at byte {pos} (corrupt file)")
    return out
