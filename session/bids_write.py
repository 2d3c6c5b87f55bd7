"""Writing one run of a session folder to BIDS-EEG atomically, with sidecars that say what
the data really are.

:func:`write_run_atomic` has mne-bids write the run into a staging folder inside the
session folder (``ROOT/.partial-task-<task>_run-<n>/``, same file system, a hidden name
that BIDS tools skip), fixes the sidecars there, and only then renames the files into
place (the data first, the ``.vhdr`` header last) and merges the ``scans.tsv`` row. A
failure (a full disk) removes the staging folder: nothing half-written is left under
``sub-*/``, and the run stays ``"recording"`` in ``session.json`` for ``neurospell
recover``.

:func:`source_sidecar` turns the description of where the samples came from (what a
live session records: ``session.json`` ``source``, else the rawlog header's ``source``)
into the ``Manufacturer`` and ``ManufacturersModelName`` of ``*_eeg.json``, instead of
the "Brain Products" that mne-bids writes for any BrainVision file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import warnings
from pathlib import Path

import mne_bids

from neurospell import __version__

STAGING_PREFIX = ".partial-"


def staging_dirs(root) -> list[Path]:
    """Staging folders left in ``root`` by a conversion that was killed."""
    return sorted(Path(root).glob(STAGING_PREFIX + "*"))


def remove_staging(root) -> None:
    """Remove every staging folder of ``root`` (they hold nothing that is not in the rawlogs)."""
    for d in staging_dirs(root):
        shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------------------- metadata
_BRAINFLOW_MAKERS = (("CYTON", "OpenBCI"), ("GANGLION", "OpenBCI"), ("MUSE", "Interaxon"),
                     ("UNICORN", "g.tec"), ("CROWN", "Neurosity"), ("NOTION", "Neurosity"),
                     ("BRAINBIT", "BrainBit"), ("CALLIBRI", "BrainBit"), ("EXPLORE", "Mentalab"),
                     ("ANT_NEURO", "ANT Neuro"), ("ENOPHONE", "Enophone"), ("GFORCE", "OYMotion"),
                     ("FREEEEG", "FreeEEG"), ("NEUROMD", "NeuroMD"), ("AAVAA", "AAVAA"))


def _board_name(board_id) -> str | None:
    try:
        from brainflow.board_shim import BoardIds

        return BoardIds(int(board_id)).name
    except Exception:  # noqa: BLE001 - an unknown id or no BrainFlow: described by its id
        return None


def source_sidecar(source: dict | None) -> dict:
    """``Manufacturer``, ``ManufacturersModelName`` and a one-line ``description`` of a source.

    Parameters
    ----------
    source : dict | None
        ``{"kind": "simulated", "stream", "participant"}`` (the simulated participant
        process), ``{"kind": "replay", "file"}`` (a recording played back), ``{"kind":
        "brainflow", "board_id"}`` (a BrainFlow board; ``-1`` the synthetic one), ``{"kind":
        "lsl", "name", "type"}`` (an LSL stream), as :meth:`SessionFolder.set_source` or a
        source's ``describe()`` gives them.

    Returns
    -------
    dict
        ``{"Manufacturer", "ManufacturersModelName", "description"}``.
    """
    s = dict(source or {})
    kind = str(s.get("kind", "")).lower()
    if kind == "simulated":
        how = s.get("participant") or "parametric P300 model"
        model = f"neurospell simulated participant process ({how})"
        if s.get("stream"):
            model += f", LSL stream {s['stream']!r}"
        return {"Manufacturer": "n/a (simulated data, no EEG amplifier)", "ManufacturersModelName": model,
                "description": f"simulated EEG: {model}; no person was recorded"}
    if kind == "replay":
        model = f"replay of the recording {s.get('file', '?')} over LSL"
        return {"Manufacturer": "n/a (a replayed recording)", "ManufacturersModelName": model,
                "description": f"a recording replayed in real time: {s.get('file', '?')}"}
    if kind == "brainflow" or "board_id" in s:
        bid = s.get("board_id")
        name = _board_name(bid) if bid is not None else None
        if bid is not None and int(bid) == -1:
            model = "BrainFlow SYNTHETIC_BOARD (board id -1)"
            return {"Manufacturer": "n/a (BrainFlow synthetic board: generated signals, no EEG amplifier)",
                    "ManufacturersModelName": model, "description": f"generated signals: {model}"}
        if bid is not None and int(bid) == -3:
            model = f"BrainFlow playback of {(s.get('params') or {}).get('file', '?')} (board id -3)"
            return {"Manufacturer": "n/a (a BrainFlow playback file)", "ManufacturersModelName": model,
                    "description": model}
        maker = next((m for key, m in _BRAINFLOW_MAKERS if name and key in name), "n/a")
        model = f"BrainFlow board {name or '?'} (board id {bid})"
        return {"Manufacturer": maker, "ManufacturersModelName": model, "description": f"EEG from the {model}"}
    if kind == "lsl":
        model = f"LSL stream {s.get('name', '?')!r} (type {s.get('type') or '?'})"
        return {"Manufacturer": str(s.get("manufacturer") or "n/a (an LSL stream; its device is not recorded)"),
                "ManufacturersModelName": model, "description": f"EEG from the {model}"}
    return {"Manufacturer": "n/a", "ManufacturersModelName": "n/a",
            "description": f"source {kind or 'unknown'}"}


def _patch_sidecar(path: Path, fields: dict) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(fields)
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")


# ----------------------------------------------------------------------------- writing
def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _read_tsv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
        return (list(rows[0].keys()) if rows else []), rows


def _merge_scans(staged: Path, target: Path) -> None:
    """Add the rows of the staged ``scans.tsv`` to the session's (replacing the same file's row)."""
    cols, new = _read_tsv(staged)
    old_cols, old = _read_tsv(target) if target.is_file() else ([], [])
    names = {r["filename"] for r in new}
    rows = [r for r in old if r.get("filename") not in names] + new
    cols = list(dict.fromkeys(old_cols + cols))
    tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, cols, delimiter="\t", restval="n/a", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_run_atomic(raw, root, subject: str, session: str | None, task: str, run: int,
                     source: dict | None = None) -> mne_bids.BIDSPath:
    """Write ``raw`` as one BIDS-EEG run of the session folder ``root``, all or nothing.

    Returns the run's ``BIDSPath`` (``.vhdr``) under ``root``. On any error the staging
    folder is removed and the error re-raised; files of the run already under ``sub-*/``
    from an earlier conversion are only replaced once the new ones are complete.
    """
    root = Path(root)
    stage = root / f"{STAGING_PREFIX}task-{task}_run-{run}"
    shutil.rmtree(stage, ignore_errors=True)  # a conversion that was killed
    kw = dict(subject=subject, session=session, task=task, run=run, datatype="eeg", suffix="eeg",
              extension=".vhdr")
    staged = mne_bids.BIDSPath(root=stage, **kw)
    final = mne_bids.BIDSPath(root=root, **kw)
    try:
        stage.mkdir()
        with warnings.catch_warnings():
            # the conversion to BrainVision and the unknown line frequency are expected
            warnings.simplefilter("ignore")
            mne_bids.write_raw_bids(raw, staged, format="BrainVision", allow_preload=True, overwrite=True,
                                    verbose=False)
        side = source_sidecar(source)
        eeg_dir = staged.fpath.parent
        base = staged.copy().update(suffix=None, extension=None).basename
        _patch_sidecar(eeg_dir / f"{base}_eeg.json",
                       {"Manufacturer": side["Manufacturer"], "ManufacturersModelName": side["ManufacturersModelName"],
                        "SoftwareVersions": f"neurospell {__version__}"})
        files = sorted(p for p in eeg_dir.iterdir() if p.name.startswith(base + "_"))
        for p in files:
            _fsync_file(p)
        dest = final.fpath.parent
        dest.mkdir(parents=True, exist_ok=True)
        # the header last: a .vhdr in place means its .eeg and .vmrk are complete
        for p in sorted(files, key=lambda q: q.suffix == ".vhdr"):
            os.replace(p, dest / p.name)
        scans = next(iter(staged.fpath.parent.parent.glob("*_scans.tsv")), None)
        if scans is not None:
            _merge_scans(scans, dest.parent / scans.name)
        for name in ("participants.tsv", "participants.json", "README", "dataset_description.json"):
            if (stage / name).is_file() and not (root / name).exists():
                os.replace(stage / name, root / name)
        return final
    finally:
        shutil.rmtree(stage, ignore_errors=True)
