"""Files in other tools' formats, written byte by byte from their specifications.

- :func:`write_bci2000`: BCI2000 ``.dat`` (file format 1.1, or 1.0 without ``BCI2000V``).
- :func:`write_gdf`: GDF 2.20 (BioSig/OpenViBE), with an event table.
- :func:`raw_to_p3speller_states`: a neurospell recording's flashes and trials as BCI2000
  P3Speller states (StimulusCode, StimulusType, PhaseInSequence).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np

_BCI_DTYPES = {"int16": "<i2", "int32": "<i4", "float32": "<f4"}


def write_bci2000(path, raw_counts, *, sfreq, states=None, parameters=(), ch_names=None,
                  gains=None, offsets=None, data_format="int16", version="1.1",
                  gain_unit="", state_order=None) -> Path:
    """Write a BCI2000 .dat file.

    raw_counts : array (n_channels, n_samples) of AD units; physical µV = (raw - offset) * gain.
    states : dict name -> (bit length, values array (n_samples,)).
    parameters : extra parameter lines (already formatted, without CRLF).
    """
    raw_counts = np.asarray(raw_counts)
    n_ch, n = raw_counts.shape
    states = dict(states or {})
    states = {"Running": (1, np.ones(n, np.int64)), **states}
    names = list(state_order or states)
    # pack the states into bytes, LSB first, bit positions in definition order
    defs, pos = [], 0
    for name in names:
        length, _ = states[name]
        defs.append((name, length, pos // 8, pos % 8))
        pos += length
    sv_len = (pos + 7) // 8
    bits = np.zeros((n, sv_len * 8), np.uint8)
    for name, length, byte, bit in defs:
        vals = np.asarray(states[name][1], np.int64)
        start = byte * 8 + bit
        for i in range(length):
            bits[:, start + i] = (vals >> i) & 1
    sv = np.packbits(bits, axis=1, bitorder="little")
    ch_names = ch_names or [f"Ch{i + 1}" for i in range(n_ch)]
    gains = np.ones(n_ch) if gains is None else np.asarray(gains, float)
    offsets = np.zeros(n_ch) if offsets is None else np.asarray(offsets, float)
    plines = [
        f"Source:Signal%20Properties:DataIOFilter int SourceCh= {n_ch} 16 1 % // number of channels",
        f"Source:Signal%20Properties:DataIOFilter int SamplingRate= {sfreq:g}Hz 256Hz 0.0 % // rate",
        "Source:Signal%20Properties:DataIOFilter floatlist SourceChGain= "
        + f"{n_ch} " + " ".join(f"{g:.10g}{gain_unit}" for g in gains) + " 0.033 % % // gains",
        "Source:Signal%20Properties:DataIOFilter floatlist SourceChOffset= "
        + f"{n_ch} " + " ".join(f"{o:g}" for o in offsets) + " 0 % % // offsets",
        "Source:Signal%20Properties:DataIOFilter list ChannelNames= "
        + f"{n_ch} " + " ".join(quote(c) for c in ch_names) + " // names",
        *parameters,
    ]
    body = "[ State Vector Definition ] \r\n"
    body += "".join(f"{name} {length} 0 {byte} {bit}\r\n" for name, length, byte, bit in defs)
    body += "[ Parameter Definition ] \r\n" + "".join(p + "\r\n" for p in plines) + "\r\n"
    fmt_txt = f" DataFormat= {data_format}" if version != "1.0" else ""
    ver_txt = f"BCI2000V= {version} " if version != "1.0" else ""

    def first(hl):
        return f"{ver_txt}HeaderLen= {hl:6d} SourceCh= {n_ch} StatevectorLen= {sv_len}{fmt_txt}\r\n"

    hl = len(first(0).encode()) + len(body.encode("latin-1"))
    header = (first(hl) + body).encode("latin-1")
    assert len(header) == hl
    dt = np.dtype(_BCI_DTYPES[data_format if version != "1.0" else "int16"])
    samples = raw_counts.T.astype(dt)
    rec = np.empty(n, dtype=[("sig", dt, (n_ch,)), ("sv", "u1", (sv_len,))])
    rec["sig"] = samples
    rec["sv"] = sv
    Path(path).write_bytes(header + rec.tobytes())
    return Path(path)


def raw_to_p3speller_states(raw, *, flash_samples=8, n_rows=6, n_cols=6):
    """StimulusCode / StimulusType / PhaseInSequence of a neurospell Raw's flashes and trials.

    neurospell codes 1..n_rows are rows and n_rows+1.. columns; BCI2000 numbers columns
    1..n_cols, then rows.
    """
    from neurospell.markers import parse_flash, parse_trial

    sf = raw.info["sfreq"]
    n = raw.n_times
    code = np.zeros(n, np.int64)
    stype = np.zeros(n, np.int64)
    phase = np.zeros(n, np.int64)
    t0 = raw.first_time if raw.annotations.orig_time is not None else 0.0
    trial_starts, flashes = [], []
    for on, d in zip(raw.annotations.onset - t0, raw.annotations.description, strict=True):
        s = int(round(on * sf))
        info = parse_flash(d)
        if info is not None and d.startswith("flash"):
            c = info.code
            bci = c + n_cols if c <= n_rows else c - n_rows
            flashes.append((s, bci, bool(info.target)))
        elif parse_trial(d) is not None:
            trial_starts.append(s)
    for s, bci, tgt in flashes:
        code[s:s + flash_samples] = bci
        stype[s:s + flash_samples] = int(tgt)
    trial_starts = sorted(trial_starts)
    fl = np.array(sorted(f[0] for f in flashes))
    for i, s in enumerate(trial_starts):
        end = trial_starts[i + 1] if i + 1 < len(trial_starts) else n
        inside = fl[(fl >= s) & (fl < end)]
        phase[s:end] = 3
        if len(inside):
            phase[s:inside[0]] = 1
            phase[inside[0]:inside[-1] + flash_samples] = 2
        else:
            phase[s:end] = 1
    return {"StimulusCode": (8, code), "StimulusType": (1, stype), "PhaseInSequence": (2, phase)}


# GDF 2.x ---------------------------------------------------------------------------------

_GDF_TYPES = {np.dtype("<i2"): 3, np.dtype("<i4"): 5, np.dtype("<f4"): 16, np.dtype("<f8"): 17}


def write_gdf(path, data_uv, *, sfreq, ch_names, events=(), record_samples=None, dtype="<i2",
              phys_range=(-3276.8, 3276.7), version="GDF 2.20", event_mode=1) -> Path:
    """Write a GDF 2.x file: channels in µV (unit code 4275), whole data records, events.

    data_uv : array (n_channels, n_samples), µV.
    events : sequence of (sample index from 0, type code).
    For integer types, phys_range maps linearly onto the type's digital range.
    """
    data_uv = np.asarray(data_uv, float)
    n_ch, n = data_uv.shape
    spr = int(record_samples or sfreq)
    n_rec = n // spr
    dt = np.dtype(dtype)
    if dt.kind == "i":
        info = np.iinfo(dt)
        dmin, dmax = float(info.min), float(info.max)
        pmin, pmax = phys_range
    else:
        dmin, dmax, pmin, pmax = -1.0, 1.0, -1.0, 1.0
    head = bytearray(256)
    head[0:8] = version.encode().ljust(8)
    head[8:74] = b"X X".ljust(66)
    head[88:152] = b"neurospell test".ljust(64)
    np.frombuffer(head, "<u2", 1, 184)[:] = 0  # placeholder, set below
    head[184:186] = np.array([n_ch + 1], "<u2").tobytes()
    head[236:244] = np.array([n_rec], "<i8").tobytes()
    head[244:252] = np.array([spr, int(sfreq)], "<u4").tobytes()
    head[252:254] = np.array([n_ch], "<u2").tobytes()

    def col(values, width):
        return b"".join(v.ljust(width)[:width] if isinstance(v, bytes) else v for v in values)

    var = col([c.encode() for c in ch_names], 16)
    var += b"\x00" * (80 * n_ch)  # transducer
    var += col([b"uV"] * n_ch, 6)  # physical dimension (obsolete)
    var += np.full(n_ch, 4275, "<u2").tobytes()  # µV
    var += np.full(n_ch, pmin, "<f8").tobytes() + np.full(n_ch, pmax, "<f8").tobytes()
    var += np.full(n_ch, dmin, "<f8").tobytes() + np.full(n_ch, dmax, "<f8").tobytes()
    var += b"\x00" * (68 * n_ch)
    var += np.zeros(3 * n_ch, "<f4").tobytes()  # lowpass, highpass, notch
    var += np.full(n_ch, spr, "<u4").tobytes()
    var += np.full(n_ch, _GDF_TYPES[dt], "<u4").tobytes()
    var += np.zeros(3 * n_ch, "<f4").tobytes()  # xyz
    var += b"\x00" * (20 * n_ch)  # impedance etc.
    assert len(var) == 256 * n_ch
    if dt.kind == "i":
        scale = (dmax - dmin) / (pmax - pmin)
        dig = np.round((data_uv - pmin) * scale + dmin).astype(dt)
    else:
        dig = data_uv.astype(dt)
    body = bytearray()
    for r in range(n_rec):
        for c in range(n_ch):
            body += dig[c, r * spr:(r + 1) * spr].tobytes()
    ev = b""
    if events:
        pos = np.array([e[0] + 1 for e in events], "<u4")  # 1-based
        typ = np.array([e[1] for e in events], "<u2")
        ne = len(events)
        ev = bytes([event_mode]) + ne.to_bytes(3, "little") + np.array([sfreq], "<f4").tobytes()
        ev += pos.tobytes() + typ.tobytes()
        if event_mode == 3:
            ev += np.zeros(ne, "<u2").tobytes() + np.ones(ne, "<u4").tobytes()
    Path(path).write_bytes(bytes(head) + var + bytes(body) + ev)
    return Path(path)


# BrainVision variants -----------------------------------------------------------------------

_BV_NP = {"INT_16": "<i2", "INT_32": "<i4", "IEEE_FLOAT_32": "<f4"}


def write_brainvision_variant(vhdr, values, *, sfreq, ch_names, binary_format="IEEE_FLOAT_32",
                              orientation="MULTIPLEXED", unit="µV", resolution=1.0,
                              data_points=None, crlf=True) -> Path:
    """A BrainVision triplet as an exporter writes it, from stored ``values``.

    values : array (n_channels, n_samples) of what the .eeg stores (physical = value *
    resolution, in ``unit``). ``data_points``: the DataPoints to state (default the truth).
    """
    vhdr = Path(vhdr)
    values = np.asarray(values)
    n_ch, n = values.shape
    arr = values.astype(_BV_NP[binary_format])
    blob = (arr.T if orientation == "MULTIPLEXED" else arr).tobytes()
    vhdr.with_suffix(".eeg").write_bytes(blob)
    nl = "\r\n" if crlf else "\n"
    chans = nl.join(f"Ch{i + 1}={c},,{resolution:g},{unit}" for i, c in enumerate(ch_names))
    text = nl.join([
        "Brain Vision Data Exchange Header File Version 2.0", "; exported for a test", "",
        "[Common Infos]", "Codepage=UTF-8", f"DataFile={vhdr.stem}.eeg", f"MarkerFile={vhdr.stem}.vmrk",
        "DataFormat=BINARY", f"DataOrientation={orientation}", "DataType=TIMEDOMAIN",
        f"NumberOfChannels={n_ch}", f"DataPoints={n if data_points is None else data_points}",
        f"SamplingInterval={1e6 / sfreq:g}", "", "[Binary Infos]", f"BinaryFormat={binary_format}", "",
        "[Channel Infos]", chans, "",
    ])
    vhdr.write_bytes(text.encode("utf-8"))
    vhdr.with_suffix(".vmrk").write_bytes(nl.join([
        "Brain Vision Data Exchange Marker File Version 2.0", "", "[Common Infos]", "Codepage=UTF-8",
        f"DataFile={vhdr.stem}.eeg", "", "[Marker Infos]", "Mk1=New Segment,,1,1,0", "",
    ]).encode("utf-8"))
    return vhdr
