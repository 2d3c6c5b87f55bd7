"""A crash-safe, append-only recording format (numpy + json; no MNE at import).

A recording is a folder ``NAME.nsraw/`` holding three files:

``header.json``
    Written once, atomically, before the first sample::

        {"format": "neurospell-rawlog", "version": 1, "ch_names": [...], "ch_types": [...],
         "sfreq": 250.0, "n_channels": 16, "start_unix": 1764330000.0,
         "start_lsl": 12345.678, "source": {...}}

    ``start_unix`` and ``start_lsl`` are read together, so that an LSL time ``t`` is Unix
    time ``t - start_lsl + start_unix``.
``samples.bin``
    Append-only little-endian records, one per sample: a float64 timestamp (seconds, LSL
    clock) followed by ``n_channels`` float32 values (volts for EEG). Record size
    ``8 + 4 * n_channels`` bytes. A truncated last record (the writer was killed) is ignored.
``events.jsonl``
    Append-only, one JSON object per line: markers
    ``{"type": "marker", "t": <LSL s>, "code": <int>, "label": <str>}`` and acquisition
    gaps ``{"type": "gap", "t": <LSL s>, "n_samples": <int>, "duration": <s>,
    "sample_index": <int>, "kind": "missing"|"lost"|"ended"}`` (``"ended"``: the stream
    stopped delivering before the recording ended). A truncated last line is ignored.

The writer flushes and ``fsync``\\ s both data files at least every ``flush_interval``
seconds (default 0.5 s), so a ``kill -9`` loses at most that much. :func:`read_rawlog`
opens complete and partial recordings alike; :func:`rawlog_to_raw` turns one into an
:class:`mne.io.RawArray` with the markers as annotations, :func:`rawlog_to_fif` into a FIF
file.

**Recovering a recording after a crash** (``kill -9``, power cut, full disk): the folder
left next to the intended FIF holds everything fsynced before the crash. Convert it with
``neurospell recover NAME.nsraw --out NAME_raw.fif`` (or :func:`rawlog_to_fif`), or read it
directly with ``neurospell.preprocessing.load_recording("NAME.nsraw")``. Nothing in
neurospell deletes a crash copy silently: ``neurospell record --overwrite`` moves an
existing one aside and says where.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .check import NeurospellError, check_fname
from .logs import logger, use_log_level
from .lsl import local_clock
from .markers import flash_to_annotation, marker_to_annotation, parse_flash

FORMAT = "neurospell-rawlog"
VERSION = 1
SUFFIX = ".nsraw"
HEADER, SAMPLES, EVENTS = "header.json", "samples.bin", "events.jsonl"
#: Annotation description of an acquisition gap.
GAP_ANNOTATION = "BAD_gap"


def _record_dtype(n_channels: int) -> np.dtype:
    return np.dtype([("t", "<f8"), ("x", "<f4", (n_channels,))])


class RawLogWriter:
    """Append samples and events to a rawlog folder, durable every ``flush_interval`` seconds.

    Parameters
    ----------
    path : path-like
        The ``.nsraw`` folder to create (must not exist, or be an empty folder).
    ch_names, ch_types : sequence of str
    sfreq : float
        Hz.
    source : dict | None
        JSON-able description of where the data came from.
    flush_interval : float
        Maximum seconds between ``fsync`` calls (> 0).
    """

    def __init__(self, path, ch_names, ch_types, sfreq, *, source=None, start_lsl=None, flush_interval=0.5):
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise FileExistsError(f"path: {str(path)!r} exists and is not an empty folder; choose another output path.")
        check_fname(path, "path", must_exist=False)
        path.mkdir(exist_ok=True)
        self.path = path
        self.n_channels = len(ch_names)
        self.flush_interval = float(flush_interval)
        self._dtype = _record_dtype(self.n_channels)
        if start_lsl is None:
            start_lsl = local_clock()
        header = {
            "format": FORMAT, "version": VERSION, "ch_names": list(map(str, ch_names)),
            "ch_types": list(map(str, ch_types)), "sfreq": float(sfreq), "n_channels": self.n_channels,
            "start_unix": time.time(), "start_lsl": float(start_lsl), "source": source or {},
        }
        tmp = path / (HEADER + ".tmp")
        with open(tmp, "w") as f:
            json.dump(header, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path / HEADER)
        self._samples = open(path / SAMPLES, "ab")
        self._events = open(path / EVENTS, "a", encoding="utf-8")
        _fsync_dir(path)
        self._last_sync = time.monotonic()
        self.n_samples = 0

    def write_samples(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append ``data`` (n_channels, n) and ``timestamps`` (n,)."""
        rec = np.empty(data.shape[1], dtype=self._dtype)
        rec["t"] = timestamps
        rec["x"] = data.T
        self._samples.write(rec.tobytes())
        self.n_samples += data.shape[1]
        self._maybe_sync()

    def write_event(self, event: dict) -> None:
        """Append one event (a JSON-able dict with at least ``type`` and ``t``)."""
        self._events.write(json.dumps(event) + "\n")
        self._maybe_sync()

    def _maybe_sync(self) -> None:
        if time.monotonic() - self._last_sync >= self.flush_interval:
            self.sync()

    def sync(self) -> None:
        """Flush and fsync both files now."""
        for f in (self._samples, self._events):
            f.flush()
            os.fsync(f.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Sync and close both files (closed even when the last sync fails, e.g. on a full disk)."""
        if self._samples.closed:
            return
        try:
            self.sync()
        finally:
            for f in (self._samples, self._events):
                try:
                    f.close()
                except OSError:
                    pass  # the sync above raised the same error; what is on disk stays readable


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class RawLog(NamedTuple):
    """What :func:`read_rawlog` returns.

    data : array, shape (n_channels, n_samples), float64 (volts for EEG)
    timestamps : array, shape (n_samples,), LSL seconds
    markers : list of dict ``{"t", "code", "label"}``
    header : dict (plus ``"gaps"``: list of gap dicts, ``"truncated"``: bool)
    """

    data: np.ndarray
    timestamps: np.ndarray
    markers: list
    header: dict


def is_rawlog(path) -> bool:
    """Whether ``path`` is a rawlog folder."""
    return (Path(path) / HEADER).is_file()


def read_rawlog(path) -> RawLog:
    """Read a rawlog folder, complete or cut short by a crash.

    Parameters
    ----------
    path : path-like
        The ``.nsraw`` folder.

    Returns
    -------
    rawlog : RawLog
        ``(data, timestamps, markers, header)``.
    """
    path = check_fname(path, "path")
    hfile = path / HEADER
    if not hfile.is_file():
        raise NeurospellError(
            f"path: {str(path)!r} is not a neurospell recording folder (no {HEADER}); pass the "
            f"'{SUFFIX}' folder written by `neurospell record`."
        )
    try:
        header = json.loads(hfile.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NeurospellError(
            f"path: {str(hfile)!r} is damaged or not a neurospell recording header ({type(err).__name__}: "
            f"{err}). It is written whole before the first sample, so the folder was changed afterwards or is "
            f"no '{SUFFIX}' folder of `neurospell record`: pass an intact one (or restore {HEADER} from a backup)."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NeurospellError(f"path: {str(hfile)!r} is not a {FORMAT} header; pass the '{SUFFIX}' folder "
                              "written by `neurospell record`.")
    n_ch = int(header["n_channels"])
    dtype = _record_dtype(n_ch)
    raw_bytes = (path / SAMPLES).read_bytes() if (path / SAMPLES).exists() else b""
    n = len(raw_bytes) // dtype.itemsize
    truncated = len(raw_bytes) != n * dtype.itemsize
    rec = np.frombuffer(raw_bytes, dtype=dtype, count=n)
    data = rec["x"].T.astype(np.float64) if n else np.zeros((n_ch, 0))
    ts = rec["t"].astype(np.float64)
    markers, gaps = [], []
    efile = path / EVENTS
    if efile.exists():
        lines = efile.read_bytes().split(b"\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if i == len(lines) - 1:  # an unfinished last line
                    truncated = True
                    continue
                raise NeurospellError(f"{str(efile)!r}: line {i + 1} is not valid JSON; the file is damaged.") from None
            (gaps if ev.get("type") == "gap" else markers).append(ev)
    header = dict(header, gaps=gaps, truncated=truncated)
    if truncated:
        logger.info("%s: the recording was cut short; its last incomplete record was dropped.", path)
    return RawLog(data, ts, markers, header)


def annotation_description(code: int, label: str) -> str:
    """The MNE annotation description of a marker (see :mod:`neurospell.markers`).

    Flash, trial and phrase strings get their annotation form
    (:func:`neurospell.markers.marker_to_annotation`); a marker with only an integer code
    (no label, or a label that is that integer) gets the flash annotation of the code when
    it is a flash code, else the code as text.
    """
    if not label or label.strip().lstrip("-").isdigit():
        info = parse_flash(int(code)) if code >= 0 else None
        if info is not None:
            return flash_to_annotation(info.code, info.target)
        return label if label else str(code)
    return marker_to_annotation(label)


def rawlog_to_raw(path_or_log, *, verbose=None):
    """An :class:`mne.io.RawArray` of a rawlog, markers and gaps as annotations.

    Annotation onsets are the marker times mapped onto sample positions through the
    recorded timestamps (linear interpolation), so they stay aligned across gaps. Each
    acquisition gap becomes a one-sample ``"BAD_gap"`` annotation on the first sample after
    it (the data hold no samples for the gap itself, so epochs spanning it are rejected by
    MNE's ``reject_by_annotation``). MNE's own ``BAD_ACQ_SKIP`` is not used: ``raw.save``
    would write zeros over it.

    Parameters
    ----------
    path_or_log : path-like | RawLog
    verbose : bool | str | int | None

    Returns
    -------
    raw : mne.io.RawArray
    """
    import datetime

    import mne


    log = path_or_log if isinstance(path_or_log, RawLog) else read_rawlog(path_or_log)
    h = log.header
    n = log.timestamps.size
    if n == 0:
        raise NeurospellError("The recording holds no samples, so it cannot be converted to a Raw object.")
    with use_log_level(verbose):
        info = mne.create_info(list(h["ch_names"]), float(h["sfreq"]), _mne_types(h["ch_types"]), verbose=False)
        t0 = float(log.timestamps[0])
        meas = h["start_unix"] + (t0 - h["start_lsl"])
        info.set_meas_date(datetime.datetime.fromtimestamp(meas, tz=datetime.timezone.utc))
        raw = mne.io.RawArray(log.data, info, verbose=False)
        onsets, durations, descs = [], [], []
        positions = np.arange(n, dtype=np.float64)
        for m in log.markers:
            pos = _position(m["t"], log.timestamps, positions, h["sfreq"])
            onsets.append(pos / h["sfreq"])
            durations.append(0.0)
            descs.append(annotation_description(int(m.get("code", -1)), str(m.get("label", ""))))
        for g in h["gaps"]:
            pos = min(int(g["sample_index"]), n - 1)
            onsets.append(pos / h["sfreq"])
            durations.append(1.0 / h["sfreq"])
            descs.append(GAP_ANNOTATION)
        if onsets:
            raw.set_annotations(mne.Annotations(onsets, durations, descs, orig_time=info["meas_date"]))
    return raw


def rawlog_to_fif(path_or_log, out, *, overwrite: bool = False, verbose=None):
    """Write a rawlog (complete, or cut short by a crash) as a FIF file.

    Parameters
    ----------
    path_or_log : path-like | RawLog
        The ``.nsraw`` folder (or what :func:`read_rawlog` returned).
    out : path-like
        The FIF file to write (any name ending in ``.fif``; MNE's ``raw.fif`` naming
        advice is not enforced).
    overwrite : bool
        Replace ``out`` if it exists.
    verbose : bool | str | int | None

    Returns
    -------
    raw : mne.io.RawArray
        What was written (markers and gaps as annotations, see :func:`rawlog_to_raw`).
    """
    import warnings

    out = check_fname(out, "out", must_exist=False, overwrite=overwrite)
    if not out.name.endswith((".fif", ".fif.gz")):
        raise NeurospellError(f"out: the FIF file name must end in '.fif' or '.fif.gz', got {out.name!r}.")
    raw = rawlog_to_raw(path_or_log, verbose=verbose)
    with warnings.catch_warnings():
        # any *.fif name is the user's choice; MNE's naming convention is advice only
        warnings.filterwarnings("ignore", message=".*does not conform to MNE naming conventions.*")
        raw.save(out, overwrite=True, verbose=False)  # checked above
    return raw


def _position(t: float, ts: np.ndarray, positions: np.ndarray, sfreq: float) -> float:
    """Sample position (fractional) of LSL time ``t``; extrapolated at the sampling rate outside."""
    if t <= ts[0]:
        return max(0.0, (t - ts[0]) * sfreq)
    if t >= ts[-1]:
        return positions[-1] + (t - ts[-1]) * sfreq
    return float(np.interp(t, ts, positions))


def _mne_types(types):
    valid = {"eeg", "eog", "ecg", "emg", "misc", "stim", "resp", "bio", "seeg", "ecog", "dbs"}
    return [t if t in valid else "misc" for t in types]
