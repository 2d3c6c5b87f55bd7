"""BrainFlow files (``DataFilter.write_file``) and neurospell's own raw log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurospell import rawlog
from neurospell.check import NeurospellError

from .read_events import _events_to_annotations


def _read_brainflow(path: Path, *, board_id=None):
    import mne
    from brainflow.board_shim import BoardShim
    from brainflow.data_filter import DataFilter

    sidecar = Path(str(path) + ".json")
    meta = {}
    if sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError as err:
            raise NeurospellError(f"its sidecar {sidecar.name} is not valid JSON ({err})") from None
    if board_id is None:
        board_id = meta.get("board_id")
    if board_id is None:
        raise NeurospellError(
            "BrainFlow files do not store the board, and no board_id was given",
            )
    board_id = int(board_id)
    try:
        desc = BoardShim.get_board_descr(board_id)
    except Exception:
        raise NeurospellError(f"board_id={board_id} is not a BrainFlow board id") from None
    data = DataFilter.read_file(str(path))
    if data.ndim != 2 or data.shape[1] < 1:
        raise NeurospellError(f"it holds no samples (array of shape {data.shape})")
    n_rows = int(desc["num_rows"])
    if data.shape[0] != n_rows:
        raise NeurospellError(
            f"it has {data.shape[0]} rows per sample, but board {board_id} writes {n_rows}; "
            "pass the board_id the file was recorded with"
        )
    eeg_rows = list(desc.get("eeg_channels", []))
    names = desc.get("eeg_names", "")
    names = names.split(",") if names else [f"EEG{i + 1}" for i in range(len(eeg_rows))]
    if len(names) != len(eeg_rows):
        names = [f"EEG{i + 1}" for i in range(len(eeg_rows))]
    sfreq = float(meta.get("sfreq", desc["sampling_rate"]))
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(data[eeg_rows] * 1e-6, info, verbose="error")
    if "marker_channel" in desc:
        m = data[int(desc["marker_channel"])]
        idx = np.flatnonzero(m)
        _events_to_annotations(raw, idx, [int(round(v)) for v in m[idx]])
    return raw


def _read_rawlog(path: Path):
    return rawlog.rawlog_to_raw(path, verbose="error")
