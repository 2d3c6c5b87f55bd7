"""GDF (BioSig, OpenViBE) through MNE, and BCI2000 ``.dat`` files (:mod:`.bci2000`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError

from .bci2000 import p3speller_markers, read_bci2000
from .read_events import _marker_to_description, split_trials
from .read_mne import _read_mne

#: GDF data types (GDFTYP) MNE reads -> bytes per value.
_GDF_WIDTH = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 8, 8: 8, 16: 4, 17: 8}


def _read_gdf(path: Path):
    import mne

    _check_gdf_structure(path)
    if path.suffix.lower() != ".gdf":
        raise NeurospellError("it is a GDF file, but MNE reads GDF only from a file named *.gdf: rename it")
    raw = _read_mne(mne.io.read_raw_gdf, path)
    # GDF events are integer types: neurospell's codes (flash, target, trial) where they fit
    ann = raw.annotations
    desc = []
    for d in ann.description:
        mapped = _marker_to_description(int(d)) if str(d).isdigit() else d
        desc.append(mapped if mapped is not None else d)
    raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time))
    return raw


def _check_gdf_structure(path: Path) -> None:
    """GDF 1.x/2.x: header, data records and event table must all be in the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise NeurospellError(f"the GDF header is cut short ({size} bytes, the fixed header alone is 256)")
        try:
            version = float(head[4:8].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            version = None
        if not head.startswith(b"GDF ") or version is None:
            raise NeurospellError(f"it does not start with a GDF version ('GDF 2.20'), got {head[:8]!r}")
        if version < 1.9:
            n_header = int(np.frombuffer(head, "<i8", 1, 184)[0])
            n_signals = int(np.frombuffer(head, "<u4", 1, 252)[0])
        else:
            n_header = int(np.frombuffer(head, "<u2", 1, 184)[0]) * 256
            n_signals = int(np.frombuffer(head, "<u2", 1, 252)[0])
        n_records = int(np.frombuffer(head, "<i8", 1, 236)[0])
        if not 0 < n_signals <= 65535 or not 256 * (n_signals + 1) <= n_header <= size:
            raise NeurospellError(
                f"the GDF header is not valid or cut short ({n_signals} signals, a header of "
                f"{n_header} bytes, a file of {size})"
            )
        f.seek(256 + 216 * n_signals)  # samples per record, then data types, per channel
        spr = np.frombuffer(f.read(4 * n_signals), "<i4")
        types = np.frombuffer(f.read(4 * n_signals), "<i4")
        bad = sorted({int(t) for t in types} - set(_GDF_WIDTH))
        if bad:
            raise NeurospellError(f"GDF data type(s) {bad} cannot be decoded (supported: {sorted(_GDF_WIDTH)})")
        if np.any(spr < 0):
            raise NeurospellError("the GDF header is not valid (negative samples per record)")
        record = int(sum(int(n) * _GDF_WIDTH[int(t)] for n, t in zip(spr, types, strict=True)))
        if n_records < 0:
            raise NeurospellError(
                "the GDF header does not state the number of data records (-1: the recording was "
                "not closed)"
            )
        end = n_header + n_records * record
        if size < end:
            raise NeurospellError(
                f"the file is truncated: its header announces {n_records} data records ({end} bytes) "
                f"but it has {size} bytes"
            )
        if size == end:
            return
        f.seek(end)  # the event table: mode, count, then positions, types (, channels, durations)
        et = f.read(8)
        if len(et) < 8 or et[0] not in (1, 3):
            raise NeurospellError(f"the GDF event table at byte {end} is corrupt or cut short")
        n_ev = int.from_bytes(et[1:4], "little") if version >= 1.94 else int.from_bytes(et[4:8], "little")
        need = end + 8 + n_ev * (6 if et[0] == 1 else 12)
        if size < need:
            raise NeurospellError(
                f"the file is truncated: its event table announces {n_ev} events ({need} bytes) "
                f"but it has {size} bytes"
            )


def _read_bci2000(path: Path):
    import mne

    rec = read_bci2000(path)
    info = mne.create_info(rec.ch_names, rec.sfreq, "eeg")
    raw = mne.io.RawArray(rec.signal, info, verbose="error")
    samples, descs = p3speller_markers(rec, group_trials=split_trials, source=path.name)
    if len(samples):
        raw.set_annotations(mne.Annotations(samples / rec.sfreq, 0.0, descs))
    return raw
