"""Recording inputs of the offline commands: session folders expanded to their labelled runs.

``neurospell train``, ``evaluate``, ``inspect`` and ``simulate`` take recordings: files, raw
log folders, and session folders (written by ``neurospell spell --out``), mixed and several.
:func:`expand_recordings` replaces each session folder by the runs whose flashes have a known
target: its calibration runs and its copy-spelling runs (labelled from the copied phrase when
read, :func:`neurospell.preprocessing.load_recording`). Free-spelling runs (no known target)
are left out, each with a one-line note. A run is read from its BIDS files
(``sub-*/ses-*/eeg/*_eeg.vhdr``, ``events.tsv`` giving the labels); a run the session never
converted (it stopped during it) from its raw log in ``sourcedata/``.
"""

from __future__ import annotations

from pathlib import Path

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.markers import parse_flash, parse_phrase
from neurospell.preprocessing import load_recording
from neurospell.rawlog import is_rawlog

from .sessionfolder import SessionFolder
from .sessionformat import is_session_folder

__all__ = ["expand_recordings", "session_runs"]


def _run_file(folder: SessionFolder, run: dict) -> Path | None:
    """The file a run is read from: its BIDS ``.vhdr``, else (never converted) its raw log."""
    if run.get("bids"):
        p = folder.resolve(run["bids"])
        if p.is_file():
            return p
    p = folder.resolve(run["rawlog"]) if run.get("rawlog") else None
    return p if p is not None and is_rawlog(p) else None


def _describe(raw) -> tuple[int, int, str]:
    """(targets, non-targets, kind) of a run's flashes; kind says what was spelled."""
    n_t = n_nt = 0
    kind = "no phrase marker"
    for d in raw.annotations.description:
        d = str(d)
        info = parse_flash(d) if not d.strip().lstrip("-").isdigit() else None
        if info is not None and info.target is not None:
            n_t += bool(info.target)
            n_nt += not info.target
            continue
        ph = parse_phrase(d)
        if ph is not None:
            kind = (f"calibration {ph.text!r}" if ph.kind == "calibration" else
                    f"copy spelling {ph.text!r}" if ph.text else "free spelling")
    return n_t, n_nt, kind


def session_runs(root, *, on_note=None) -> list[Path]:
    """The labelled runs of a session folder, in recording order.

    Parameters
    ----------
    root : path-like
        A session folder (``neurospell spell --out``).
    on_note : callable | None
        Called with a one-line note per run left out (free spelling, no data) and one
        saying which runs are used; default: the log.

    Returns
    -------
    files : list of Path
        One file per run with labelled flashes (BIDS ``.vhdr``, or a raw log for a run
        never converted).

    Raises
    ------
    NeurospellError
        When no run of the folder has a flash with a known target.
    """
    note = on_note if on_note is not None else logger.info
    folder = SessionFolder.open(root, verbose="error")
    used, seen = [], []
    for run in folder.runs():
        name = f"task-{run['task']} run-{run['run']}"
        path = _run_file(folder, run)
        if path is None or run.get("status") == "empty":
            note(f"{folder.root}: {name} recorded no data: skipped.")
            seen.append(f"{name}: no data")
            continue
        n_t, n_nt, kind = _describe(load_recording(path, verbose="error"))
        seen.append(f"{name}: {kind}")
        if n_t and n_nt:
            used.append(path)
            note(f"{folder.root}: {name} ({kind}, {n_t} target and {n_nt} non-target flashes): used"
                 + ("" if path.suffix == ".vhdr" else " (from its raw log: it was never converted to BIDS)") + ".")
        elif kind == "free spelling":
            note(f"{folder.root}: {name} is free spelling (no known target): skipped.")
        else:
            note(f"{folder.root}: {name} ({kind}) has no flash with a known target: skipped.")
    if not used:
        raise NeurospellError(
            f"The session folder {str(folder.root)!r} holds no labelled run (its runs: "
            f"{'; '.join(seen) or 'none'}). Training and evaluation need flashes whose target is known: "
            "a calibration run or a copy-spelling run (`neurospell spell --calibrate TEXT` or --copy TEXT "
            "--out DIR records them). Give another session folder or recording.")
    return used


def expand_recordings(paths, *, on_note=None) -> list[str]:
    """Recording paths, each session folder replaced by its labelled runs (:func:`session_runs`).

    Parameters
    ----------
    paths : sequence of path-like
        Recording files, raw log folders and session folders, in any mix.
    on_note : callable | None
        See :func:`session_runs`.

    Returns
    -------
    paths : list of str
        In the order given (a folder's runs in recording order, where the folder was).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        if is_session_folder(p):
            out.extend(str(f) for f in session_runs(p, on_note=on_note))
        else:
            out.append(str(p))
    if not out:
        raise NeurospellError("Give at least one recording or session folder.")
    return out
