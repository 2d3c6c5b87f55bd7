"""BrainFlow boards as sources (synthetic by default, playback files, any real board)."""

from __future__ import annotations

import time
import types
import warnings
from collections import deque

import numpy as np

from neurospell.check import NeurospellError, StreamError, validate_type
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.types import MarkerEvent

from .base import BaseSource

_loaded = False


def _brainflow():
    global _loaded
    from brainflow import board_shim

    if not _loaded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation when brainflow loads its library
            board_shim.BoardControllerDLL.get_instance()
        _loaded = True
    return board_shim


_board_class = None


def _board_shim(board_id: int, params):
    """A BrainFlow ``BoardShim`` that never releases a session when garbage-collected.

    ``BoardShim.__del__`` releases the session of *its board id and parameters* if one is
    prepared, whichever object prepared it: a stale BoardShim (e.g. kept alive by the
    traceback of an acquisition error) collected while a new source with the same board
    runs would release the new source's session under it. neurospell releases its sessions
    itself (:meth:`BrainFlowSource._close`).
    """
    global _board_class
    if _board_class is None:
        class _Board(_brainflow().BoardShim):
            def __del__(self) -> None:
                pass

        _board_class = _Board
    return _board_class(board_id, params)


_ALIASES = {"synthetic": "SYNTHETIC_BOARD", "playback": "PLAYBACK_FILE_BOARD", "streaming": "STREAMING_BOARD"}


def board_ids() -> dict[str, int]:
    """BrainFlow board names and their ids (``{"SYNTHETIC_BOARD": -1, ...}``)."""
    return {b.name: int(b.value) for b in _brainflow().BoardIds}


def resolve_board_id(board) -> int:
    """The BrainFlow board id for a name (``"synthetic"``, ``"CYTON_BOARD"``) or an int id."""
    ids = board_ids()
    hint = "Run `neurospell devices` to list the BrainFlow board names and ids."
    if isinstance(board, (int, np.integer)) and not isinstance(board, bool):
        if int(board) not in ids.values():
            raise NeurospellError(f"Unknown BrainFlow board id {int(board)!r} for the 'board' parameter. {hint}")
        return int(board)
    validate_type(board, (str, "int"), "board")
    text = board.strip()
    if text.lstrip("-").isdigit():
        return resolve_board_id(int(text))
    name = _ALIASES.get(text.lower(), text.upper())
    if name not in ids and name + "_BOARD" in ids:
        name += "_BOARD"
    if name not in ids:
        raise NeurospellError(
            f"Unknown BrainFlow board {board!r} for the 'board' parameter. Use 'synthetic', "
            f"'playback' or a BoardIds name such as 'CYTON_BOARD' (or its integer id). {hint}"
        )
    return ids[name]


def _input_params(params: dict, board_id: int):
    bs = _brainflow()
    ip = bs.BrainFlowInputParams()
    allowed = sorted(vars(ip))
    for key, value in dict(params or {}).items():
        if key not in allowed:
            raise NeurospellError(
                f"Unknown BrainFlow input parameter {key!r} in 'params'. Allowed keys are "
                f"{', '.join(allowed)}."
            )
        if key == "master_board":
            value = resolve_board_id(value)
        setattr(ip, key, value)
    if board_id in (int(bs.BoardIds.PLAYBACK_FILE_BOARD), int(bs.BoardIds.STREAMING_BOARD)):
        if ip.master_board == bs.BrainFlowInputParams().master_board:
            raise NeurospellError(
                "The BrainFlow playback/streaming board needs params['master_board'] (the board "
                "that recorded the file, e.g. 'synthetic')."
            )
        if board_id == int(bs.BoardIds.PLAYBACK_FILE_BOARD):
            if not ip.file:
                raise NeurospellError("The BrainFlow playback board needs params['file'] (a BrainFlow data file).")
            from pathlib import Path

            if not Path(ip.file).is_file():
                raise FileNotFoundError(f"params['file']: the playback file {ip.file!r} does not exist. Check the path.")
    return ip


class BrainFlowSource(BaseSource):
    """A BrainFlow board; EEG channels in volts on the LSL clock, markers from its marker channel.

    Parameters
    ----------
    board : str | int
        ``"synthetic"`` (default), ``"playback"``, a ``BoardIds`` name or an integer id.
    params : dict | None
        BrainFlow input parameters (``serial_port``, ``ip_address``, ``file``,
        ``master_board``, ...). The playback board needs ``file`` and ``master_board``.
    buffer_seconds, poll_interval, stall_timeout, gap_tolerance : float
        See :class:`~neurospell.acquisition.base.BaseSource`.

    Notes
    -----
    BrainFlow stamps samples with Unix time. Each poll maps them onto the LSL clock with an
    offset ``local_clock() - time.time()`` measured right then between two
    ``local_clock`` readings; the error of that offset is at most half the bracket
    (reported in the debug log, typically a few microseconds) plus the drift of the system
    clock against the monotonic clock during the age of the samples (milliseconds, so
    below a microsecond even under NTP slewing of 500 ppm). Timestamps are then made
    non-decreasing. Gaps are detected from the board's package counter (exact) when the
    board has one, otherwise from the timestamps.

    Markers: BrainFlow's ``insert_marker`` can only stamp the call time (the board writes
    the code into its marker channel at the next sample it acquires). When
    :meth:`insert_marker` is given a ``timestamp`` (e.g. the flash onset a display
    reported), the :class:`~neurospell.types.MarkerEvent` readers and the recorder get
    that timestamp instead of the marker-channel sample's (markers of one code are matched
    to their calls in order); only BrainFlow's own files (its marker channel) keep the
    call-time sample.
    """

    kind = "brainflow"

    def __init__(self, board="synthetic", params: dict | None = None, *, buffer_seconds: float = 30.0,
                 poll_interval: float = 0.005, stall_timeout: float = 2.0, gap_tolerance: float = 0.05):
        super().__init__(buffer_seconds=buffer_seconds, poll_interval=poll_interval, stall_timeout=stall_timeout,
                         gap_tolerance=gap_tolerance)
        validate_type(params, (dict, None, types.MappingProxyType), "params")
        self.board_id = resolve_board_id(board)
        self.params = dict(params or {})
        self._ip = _input_params(self.params, self.board_id)
        bs = _brainflow()
        self._descr_id = self.board_id
        if self.board_id in (int(bs.BoardIds.PLAYBACK_FILE_BOARD), int(bs.BoardIds.STREAMING_BOARD)):
            self._descr_id = int(self._ip.master_board)
        descr = bs.BoardShim.get_board_descr(self._descr_id)
        self._eeg_rows = list(descr.get("eeg_channels", []))
        if not self._eeg_rows:
            raise NeurospellError(f"BrainFlow board {board!r} has no EEG channels.")
        names = descr.get("eeg_names")
        names = names.split(",") if names else [f"EEG{i + 1}" for i in range(len(self._eeg_rows))]
        if len(names) != len(self._eeg_rows):
            names = [f"EEG{i + 1}" for i in range(len(self._eeg_rows))]
        self.ch_names = tuple(names)
        self.ch_types = ("eeg",) * len(names)
        self.sfreq = float(descr["sampling_rate"])
        self._ts_row = descr.get("timestamp_channel")
        self._marker_row = descr.get("marker_channel")
        self._pkg_row = descr.get("package_num_channel")
        self._board = None
        self._onsets: dict[int, deque] = {}  # code -> onsets given to insert_marker, in call order

    def __repr__(self):
        return f"BrainFlowSource(board={self.board_id})"

    def describe(self) -> dict:
        return {"kind": self.kind, "board_id": self.board_id, "params": {k: str(v) for k, v in self.params.items()}}

    def _open(self) -> None:
        self._clock = get_pylsl().local_clock  # cached: get_pylsl() re-reads the LSL config each call
        bs = _brainflow()
        bs.BoardShim.disable_board_logger()
        board = _board_shim(self.board_id, self._ip)
        try:
            board.prepare_session()
            board.start_stream(max(1000, int(self.sfreq * self.buffer_seconds)))
        except bs.BrainFlowError as err:
            try:
                board.release_session()
            except bs.BrainFlowError:
                pass
            raise StreamError(
                f"BrainFlow could not start board {self.board_id} with params {self.params}: {err}. "
                "Check that the device is connected and the parameters are right."
            ) from err
        self._board = board
        self._last_pkg = None
        self._last_ts = None

    def _close(self) -> None:
        bs = _brainflow()
        board, self._board = self._board, None
        if board is None:
            return
        try:
            board.stop_stream()
        except bs.BrainFlowError:
            pass
        try:
            board.release_session()
        except bs.BrainFlowError:
            pass

    def _offset(self) -> float:
        clock = self._clock
        t0 = clock()
        unix = time.time()
        t1 = clock()
        return 0.5 * (t0 + t1) - unix

    def _pull(self):
        raw = self._board.get_board_data()
        if raw.shape[1] == 0:
            self._stop.wait(self.poll_interval)
            return None
        data = raw[self._eeg_rows] * 1e-6  # BrainFlow gives microvolts
        if self._ts_row is not None:
            ts = raw[self._ts_row] + self._offset()
        else:  # pragma: no cover - every BrainFlow board has a timestamp row today
            ts = self._clock() - np.arange(raw.shape[1])[::-1] / self.sfreq
        if self._last_ts is not None:
            ts = np.maximum(ts, self._last_ts)
        ts = np.maximum.accumulate(ts)
        self._check_gaps(raw, ts)
        events = []
        if self._marker_row is not None:
            for i in np.flatnonzero(raw[self._marker_row]):
                code = int(round(raw[self._marker_row, i]))
                q = self._onsets.get(code)
                onset = q.popleft() if q else None
                events.append(MarkerEvent(ts[i] if onset is None else onset, code, self._label_for(code)))
        self._last_ts = float(ts[-1])
        return data, ts, events

    def _check_gaps(self, raw, ts) -> None:
        if self._pkg_row is None:
            self._gap_from_timestamps(self._last_ts, ts)
            return
        pkg = raw[self._pkg_row].astype(np.int64)
        full = pkg if self._last_pkg is None else np.concatenate(([self._last_pkg], pkg))
        full_ts = ts if self._last_ts is None else np.concatenate(([self._last_ts], ts))
        steps = np.diff(full) % 256  # BrainFlow package numbers wrap at 256
        for i in np.flatnonzero(steps > 1):
            self._report_gap(full_ts[i], int(steps[i]) - 1)
        self._last_pkg = int(pkg[-1])

    def _insert_marker(self, code: int, label: str, timestamp: float | None = None) -> None:
        if code == 0:
            raise NeurospellError(
                "BrainFlow cannot insert the marker code 0 (0 means 'no marker' on its marker "
                "channel). Use a flash code >= 1 or another label."
            )
        self._remember_label(code, label)
        self._onsets.setdefault(code, deque(maxlen=1000)).append(timestamp)
        try:
            self._board.insert_marker(float(code))
        except _brainflow().BrainFlowError as err:
            raise StreamError(f"BrainFlow could not insert marker {label!r}: {err}") from err
        logger.debug("%s: inserted marker %d (%s)", self, code, label)
