"""The format of a session folder: its file names, task labels, error type and small writers
(:mod:`neurospell.session.sessiondir` describes the layout)."""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

from neurospell.check import NeurospellError

__all__ = ["SessionFolderError", "is_session_folder", "FORMAT", "VERSION", "DERIVATIVES", "SESSION_JSON",
           "CONFIG_TOML", "MODEL_FILE", "LOG_FILE", "SPELLING", "CALIBRATION", "SPELLING_PHASES"]

FORMAT = "neurospell-session"
VERSION = 1
DERIVATIVES = Path("derivatives") / "neurospell"
SESSION_JSON = "session.json"
CONFIG_TOML = "config.toml"
MODEL_FILE = "model.pkl"
LOG_FILE = "decisions.jsonl"
#: The task label of the spelling runs (the ones a replay reruns).
SPELLING = "spelling"
CALIBRATION = "calibration"
_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_FSYNC_INTERVAL = 0.5


class SessionFolderError(NeurospellError):
    """A session folder is missing, damaged, or would be overwritten."""


def is_session_folder(path) -> bool:
    """Whether ``path`` is a neurospell session folder (``derivatives/neurospell/session.json``)."""
    return (Path(path) / DERIVATIVES / SESSION_JSON).is_file()


def _check_label(name: str, value) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise SessionFolderError(
            f"{name} must be a BIDS label (letters and digits only, e.g. '01'), got {value!r}.")
    return value



#: Phase names (of ``phase`` records without a ``task``) that are runs of task-spelling.
SPELLING_PHASES = ("copy", "free", "spelling")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:  # a full disk: the old file stays whole, no half-written .tmp is left
        tmp.unlink(missing_ok=True)


def _run_names(runs) -> str:
    return ", ".join(f"task-{r['task']} run-{r['run']}" for r in runs)
