"""BCI2000 ``.dat`` files: a small, bounds-checked reader of the documented format.

The format (BCI2000 file format, versions 1.0 and 1.1):

- a first text line ``[BCI2000V= 1.1 ]HeaderLen= N SourceCh= C StatevectorLen= S
  [DataFormat= int16|int32|float32]`` (version 1.0 has no ``BCI2000V`` and is int16);
- the ``[ State Vector Definition ]`` section: one line per state,
  ``Name Length Value ByteLocation BitLocation``;
- the ``[ Parameter Definition ]`` section: one line per parameter,
  ``Section DataType Name= Value ... // comment`` with URL-style escapes (``%20``);
- after ``HeaderLen`` bytes, the samples: each is ``C`` little-endian values of
  ``DataFormat`` followed by the ``S``-byte state vector (bits numbered from the first
  byte's least significant bit; a state's value is stored least significant bit first).

Signals in µV are ``(raw - SourceChOffset) * SourceChGain``. The maintained readers on the
registry (BCI2000Tools, BCI2kReader) are GPL-licensed, which neurospell (BSD) cannot depend
on, hence this reader. :func:`p3speller_markers` turns the P3Speller states into neurospell's
flash and trial annotations (:mod:`neurospell.markers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.markers import MAX_FLASH_CODE, flash_to_annotation, trial_to_annotation
from neurospell.types import DEFAULT_SYMBOLS

__all__ = ["Bci2000File", "read_bci2000", "p3speller_markers"]

_DTYPES = {"int16": "<i2", "int32": "<i4", "float32": "<f4"}
_UNITS = {"": 1e-6, "muv": 1e-6, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "mv": 1e-3, "v": 1.0, "nv": 1e-9}
_MAX_HEADER = 64 * 2**20  # a header is text; anything larger is a corrupt length field


@dataclass
class Bci2000File:
    """The content of a BCI2000 ``.dat`` file.

    Attributes
    ----------
    signal : array, shape (n_channels, n_samples)
        Volts (``(raw - SourceChOffset) * SourceChGain``, gains in µV unless they carry a unit).
    sfreq : float
        ``SamplingRate`` in Hz.
    ch_names : list of str
        ``ChannelNames``, or ``Ch1``... when the file has none.
    states : dict of str -> array of int64, shape (n_samples,)
    parameters : dict of str -> list of str
        Every parameter's values as strings, unescaped (lists without their count).
    version : str
    data_format : str
    """

    signal: np.ndarray
    sfreq: float
    ch_names: list
    states: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    version: str = "1.0"
    data_format: str = "int16"


def _first_line(blob: bytes) -> dict:
    end = blob.find(b"\n", 0, 4096)
    if end < 0:
        raise NeurospellError("it has no BCI2000 header line (HeaderLen= ... SourceCh= ...)")
    line = blob[:end].decode("latin-1")
    fields = dict(re.findall(r"(\w+)=\s*(\S+)", line))
    if "HeaderLen" not in fields or "SourceCh" not in fields or "StatevectorLen" not in fields:
        raise NeurospellError(
            f"its first line is not a BCI2000 header line (needs HeaderLen=, SourceCh=, "
            f"StatevectorLen=; got {line[:80]!r})"
        )
    return fields


def _int_field(fields, key, lo, hi):
    try:
        v = int(fields[key])
    except ValueError:
        raise NeurospellError(f"the header field {key}={fields[key]!r} is not an integer") from None
    if not lo <= v <= hi:
        raise NeurospellError(f"the header field {key}={v} is out of range [{lo}, {hi}] (corrupt header)")
    return v


def _dim(tokens: list[str]) -> tuple[int, list[str]] | None:
    """A list or matrix dimension, a count or ``{ labels }``: (size, the tokens after it)."""
    if not tokens:
        return None
    if tokens[0] == "{":
        if "}" not in tokens:
            return None
        close = tokens.index("}")
        return close - 1, tokens[close + 1:]
    try:
        return max(int(tokens[0]), 0), tokens[1:]
    except ValueError:
        return None


def _parse_values(tokens: list[str], dtype: str) -> list[str]:
    """A parameter's values; lists drop their count, matrices their two dimensions (values
    row by row)."""
    n = None
    if dtype.endswith("list") or dtype == "matrix":
        first = _dim(tokens)
        second = _dim(first[1]) if first is not None and dtype == "matrix" else None
        if first is None or (dtype == "matrix" and second is None):
            return []
        n, tokens = (first if dtype != "matrix" else (first[0] * second[0], second[1]))
    vals = tokens if n is None else tokens[:n]
    return [unquote(t) if t != "%" else "" for t in vals]


def _parse_header(text: str, state_len: int):
    states, params = {}, {}
    section = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("["):
            name = line.strip("[] ").lower()
            section = "state" if name.startswith("state vector") else (
                "param" if name.startswith("parameter") else None)
            continue
        if section == "state":
            parts = line.split()
            if len(parts) < 5:
                raise NeurospellError(f"a state definition is incomplete: {line[:80]!r}")
            try:
                length, _value, byte, bit = (int(p) for p in parts[1:5])
            except ValueError:
                raise NeurospellError(f"a state definition is not numeric: {line[:80]!r}") from None
            if not (1 <= length <= 32 and 0 <= bit < 8 and byte >= 0
                    and byte * 8 + bit + length <= state_len * 8):
                raise NeurospellError(
                    f"the state {parts[0]!r} (length {length} at byte {byte}, bit {bit}) does not fit "
                    f"the {state_len}-byte state vector (corrupt header)"
                )
            states[parts[0]] = (length, byte, bit)
        elif section == "param":
            body = line.split("//", 1)[0].split()
            if len(body) < 3 or not body[2].endswith("="):
                continue
            params[body[2][:-1]] = _parse_values(body[3:], body[1].lower())
    return states, params


def _number(text: str, what: str, *, unit_scale: dict | None = None):
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµμ]*)\s*", text)
    if not m:
        raise NeurospellError(f"the parameter {what}={text!r} is not a number")
    value, unit = float(m.group(1)), m.group(2)
    if unit_scale is None:
        return value
    if unit.lower() not in unit_scale:
        raise NeurospellError(f"the parameter {what}={text!r} has a unit neurospell does not know")
    return value * unit_scale[unit.lower()]


def _state_values(vec: np.ndarray, length: int, byte: int, bit: int) -> np.ndarray:
    n_bytes = (bit + length + 7) // 8
    acc = np.zeros(vec.shape[0], dtype=np.uint64)
    for k in range(n_bytes):
        acc |= vec[:, byte + k].astype(np.uint64) << np.uint64(8 * k)
    return ((acc >> np.uint64(bit)) & np.uint64((1 << length) - 1)).astype(np.int64)


def read_bci2000(path) -> Bci2000File:
    """Read a BCI2000 ``.dat`` file, checking every size against the bytes that are there.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    rec : Bci2000File
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        fields = _first_line(f.read(4096))
        header_len = _int_field(fields, "HeaderLen", 1, min(size, _MAX_HEADER))
        n_ch = _int_field(fields, "SourceCh", 1, 65535)
        state_len = _int_field(fields, "StatevectorLen", 0, 65535)
        data_format = fields.get("DataFormat", "int16").lower()
        if data_format not in _DTYPES:
            raise NeurospellError(
                f"DataFormat={data_format} cannot be decoded (BCI2000 data are int16, int32 or float32)"
            )
        f.seek(0)
        text = f.read(header_len).decode("latin-1")
        body = np.fromfile(f, dtype=np.uint8)
    states_def, params = _parse_header(text, state_len)
    dt = np.dtype(_DTYPES[data_format])
    frame = n_ch * dt.itemsize + state_len
    n, rest = divmod(body.size, frame)
    if rest:
        raise NeurospellError(
            f"its data ({body.size} bytes after the {header_len}-byte header) are not a whole number "
            f"of samples ({n_ch} {data_format} channels + {state_len} state bytes = {frame} bytes "
            "each): the file is truncated or corrupt"
        )
    rows = body.reshape(n, frame)
    raw = rows[:, : n_ch * dt.itemsize].copy().view(dt).reshape(n, n_ch).T.astype(np.float64)
    vec = rows[:, n_ch * dt.itemsize:]
    states = {name: _state_values(vec, *spec) for name, spec in states_def.items()}

    if "SamplingRate" not in params or not params["SamplingRate"]:
        raise NeurospellError("the header has no SamplingRate parameter")
    sfreq = _number(params["SamplingRate"][0], "SamplingRate", unit_scale={"": 1.0, "hz": 1.0, "khz": 1e3})
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise NeurospellError(f"SamplingRate={sfreq} is not a positive rate")

    def per_channel(name, default, unit_scale=None):
        vals = params.get(name)
        if vals is None:
            logger.warning("%s: no %s parameter; using %s for every channel", path.name, name,
                           "1 µV per unit" if name == "SourceChGain" else f"{default:g}")
            return np.full(n_ch, default)
        if len(vals) < n_ch:
            raise NeurospellError(f"the parameter {name} has {len(vals)} values for {n_ch} channels")
        return np.array([_number(v, name, unit_scale=unit_scale) for v in vals[:n_ch]])

    gain = per_channel("SourceChGain", 1e-6, _UNITS)  # volts per AD unit
    offset = per_channel("SourceChOffset", 0.0)
    signal = (raw - offset[:, None]) * gain[:, None]
    names = params.get("ChannelNames") or []
    if len(names) != n_ch or len(set(names)) != n_ch or not all(names):
        names = [f"Ch{i + 1}" for i in range(n_ch)]
    return Bci2000File(signal, float(sfreq), list(names), states, params,
                       fields.get("BCI2000V", "1.0"), data_format)


def _rising(x: np.ndarray) -> np.ndarray:
    """Samples where ``x`` becomes non-zero or changes to another non-zero value."""
    prev = np.r_[0, x[:-1]]
    return np.flatnonzero((x != 0) & (x != prev))


def p3speller_markers(rec: Bci2000File, *, group_trials=None, source: str = "") -> tuple[np.ndarray, list[str]]:
    """neurospell annotations from the P3Speller states of a BCI2000 recording.

    - a flash starts where ``StimulusCode`` becomes non-zero; BCI2000 numbers columns
      ``1..NumMatrixColumns`` then rows, neurospell rows first (:meth:`SpellerLayout.row_column`),
      so codes are converted: ``flash/<code>/target`` when ``StimulusType`` is 1, else
      ``flash/<code>/nontarget``;
    - a trial (character) starts where ``PhaseInSequence`` becomes 1 (pre-sequence); without
      that state, at the long pauses between flashes; its symbol comes from the
      ``TextToSpell`` parameter when it has one symbol per trial, otherwise from the target
      row and column in the ``Targets`` matrix (or the default 6x6 grid).

    Parameters
    ----------
    rec : Bci2000File
    group_trials : callable ``(onsets_s) -> trial index per flash`` | None
        Without ``PhaseInSequence``: how flashes are grouped into trials (e.g.
        :func:`neurospell.preprocessing.split_trials`); ``None`` adds no trial markers.
    source : str
        The file name, for log messages.

    Returns
    -------
    samples : array of int, shape (n_annotations,)
    descriptions : list of str
    """
    code = rec.states.get("StimulusCode")
    if code is None:
        logger.info("%s: no StimulusCode state (not a P3Speller/stimulus session): no flash markers", source)
        return np.zeros(0, np.int64), []
    stype = rec.states.get("StimulusType")
    p = rec.parameters

    def int_param(name, default):
        try:
            return int(_number(p[name][0], name)) if p.get(name) else default
        except NeurospellError:
            return default

    n_rows, n_cols = int_param("NumMatrixRows", 6), int_param("NumMatrixColumns", 6)
    onsets = _rising(code)
    bci_codes = code[onsets]
    row_col = bool(len(bci_codes)) and int(bci_codes.max()) <= n_rows + n_cols
    if row_col:
        codes = np.where(bci_codes <= n_cols, n_rows + bci_codes, bci_codes - n_cols)
    else:
        logger.warning("%s: stimulus codes up to %d exceed the %dx%d matrix; kept as they are",
                       source, int(bci_codes.max()) if len(bci_codes) else 0, n_rows, n_cols)
        codes = bci_codes
    if len(codes) and int(codes.max()) > MAX_FLASH_CODE:
        raise NeurospellError(f"stimulus codes up to {int(codes.max())} exceed neurospell's {MAX_FLASH_CODE}")
    targets = None if stype is None else stype[onsets] == 1
    samples = list(onsets)
    descs = [flash_to_annotation(int(c), None if targets is None else bool(t))
             for c, t in zip(codes, targets if targets is not None else [None] * len(codes), strict=True)]

    # trials
    phase = rec.states.get("PhaseInSequence")
    starts = np.zeros(0, np.int64)
    if phase is not None:
        starts = np.flatnonzero((phase == 1) & (np.r_[0, phase[:-1]] != 1))
    if len(starts):
        idx = np.searchsorted(starts, onsets, side="right") - 1
        keep = np.unique(idx[idx >= 0])  # trials with flashes
        trial_of = {int(k): i for i, k in enumerate(keep)}
        t_samples = starts[keep]
        flash_trial = np.array([trial_of.get(int(i), -1) for i in idx])
    elif group_trials is not None and len(onsets):
        tr = np.asarray(group_trials(onsets / rec.sfreq))
        t_samples = np.array([onsets[np.flatnonzero(tr == t)[0]] for t in np.unique(tr)], dtype=np.int64)
        flash_trial = tr
    else:
        t_samples, flash_trial = np.zeros(0, np.int64), np.full(len(onsets), -1)
    n_trials = len(t_samples)
    symbols = _trial_symbols(rec, n_trials, flash_trial, codes, targets, n_rows, n_cols,
                             DEFAULT_SYMBOLS, row_col, source)
    for i, s in enumerate(t_samples):
        samples.append(int(s))
        descs.append(trial_to_annotation(i, symbols[i]))
    return np.asarray(samples, dtype=np.int64), descs


def _trial_symbols(rec, n_trials, flash_trial, codes, targets, n_rows, n_cols, default, row_col, source):
    text = "".join(rec.parameters.get("TextToSpell") or [])
    if text and len(text) == n_trials:
        return [" " if c == "_" else c for c in text]
    if text:
        logger.info("%s: TextToSpell has %d symbols for %d trials; symbols taken from the targets",
                    source, len(text), n_trials)
    out = [None] * n_trials
    if targets is None or not row_col:
        return out
    grid = list(default) if n_rows * n_cols == len(default) else None
    cells = rec.parameters.get("Targets")
    if cells and n_rows * n_cols and len(cells) % (n_rows * n_cols) == 0:
        # matrix "Targets": one row per cell of the grid, row by row; columns Display, Enter, ...
        n_fields = len(cells) // (n_rows * n_cols)
        grid = [cells[i * n_fields] for i in range(n_rows * n_cols)]
    if grid is None:
        return out
    for t in range(n_trials):
        tc = set(codes[(flash_trial == t) & targets].tolist())
        rows = [c for c in tc if 1 <= c <= n_rows]
        cols = [c - n_rows for c in tc if n_rows < c <= n_rows + n_cols]
        if len(rows) == 1 and len(cols) == 1:
            sym = grid[(rows[0] - 1) * n_cols + cols[0] - 1]
            out[t] = " " if sym in ("_", "") else sym
    return out
