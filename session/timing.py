"""The photodiode timing check of a recording or of a whole session folder.

:func:`timing_check` runs :func:`~neurospell.preprocessing.timing.photodiode_timing` on a
recording, or on every recorded run of a session folder (its crash-safe raw logs in
``sourcedata/``: the samples with the LSL timestamps the markers were sent with), and pools
the runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.timing import TimingReport, photodiode_timing

from .sessiondir import SessionFolder, is_session_folder

__all__ = ["timing_check", "pool_reports"]


def pool_reports(reports) -> TimingReport:
    """One report from several (counts added, offsets pooled)."""
    reports = list(reports)
    if not reports:
        raise NeurospellError("pool_reports: no report to pool.")
    return dataclasses.replace(
        reports[0],
        n_markers=sum(r.n_markers for r in reports), n_onsets=sum(r.n_onsets for r in reports),
        n_matched=sum(r.n_matched for r in reports),
        n_unmatched_markers=sum(r.n_unmatched_markers for r in reports),
        n_unmatched_onsets=sum(r.n_unmatched_onsets for r in reports),
        offsets_ms=np.concatenate([r.offsets_ms for r in reports]))


def timing_check(path, photodiode: str, *, verbose=None, **kwargs) -> list[tuple[str, TimingReport]]:
    """The photodiode timing of a recording, or of each run of a session folder.

    Parameters
    ----------
    path : path-like
        A recording (any format :func:`~neurospell.preprocessing.load_recording` reads, a
        ``.nsraw`` raw log included) or a session folder (``neurospell spell --out``, the GUI's).
    photodiode : str
        The photodiode channel.
    verbose : bool | str | int | None
    **kwargs
        Passed to :func:`~neurospell.preprocessing.timing.photodiode_timing`.

    Returns
    -------
    reports : list of (str, TimingReport)
        One per recording (its name: the file, or ``task-<task> run-<n>``); with several,
        the last is ``("all runs", pooled)``.
    """
    path = check_fname(path, "path")
    if not is_session_folder(path):
        return [(Path(path).name, photodiode_timing(load_recording(path, verbose=verbose), photodiode,
                                                    verbose=verbose, **kwargs))]
    folder = SessionFolder.open(path)
    out = []
    for r in folder.runs():
        rawlog = folder.root / r["rawlog"]
        if not (rawlog / "header.json").is_file():
            continue
        raw = load_recording(rawlog, verbose=verbose)
        if not any(str(d).startswith("flash") for d in raw.annotations.description):
            continue
        out.append((f"task-{r['task']} run-{r['run']}", photodiode_timing(raw, photodiode, verbose=verbose,
                                                                            **kwargs)))
    folder.close()
    if not out:
        raise NeurospellError(f"The session folder {str(path)!r} holds no recorded run with flash markers; run a "
                              "calibration or a spelling phase first.")
    if len(out) > 1:
        out.append(("all runs", pool_reports(rep for _, rep in out)))
    return out
