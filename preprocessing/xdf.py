"""A small XDF writer (pyxdf only reads).

XDF (https://github.com/sccn/xdf/wiki/Specifications) is a sequence of chunks after the
magic ``XDF:``; each chunk is ``[n length bytes (1 byte: 1, 4 or 8)] [length] [tag
(uint16)] [content]`` where ``length`` counts the tag and the content. Tags: 1 FileHeader
(XML), 2 StreamHeader (stream id + XML), 3 Samples (stream id + samples), 4 ClockOffset
(stream id + collection time + offset, float64), 6 StreamFooter (stream id + XML).
All numbers are little-endian. Writing is deterministic: the same streams give the same
bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from neurospell.check import NeurospellError, check_fname

__all__ = ["XdfStream", "write_xdf"]

_FORMATS = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "string": None,
}


@dataclass
class XdfStream:
    """One stream to write.

    Parameters
    ----------
    name, stype : str
        Stream name and type (``"EEG"``, ``"Markers"``...).
    time_series : array, shape (n_samples, n_channels) | list of str
        Samples; for ``channel_format="string"`` a list of strings (one channel).
    time_stamps : array, shape (n_samples,)
        Seconds.
    nominal_srate : float
        Hz, 0 for irregular streams (markers).
    channel_format : str
        ``"float32"``, ``"double64"``, ``"int8/16/32/64"`` or ``"string"``.
    channels : list of dict
        Per-channel ``desc`` entries (``label``, ``type``, ``unit``).
    source_id : str
    chunk_size : int
        Samples per Samples chunk.
    stamp_all : bool
        Write every sample's timestamp (``True``), or, for regular streams, only the first
        of each chunk (readers then count on at ``1 / nominal_srate``; 8 bytes per sample less).
    """

    name: str
    stype: str
    time_series: object
    time_stamps: np.ndarray
    nominal_srate: float = 0.0
    channel_format: str = "float32"
    channels: list = field(default_factory=list)
    source_id: str = ""
    chunk_size: int = 1000
    stamp_all: bool = True


def _varlen(n: int) -> bytes:
    if n < 256:
        return bytes([1]) + struct.pack("<B", n)
    if n < 2**32:
        return bytes([4]) + struct.pack("<I", n)
    return bytes([8]) + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(s: XdfStream, n_ch: int) -> str:
    chans = "".join(
        "<channel>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in c.items()) + "</channel>"
        for c in s.channels
    )
    desc = f"<desc><channels>{chans}</channels></desc>" if chans else "<desc/>"
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(s.name)}</name><type>{escape(s.stype)}</type>"
        f"<channel_count>{n_ch}</channel_count><nominal_srate>{s.nominal_srate:.17g}</nominal_srate>"
        f"<channel_format>{s.channel_format}</channel_format>"
        f"<source_id>{escape(s.source_id or s.name)}</source_id><version>1.1</version>"
        "<created_at>0</created_at><uid>0</uid><session_id>default</session_id>"
        f"<hostname>neurospell</hostname>{desc}</info>"
    )


def write_xdf(fname, streams, *, overwrite: bool = False) -> Path:
    """Write ``streams`` (a list of :class:`XdfStream`) to an XDF file.

    With ``stamp_all`` every sample carries its own timestamp (float64); pyxdf's
    de-jittering of regular streams refits timestamps to a line, which leaves exactly
    regular timestamps unchanged up to rounding.

    Returns
    -------
    path : Path
    """
    path = check_fname(fname, "fname", must_exist=False, overwrite=overwrite)
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    prepared = []
    for sid, s in enumerate(streams, start=1):
        if s.channel_format not in _FORMATS:
            raise NeurospellError(
                f"XdfStream.channel_format must be one of {sorted(_FORMATS)}, got {s.channel_format!r}."
            )
        ts = np.asarray(s.time_stamps, dtype=np.float64).ravel()
        if s.channel_format == "string":
            values = [str(v[0] if isinstance(v, (list, tuple)) else v) for v in s.time_series]
            n_ch = 1
            if len(values) != ts.size:
                raise NeurospellError(f"stream {s.name!r}: {len(values)} values but {ts.size} timestamps.")
        else:
            values = np.asarray(s.time_series, dtype=_FORMATS[s.channel_format])
            if values.ndim == 1:
                values = values[:, None]
            n_ch = values.shape[1]
            if values.shape[0] != ts.size:
                raise NeurospellError(f"stream {s.name!r}: {values.shape[0]} samples but {ts.size} timestamps.")
        prepared.append((sid, s, ts, values, n_ch))
        out += _chunk(2, struct.pack("<I", sid) + _header_xml(s, n_ch).encode())
    for sid, s, ts, values, _n_ch in prepared:
        step = max(1, int(s.chunk_size))
        for a in range(0, ts.size, step):
            b = min(a + step, ts.size)
            body = bytearray(struct.pack("<I", sid))
            body += _varlen(b - a)
            if s.channel_format == "string":
                for i in range(a, b):
                    body += b"\x08" + struct.pack("<d", ts[i])
                    enc = values[i].encode("utf-8")
                    body += _varlen(len(enc)) + enc
            else:
                rec = np.empty(b - a, dtype=[("n", "u1"), ("t", "<f8"), ("x", values.dtype, (values.shape[1],))])
                if s.stamp_all or not s.nominal_srate:
                    rec["n"] = 8
                    rec["t"] = ts[a:b]
                    rec["x"] = values[a:b]
                    body += rec.tobytes()
                else:
                    first = np.empty(1, dtype=rec.dtype)
                    first["n"], first["t"], first["x"] = 8, ts[a], values[a]
                    rest = np.empty(b - a - 1, dtype=[("n", "u1"), ("x", values.dtype, (values.shape[1],))])
                    rest["n"] = 0
                    rest["x"] = values[a + 1:b]
                    body += first.tobytes() + rest.tobytes()
            out += _chunk(3, bytes(body))
    for sid, _s, ts, _values, _n_ch in prepared:
        # zero clock offsets at the start and end: all streams are on one clock
        for t in (ts[0], ts[-1]) if ts.size else ():
            out += _chunk(4, struct.pack("<Idd", sid, float(t), 0.0))
    for sid, _s, ts, _values, _n_ch in prepared:
        first = f"{ts[0]:.17g}" if ts.size else "0"
        last = f"{ts[-1]:.17g}" if ts.size else "0"
        xml = (
            f'<?xml version="1.0"?><info><first_timestamp>{first}</first_timestamp>'
            f"<last_timestamp>{last}</last_timestamp><sample_count>{ts.size}</sample_count>"
            "<clock_offsets/></info>"
        )
        out += _chunk(6, struct.pack("<I", sid) + xml.encode())
    with open(path, "wb") as f:
        f.write(bytes(out))
    return path
