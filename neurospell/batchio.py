"""The one writer and the one reader of :class:`~neurospell.types.EpochBatch` files (``.npz``).

Written by ``neurospell replay FILE --save-epochs OUT`` and :func:`save_batch`; read by
:func:`load_batch` (and so by ``neurospell train`` / ``evaluate`` given an ``.npz``).

A file holds the arrays of the batch and two identification entries, ``format``
(``"neurospell-epochs"``) and ``version`` (:data:`BATCH_VERSION`); ``targets`` and ``trials``
are left out when the batch has none. Files from before the versioned format (with or
without ``has_targets`` / ``has_trials``) still read.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .check import NeurospellError, check_fname, validate_type
from .types import EpochBatch

__all__ = ["save_batch", "load_batch", "BATCH_FORMAT", "BATCH_VERSION"]

BATCH_FORMAT = "neurospell-epochs"
BATCH_VERSION = 1
_REQUIRED = ("data", "codes", "onsets", "tmin", "sfreq", "ch_names")


def save_batch(batch: EpochBatch, fname) -> Path:
    """Write an EpochBatch to an ``.npz`` file, exactly at ``fname`` (no suffix is added).

    The file is written beside its destination and renamed into place, so an interrupted
    write never leaves a half file under the name.

    Parameters
    ----------
    batch : EpochBatch
    fname : path-like
        Destination (``.npz`` by convention); an existing file is replaced.

    Returns
    -------
    path : Path
    """
    validate_type(batch, EpochBatch, "batch")
    path = check_fname(fname, "fname", must_exist=False)
    arrays = dict(
        format=np.array(BATCH_FORMAT), version=np.array(BATCH_VERSION),
        data=batch.data, codes=batch.codes, onsets=batch.onsets, tmin=np.array(batch.tmin),
        sfreq=np.array(batch.sfreq), ch_names=np.array(batch.ch_names, dtype=str),
    )
    if batch.targets is not None:
        arrays["targets"] = batch.targets
    if batch.trials is not None:
        arrays["trials"] = batch.trials
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_batch(fname) -> EpochBatch:
    """Read an EpochBatch written by :func:`save_batch` (or ``replay --save-epochs``).

    Parameters
    ----------
    fname : path-like

    Returns
    -------
    batch : EpochBatch
    """
    path = check_fname(fname, "fname")

    def fail(what):
        return NeurospellError(
            f"{str(path)!r} is not a readable neurospell epoch file: {what}. Epoch files are "
            "written by `neurospell replay FILE --save-epochs OUT.npz` (or save_batch); "
            "write it again with this version of neurospell."
        )

    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if "format" in keys:
                if str(z["format"]) != BATCH_FORMAT:
                    raise fail(f"its format is {str(z['format'])!r}, not {BATCH_FORMAT!r}")
                version = int(z["version"]) if "version" in keys else -1
                if version > BATCH_VERSION:
                    raise fail(f"it is version {version}; this neurospell reads up to {BATCH_VERSION}")
            missing = [k for k in _REQUIRED if k not in keys]
            if missing:
                raise fail(f"it lacks {missing} (it has {sorted(keys)})")
            n = z["data"].shape[0] if z["data"].ndim else 0

            def optional(key):
                if key not in keys:
                    return None
                if f"has_{key}" in keys:  # unversioned files of save_batch
                    return z[key] if bool(z[f"has_{key}"]) else None
                arr = z[key]
                return None if (arr.size == 0 and n > 0) else arr  # unversioned --save-epochs

            return EpochBatch(
                z["data"], z["codes"], z["onsets"], float(z["tmin"]), float(z["sfreq"]),
                tuple(str(c) for c in z["ch_names"]), optional("targets"), optional("trials"),
            )
    except NeurospellError as err:
        if str(err).startswith(repr(str(path))):
            raise
        raise fail(str(err).rstrip(".")) from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, TypeError) as err:
        raise fail(f"{type(err).__name__}: {err}") from None
