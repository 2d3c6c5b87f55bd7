"""The decision log of a session folder (``derivatives/neurospell/decisions.jsonl``): writing
it line by line (:class:`DecisionLog`, a part of
:class:`~neurospell.session.sessiondir.SessionFolder`) and reading it back by run
(:func:`log_by_run`, what a replay compares with).
"""

from __future__ import annotations

import json
import os
import time

from neurospell.check import NeurospellError
from neurospell.logs import logger

from .engine import SelectionDecided
from .sessionformat import (
    _FSYNC_INTERVAL,
    CALIBRATION,
    SPELLING,
    SPELLING_PHASES,
    SessionFolderError,
)

__all__ = ["DecisionLog", "log_by_run", "decision_record"]


class DecisionLog:
    """The decision-log methods of a :class:`~neurospell.session.sessiondir.SessionFolder`
    (which sets ``_lock``, ``_log``, ``_log_size``, ``_last_sync``, ``log_path`` and
    ``current_run``)."""

    def log(self, record: dict) -> None:
        """Append one record to the decision log (a JSON line, flushed; fsynced at most every 0.5 s).

        Thread-safe. ``record`` must be JSON-able with a ``type`` key.
        """
        if not isinstance(record, dict) or "type" not in record:
            raise NeurospellError(f"log: a record is a dict with a 'type' key, got {record!r}.")
        line = json.dumps(record) + "\n"
        with self._lock:
            if self._log is None:
                self._log = open(self.log_path, "a", encoding="utf-8")
                self._log_size = self._log.tell()
            try:
                self._log.write(line)
                self._log.flush()
                now = time.monotonic()
                if now - self._last_sync >= _FSYNC_INTERVAL:
                    os.fsync(self._log.fileno())
                    self._last_sync = now
            except OSError:
                self._drop_partial_line()
                raise
            self._log_size += len(line.encode("utf-8"))

    def _drop_partial_line(self) -> None:
        """A failed write (a full disk): close the log and cut it back to its last whole line."""
        f, self._log = self._log, None
        try:
            f.close()
        except OSError:
            pass  # the same error as the write's; the bytes it could not write are dropped below
        try:
            os.truncate(self.log_path, self._log_size)
        except OSError:  # pragma: no cover - a reader ignores a cut last line anyway
            pass

    def _ctx(self, task, run) -> dict:
        out = {}
        if task is not None:
            out["task"] = task
            out["run"] = self.current_run(task) if run is None else int(run)
        return out

    def log_phase(self, name: str, *, task: str | None = None, run: int | None = None, text: str = "",
                  t: float | None = None, **extra) -> None:
        """A phase starts (``name``: calibration, copy, free ...); ``text`` is the engine's text at its start."""
        self.log({"type": "phase", "name": name, "t": t, "text": text, **self._ctx(task, run), **extra})

    def log_flash(self, onset: float, group: int, score: float, *, trial: int = -1, task: str | None = None,
                  run: int | None = None, **extra) -> None:
        """A scored flash (what ``StreamDriver(on_score=...)`` reports; a group of members: their list)."""
        group = [int(i) for i in group] if isinstance(group, tuple) else int(group)
        self.log({"type": "flash", "t": float(onset), "group": group, "score": float(score),
                  "trial": int(trial), **self._ctx(task, run), **extra})

    def log_decision(self, event, *, t: float | None = None, task: str | None = None, run: int | None = None,
                     posterior: bool = True, **extra) -> None:
        """A decision (a :class:`~neurospell.session.engine.SelectionDecided`, or the events
        tuple that holds one), with its posterior when ``posterior``."""
        ev = _decision_of(event)
        ctx = self._ctx(task, run)
        if posterior:
            self.log({"type": "posterior", "t": t, "n_flashes": int(ev.n_flashes),
                      "logp": [float(x) for x in ev.posterior.logp], **ctx})
        self.log({"type": "decision", "t": t, **_decision_record(ev), **ctx, **extra})

    def read_log(self) -> list[dict]:
        """The decision log's records (a truncated last line, from a crash, is left out)."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_bytes().split(b"\n")
        out = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                if i == len(lines) - 1:
                    logger.info("%s: its last line was cut short (a crash) and is left out.", self.log_path)
                    continue
                raise SessionFolderError(
                    f"{str(self.log_path)!r}: line {i + 1} is not valid JSON; the decision log is damaged.") from None
        return out

    def close(self) -> None:
        """Sync and close the decision log (logging again reopens it)."""
        with self._lock:
            if self._log is not None:
                try:
                    self._log.flush()
                    os.fsync(self._log.fileno())
                except OSError:
                    self._drop_partial_line()
                    raise
                self._log.close()
                self._log = None



def _decision_of(event):
    if isinstance(event, SelectionDecided):
        return event
    for e in event:
        if isinstance(e, SelectionDecided):
            return e
    raise NeurospellError(f"log_decision: no SelectionDecided in {event!r}.")


def _decision_record(ev) -> dict:
    return {"symbol": ev.decision.symbol, "posterior": float(ev.decision.posterior), "n_flashes": int(ev.n_flashes),
            "n_repetitions": int(ev.decision.n_repetitions), "text": ev.text, "forced": bool(ev.forced)}



def decision_record(ev) -> dict:
    """A decision as the log stores it (``symbol``, ``posterior``, ``n_flashes``,
    ``n_repetitions``, ``text``, ``forced``), from a
    :class:`~neurospell.session.engine.SelectionDecided` or the events holding one."""
    return _decision_record(_decision_of(ev))


def log_by_run(records: list[dict]) -> dict:
    """Decision-log records grouped by (task, run): flashes and decisions, plus the phase record.

    A ``phase`` record names its task and run; one without them counts as the next run of
    task-spelling when its name is in :data:`SPELLING_PHASES` (``"calibration"``: of
    task-calibration), else it ends the run (training, stopped ...).
    """
    out: dict = {}
    ctx = (None, None)
    counters: dict = {}
    for rec in records:
        typ = rec.get("type")
        if typ == "phase":
            if rec.get("task") is not None:
                ctx = (rec["task"], rec.get("run"))
            else:
                name = rec.get("name")
                task = SPELLING if name in SPELLING_PHASES else (CALIBRATION if name == CALIBRATION else None)
                if task is None:
                    ctx = (None, None)
                    continue
                counters[task] = counters.get(task, 0) + 1
                ctx = (task, counters[task])
            if ctx[0] is not None and ctx[1] is not None:
                counters[ctx[0]] = max(counters.get(ctx[0], 0), int(ctx[1]))
            out.setdefault(ctx, {"phase": rec, "flash": [], "decision": [], "select": []})["phase"] = rec
            continue
        key = (rec.get("task", ctx[0]), rec.get("run", ctx[1]))
        if typ in ("flash", "decision", "select"):
            group = out.setdefault(key, {"phase": None, "flash": [], "decision": [], "select": []})
            if typ == "select":  # applied before the next flash, as live
                group["select"].append((len(group["flash"]), rec))
            else:
                group[typ].append(rec)
    return out
