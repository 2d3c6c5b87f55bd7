"""A session folder on a full disk: what was kept, and the room ``recover`` needs.

:func:`kept_line` is the one line ``neurospell spell`` prints when a write failed for lack of
room: what is full, which runs are complete (BIDS and raw), where the raw crash copy of
the run that was cut is, and the exact ``neurospell recover`` command (with the room it
needs). :func:`check_room_to_recover` is what ``neurospell recover SESSION_DIR`` checks first,
so that a still-full disk gets one line and no change to the folder.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from neurospell.diskspace import DiskFullError, free_bytes, mb, no_room_why
from neurospell.rawlog import EVENTS, SAMPLES, is_rawlog

#: Room for the sidecars, channels/events tables and the session.json rewrite of one run.
_PER_RUN = 256 * 1024


def bytes_to_convert(folder, runs) -> int:
    """About how many bytes converting ``runs`` (rawlog runs of ``folder``) to BIDS writes.

    The BrainVision data (float32: 4 bytes a value) of each run, twice its events (the
    ``.vmrk`` and ``events.tsv``) and a margin for the sidecars and ``session.json``.
    """
    total = 0
    for r in runs:
        p = folder.root / r["rawlog"]
        if not is_rawlog(p):
            continue
        n_ch = max(1, len(_header_channels(p)))
        size = (p / SAMPLES).stat().st_size if (p / SAMPLES).is_file() else 0
        n = size // (8 + 4 * n_ch)
        ev = (p / EVENTS).stat().st_size if (p / EVENTS).is_file() else 0
        total += 4 * n_ch * n + 2 * ev + _PER_RUN
    return total


def _header_channels(path: Path) -> list:
    import json

    try:
        return json.loads((path / "header.json").read_text()).get("ch_names") or []
    except (OSError, ValueError):
        return []


def recover_command(root) -> str:
    return f"neurospell recover {shlex.quote(str(root))}"


def check_room_to_recover(folder) -> None:
    """Raise :class:`~neurospell.diskspace.DiskFullError` (one line) when the disk holding
    ``folder`` has less room than converting its unfinished runs needs."""
    left = folder.unfinished()
    if not left:
        return
    need = bytes_to_convert(folder, left)
    free = free_bytes(folder.root)
    if free is not None and free < need:
        raise DiskFullError(
            f"recover needs about {mb(need)} free at {_mount_of(folder.root)} to convert "
            f"{_names(left)} of {str(folder.root)!r} to BIDS; {mb(free)} is free. Free some space there and run "
            f"`{recover_command(folder.root)}` again (nothing was changed).")


def _where(folder, err) -> tuple[str, str]:
    """``(what is full, what to do)`` for a no-room error."""
    why = no_room_why(err)
    if "file-size" in why:  # a per-process limit, not the disk
        return why, "raise the file-size limit (`ulimit -f`)"
    return f"{why} at {_mount_of(folder.root)} ({mb(free_bytes(folder.root))} free)", "free some space there"


def recover_failed_line(folder, err) -> str:
    """The one line when ``recover`` itself ran out of room (the estimate was short)."""
    left = folder.unfinished()
    need = bytes_to_convert(folder, left)
    what, fix = _where(folder, err)
    return (f"recover stopped: {what}; it needs about {mb(need)} to convert {_names(left) or 'the unfinished runs'}. "
            f"Nothing half-written was kept and the crash copies in sourcedata/ are intact; {fix} and run "
            f"`{recover_command(folder.root)}` again.")


def kept_line(folder, err) -> str:
    """What ``neurospell spell`` prints when the session stopped for lack of room (one line)."""
    runs = folder.runs()
    done = [r for r in runs if r["status"] == "finished"]
    cut = [r for r in runs if r["status"] == "recording" and is_rawlog(folder.root / r["rawlog"])]
    parts = []
    if done:
        parts.append(f"{_names(done)} complete (BIDS and raw)")
    for r in cut:
        parts.append(f"the raw crash copy of {_names([r])} in {r['rawlog']}")
    model = folder.meta.get("model")
    if done and any(r["task"] == "calibration" for r in done):
        parts.append("the trained model" if model else "no trained model (training did not finish)")
    kept = "; ".join(parts) if parts else "nothing was recorded yet"
    what, fix = _where(folder, err)
    line = f"{what}. Kept in {str(folder.root)!r}: {kept}."
    if cut:
        room = f"about {mb(bytes_to_convert(folder, cut))}"
        line += (f" Free {room} there" if fix.startswith("free") else f" {fix[0].upper()}{fix[1:]} ({room} to write)")
        line += f", then run `{recover_command(folder.root)}`."
    else:
        line += f" {fix[0].upper()}{fix[1:]} before the next session (the decision log may lack its last lines)."
    return line


def _names(runs) -> str:
    return ", ".join(f"task-{r['task']} run-{r['run']}" for r in runs)


def _mount_of(path) -> str:
    p = Path(path).absolute()
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)
