"""Is a finished session folder still as the live session left it? (before a replay compares with it)

A replay that finds fewer live decisions or fewer samples than the session had would report
"did not reproduce"; the cause is then a damaged folder, not the pipeline. The session
records what it wrote (``session.json``: each finished run's ``n_samples`` and ``truncated``),
so a file cut or deleted after the session can be named. A crash (a run still
``"recording"``) cuts files legitimately and is not damage.
"""

from __future__ import annotations

import json
from pathlib import Path

from neurospell.rawlog import HEADER, SAMPLES

__all__ = ["session_damage"]


def session_damage(folder, runs) -> str | None:
    """What was cut or deleted in a session folder since its session ended (``None``: intact).

    Parameters
    ----------
    folder : SessionFolder
    runs : list of dict
        The runs about to be replayed (``session.json`` records).

    Returns
    -------
    message : str | None
        The damage, with what to do next.
    """
    found, hints = [], []
    log = Path(folder.log_path)
    rel_log = log.relative_to(folder.root) if log.is_relative_to(folder.root) else log
    crashed = any(r["status"] == "recording" for r in folder.runs())
    if not log.exists():
        found.append(f"the decision log {str(rel_log)!r} is missing, so there are no live decisions to compare with")
    elif not crashed:
        lines = log.read_bytes().split(b"\n")
        if lines[-1].strip():
            try:
                json.loads(lines[-1])
            except (json.JSONDecodeError, UnicodeDecodeError):
                found.append(f"the decision log {str(rel_log)!r} ends in a cut line (line {len(lines)}) although "
                             "every phase finished, so the live decisions after it are missing")
    if found and runs:
        hints.append(f"`neurospell replay {str(folder.root / runs[0]['rawlog'])!r} --decoder "
                     f"{str(Path(folder.model_path))!r}` decodes a run without the comparison")
    for r in runs:
        if r["status"] != "finished" or "n_samples" not in r:
            continue
        raw = folder.root / r["rawlog"]
        try:
            n_ch = int(json.loads((raw / HEADER).read_bytes())["n_channels"])
            size = (raw / SAMPLES).stat().st_size if (raw / SAMPLES).exists() else 0
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            continue  # reading the run names that damage itself
        record = 8 + 4 * n_ch
        n = size // record
        if n < int(r["n_samples"]) or (size % record and not r.get("truncated")):
            found.append(f"{str(Path(r['rawlog']) / SAMPLES)!r} holds {n} samples"
                         + (" and a cut last record" if size % record else "")
                         + f", but {int(r['n_samples'])} when task-{r['task']} run-{r['run']} finished")
            if r.get("bids"):
                hints.append(f"the BIDS copy written when that phase finished ({r['bids']!r}) holds all "
                             f"{int(r['n_samples'])} samples")
    if not found:
        return None
    return (f"the session folder {str(folder.root)!r} was changed after its session ended: " + "; ".join(found)
            + ". A replay cannot be compared with the live session: restore the files from a backup"
            + "".join(f"; {h}" for h in hints) + ".")
