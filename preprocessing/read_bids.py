"""Recordings inside a BIDS tree: the ``events.tsv`` sidecar and the neurospell session they belong to.

A BIDS-EEG run stores its data in the format's own file (BrainVision ``.vhdr``, EDF, ...),
whose markers are only integer codes (a ``.vmrk`` holds ``S 22``); the events' meaning is
the ``trial_type`` column of the run's ``*_events.tsv``. :func:`apply_bids` replaces the
annotations the format reader made with those of ``events.tsv`` (read by
:func:`mne_bids.events_file_to_annotation_kwargs`, as :func:`mne_bids.read_raw_bids`
reads them), so a run written by a neurospell session carries exactly the annotations of
the recording it came from (``flash/3/target``, ``trial/4/A``, ``phrase/test/HELLO``,
``select:H``, ``BAD_gap``...).

A file of a neurospell session folder (a BIDS run, or a raw log in its ``sourcedata/``)
is spelled on the grid of the session's config (``derivatives/neurospell/session.json``);
its copy-spelling flashes are labelled from the copied phrase
(:func:`~.copy_labels.label_copy_flashes`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from neurospell.config import config_from_dict
from neurospell.logs import logger

from .copy_labels import copy_phrases, label_copy_flashes

__all__ = ["apply_bids", "events_sidecar", "session_layout"]

#: Where a neurospell session keeps its metadata (kept equal to neurospell.session.sessionformat).
SESSION_META = Path("derivatives") / "neurospell" / "session.json"

#: ``<entities>_<suffix>.<extension>`` of a BIDS data file (``sub-01_ses-01_task-x_run-1_eeg.vhdr``).
_BIDS_NAME = re.compile(r"^(sub-[A-Za-z0-9]+(?:_[A-Za-z0-9]+-[A-Za-z0-9]+)*)_[A-Za-z0-9]+(\.[A-Za-z0-9.]+)?$")


def events_sidecar(path) -> Path | None:
    """The ``*_events.tsv`` next to a BIDS data file, or ``None`` (not a BIDS name, or no sidecar)."""
    path = Path(path)
    name = path.name
    if name.endswith(".nsraw"):  # a raw log (sourcedata): its markers are the labels
        return None
    m = _BIDS_NAME.match(name)
    if m is None:
        return None
    side = path.parent / f"{m.group(1)}_events.tsv"
    return side if side.is_file() else None


def _events_annotations(raw, side: Path):
    """The annotations of ``events.tsv`` (``trial_type``), onsets from the first sample; ``None``
    when the file has no ``trial_type`` column (the format's own markers are kept then)."""
    import mne
    import mne_bids

    with open(side, encoding="utf-8") as f:
        columns = f.readline().rstrip("\r\n").split("\t")
    if "trial_type" not in columns:
        logger.info("%s has no trial_type column; the markers of the data file are used.", side.name)
        return None
    kw = mne_bids.events_file_to_annotation_kwargs(side, verbose="error")
    ann = mne.Annotations(kw["onset"], kw["duration"], [str(d) for d in kw["description"]])
    keep = [i for i, d in enumerate(raw.annotations.description) if str(d).startswith("BAD_ACQ_SKIP")]
    if keep:  # as mne-bids does: the reader's skips in the data stay
        ann = ann + raw.annotations[keep]
    return ann


def session_layout(path):
    """The speller grid of the neurospell session folder holding ``path``, or ``None`` (not in
    one, or its config is not recorded)."""
    path = Path(path).absolute()
    for root in list(path.parents)[:6]:
        meta = root / SESSION_META
        if meta.is_file():
            try:
                data = json.loads(meta.read_text(encoding="utf-8")).get("config")
                return config_from_dict(data).speller.layout() if data else None
            except (OSError, ValueError) as err:
                logger.warning("%s: the session's config could not be read (%s).", meta, err)
                return None
    return None


def apply_bids(raw, path):
    """What a BIDS tree says about the recording ``raw`` read from ``path``.

    The ``trial_type`` of its ``*_events.tsv`` become its annotations; in a neurospell
    session folder, the flashes of copy-spelling phrases are labelled from the phrase
    (:func:`~.copy_labels.label_copy_flashes`). A file outside a BIDS tree is returned as read.

    Parameters
    ----------
    raw : mne.io.Raw
        As the format's reader returned it.
    path : Path
        The file (or ``.nsraw`` folder) it was read from.

    Returns
    -------
    raw : mne.io.Raw
        The same object.
    """
    side = events_sidecar(path)
    if side is not None:
        ann = _events_annotations(raw, side)
        if ann is not None:
            raw.set_annotations(ann)
            logger.info("%s: %d events from %s (trial_type)", Path(path).name, len(ann), side.name)
    if copy_phrases(raw.annotations.description):
        layout = session_layout(path)
        if layout is not None:
            label_copy_flashes(raw, layout)
        else:
            logger.info("%s: a copied phrase, but no session config gives the grid; its flashes stay "
                        "unlabelled.", Path(path).name)
    return raw
