"""XDF files (LabRecorder): the EEG stream and the marker streams, read with pyxdf."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.units import unit_scales

from .read_events import _marker_to_description


def _xdf_text(d, key, default=""):
    v = d.get(key, [default])
    if isinstance(v, list):
        v = v[0] if v else default
    return v if v is not None else default


def _xdf_channels(info, n_ch):
    names, types, units = [], [], []
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        chans = []
    stype = str(_xdf_text(info, "type", "EEG")).lower()
    for i in range(n_ch):
        c = chans[i] if i < len(chans) and isinstance(chans[i], dict) else {}
        names.append(str(_xdf_text(c, "label", "")) or f"Ch{i + 1}")
        t = str(_xdf_text(c, "type", "")).lower() or ("eeg" if stype == "eeg" else "misc")
        types.append(t if t in ("eeg", "eog", "ecg", "emg", "misc", "stim", "resp", "bio") else "misc")
        units.append(str(_xdf_text(c, "unit", "")).lower())
    return names, types, units


def _match_stream(streams, key):
    key_l = key.lower()
    hits = [s for s in streams if str(_xdf_text(s["info"], "name")).lower() == key_l]
    if not hits:
        hits = [s for s in streams if str(_xdf_text(s["info"], "type")).lower() == key_l]
    return hits


def _read_xdf(path: Path, *, eeg_stream=None, marker_stream=None):
    import mne
    import pyxdf

    _check_xdf_structure(path)
    try:
        streams, _ = pyxdf.load_xdf(str(path), verbose=False)
    except Exception as err:
        raise NeurospellError(f"pyxdf could not parse it ({type(err).__name__}: {err})") from None

    def srate(s):
        return float(_xdf_text(s["info"], "nominal_srate", "0") or 0)

    def desc(s):
        i = s["info"]
        return f"{_xdf_text(i, 'name')!r} (type {_xdf_text(i, 'type')!r}, {srate(s):g} Hz)"

    regular = [s for s in streams if srate(s) > 0 and len(s["time_stamps"])]
    if eeg_stream is not None:
        cands = _match_stream(regular, eeg_stream)
        if not cands:
            raise NeurospellError(
                f"no sampled stream named or typed {eeg_stream!r}; its streams are "
                f"{', '.join(desc(s) for s in streams) or 'none'}. Pass eeg_stream= one of those names"
            )
    else:
        cands = _match_stream(regular, "EEG") or sorted(
            regular, key=lambda s: -np.asarray(s["time_series"]).shape[1]
        )
        if not cands:
            raise NeurospellError(
                "it holds no sampled (EEG) stream with data; its streams are "
                f"{', '.join(desc(s) for s in streams) or 'none'}"
            )
    eeg = cands[0]
    if len(cands) > 1:
        logger.info("%s: several candidate EEG streams, using %s", path.name, desc(eeg))
    series = np.asarray(eeg["time_series"], dtype=np.float64)
    ts = np.asarray(eeg["time_stamps"], dtype=np.float64)
    sfreq = srate(eeg)
    names, types, units = _xdf_channels(eeg["info"], series.shape[1])
    scale = np.array(unit_scales(units))  # one table and one rule for every path (neurospell.units)
    if len(ts) > 1:
        eff = (len(ts) - 1) / (ts[-1] - ts[0]) if ts[-1] > ts[0] else np.inf
        if abs(eff - sfreq) > 0.01 * sfreq:
            logger.warning(
                "%s: stream %s has an effective rate of %.3f Hz vs nominal %g Hz (dropped samples?)",
                path.name, desc(eeg), eff, sfreq,
            )
    info = mne.create_info(names, sfreq, types)
    raw = mne.io.RawArray((series * scale).T, info, verbose="error")

    if marker_stream is None:
        markers = [s for s in streams if srate(s) == 0]
    else:
        keys = [marker_stream] if isinstance(marker_stream, str) else list(marker_stream)
        markers = []
        for k in keys:
            hits = _match_stream([s for s in streams if s is not eeg], k)
            if not hits:
                raise NeurospellError(
                    f"no marker stream named or typed {k!r}; its streams are "
                    f"{', '.join(desc(s) for s in streams)}. Pass marker_stream= one of those names"
                )
            markers.extend(h for h in hits if h not in markers)
    onsets, descs = [], []
    t0 = ts[0]
    for ms in markers:
        mts = np.asarray(ms["time_stamps"], dtype=np.float64)
        vals = ms["time_series"]
        for t, v in zip(mts, vals, strict=True):
            v0 = v[0] if isinstance(v, (list, tuple, np.ndarray)) and len(v) else v
            d = _marker_to_description(v0)
            if d is None:
                continue
            onset = t - t0
            if onset < -0.5 / sfreq or onset > (len(ts) - 0.5) / sfreq:
                logger.info("%s: marker %r at %.3f s lies outside the EEG data, skipped", path.name, d, onset)
                continue
            # snap to the nearest sample so integer-sample markers stay exact
            onsets.append(max(onset, 0.0))
            descs.append(d)
    if onsets:
        raw.set_annotations(mne.Annotations(onsets, 0.0, descs))
    return raw


def _check_xdf_structure(path: Path) -> None:
    """Walk the XDF chunk headers: a cut or corrupt container is an error, not partial data."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"XDF:":
            raise NeurospellError("it does not start with the XDF magic 'XDF:'")
        pos = 4
        n_chunks = 0
        headers: set = set()
        footers: set = set()
        while pos < size:
            nb = f.read(1)
            if not nb:
                break
            nlen = nb[0]
            if nlen not in (1, 4, 8):
                raise NeurospellError(f"corrupt chunk header at byte {pos} (length field of {nlen} bytes)")
            lb = f.read(nlen)
            if len(lb) < nlen:
                raise NeurospellError(f"the file is truncated inside the chunk header at byte {pos}")
            length = int.from_bytes(lb, "little")
            tag = f.read(2)
            if len(tag) < 2 or length < 2:
                raise NeurospellError(f"the file is truncated or corrupt at byte {pos}")
            tag_v = int.from_bytes(tag, "little")
            if tag_v not in (1, 2, 3, 4, 5, 6):
                raise NeurospellError(f"corrupt chunk at byte {pos} (unknown tag {tag_v})")
            end = pos + 1 + nlen + length
            if end > size:
                raise NeurospellError(
                    f"the file is truncated: a chunk at byte {pos} needs {end} bytes, the file has {size}"
                )
            if tag_v in (2, 6) and length >= 6:
                sid = int.from_bytes(f.read(4), "little")
                (headers if tag_v == 2 else footers).add(sid)
            f.seek(end)
            pos = end
            n_chunks += 1
        if n_chunks == 0:
            raise NeurospellError("it holds no XDF chunks")
        open_streams = sorted(headers - footers)
        if open_streams:
            raise NeurospellError(
                f"stream(s) {open_streams} have no StreamFooter: the file was cut short (an "
                "interrupted recording?), so its data may be incomplete"
            )
