"""Validation helpers for the public edge (MNE ``mne/utils/check.py`` style).

Each message names the parameter, says what is allowed, echoes what was passed and,
where it helps, what to do next. Private helpers trust their inputs.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

from .parts import parts_overlap, split_part


class NeurospellError(ValueError):
    """Base class of neurospell's errors on bad input (a ``ValueError``)."""


class StreamError(RuntimeError):
    """An acquisition stream failed (lost, stalled, not found)."""


class ProvenanceError(NeurospellError):
    """A model or file was made for another pipeline (channels, sampling rate, ...)."""


class AmplitudeError(ProvenanceError):
    """Epochs whose amplitude is implausible for a model's training scale (``ratio``: theirs
    over the training one): a unit error when every epoch shows it, an artifact when one does."""

    def __init__(self, message: str, ratio: float):
        super().__init__(message)
        self.ratio = float(ratio)


def _hint(hint: str | None) -> str:
    return f" {hint}" if hint else ""


def check_option(name: str, value, allowed, *, hint: str | None = None):
    """Check that ``value`` is one of ``allowed``; return it."""
    allowed = list(allowed)
    if value not in allowed:
        raise NeurospellError(
            f"Invalid value for the {name!r} parameter. Allowed values are "
            f"{', '.join(repr(a) for a in allowed)}, but got {value!r} instead.{_hint(hint)}"
        )
    return value


def validate_type(value, types, name: str, *, hint: str | None = None):
    """Check ``isinstance(value, types)``; ``"numeric"`` and ``"path-like"`` are accepted aliases."""
    if not isinstance(types, tuple):
        types = (types,)
    resolved: list = []
    names: list[str] = []
    for t in types:
        if t == "numeric":
            resolved.append(numbers.Real)
            names.append("numeric")
        elif t == "int":
            resolved.append(numbers.Integral)
            names.append("int")
        elif t == "path-like":
            resolved.extend([str, os.PathLike])
            names.append("path-like")
        elif t is None:
            resolved.append(type(None))
            names.append("None")
        else:
            resolved.append(t)
            names.append(getattr(t, "__name__", str(t)))
    if isinstance(value, bool) and bool not in resolved and numbers.Integral in resolved:
        ok = False
    else:
        ok = isinstance(value, tuple(resolved))
    if not ok:
        raise TypeError(
            f"{name} must be an instance of {' or '.join(names)}, got {type(value).__name__} "
            f"({value!r:.80}) instead.{_hint(hint)}"
        )
    return value


def check_positive(name: str, value, *, strict: bool = True, allow_none: bool = False):
    """Check that ``value`` is a finite real number > 0 (``>= 0`` if ``strict=False``)."""
    if value is None and allow_none:
        return None
    validate_type(value, "numeric", name)
    value = float(value)
    bad = not np.isfinite(value) or (value <= 0 if strict else value < 0)
    if bad:
        rel = "> 0" if strict else ">= 0"
        raise NeurospellError(f"{name} must be a finite number {rel}, got {value!r}.")
    return value


def check_range(name: str, value, lo=None, hi=None):
    """Check ``lo <= value <= hi`` for a finite real ``value``."""
    validate_type(value, "numeric", name)
    value = float(value)
    if not np.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise NeurospellError(f"{name} must be a finite number in [{lo}, {hi}], got {value!r}.")
    return value


def check_fname(fname, name: str = "fname", *, must_exist: bool = True, overwrite: bool = True) -> Path:
    """Resolve a path; check that it exists (reading) or that its folder is writable (writing)."""
    validate_type(fname, "path-like", name)
    path = Path(fname).expanduser()
    if must_exist:
        if not path.exists():
            raise FileNotFoundError(f"{name}: the file {str(path)!r} does not exist. Check the path.")
        return path
    if path.exists() and not overwrite:
        raise FileExistsError(f"{name}: {str(path)!r} exists; pass overwrite=True or choose another path.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FileNotFoundError(
            f"{name}: the folder {str(parent)!r} of the output file {str(path)!r} does not exist. "
            "Create it first or choose another output path."
        )
    if not os.access(parent, os.W_OK):
        raise PermissionError(
            f"{name}: the folder {str(parent)!r} is not writable, so {str(path)!r} cannot be written. "
            "Choose an output path in a writable folder."
        )
    return path


def check_distinct_paths(name: str, paths, *, why: str = "") -> list[Path]:
    """Check that no file is given twice in ``paths`` (the same file under two spellings too).

    Parameters
    ----------
    name : str
        The parameter, for the message.
    paths : sequence of path-like
        Existing files or folders.
    why : str
        What a repeat would do, appended to the message.

    Returns
    -------
    paths : list of Path
    """
    out = [Path(p) for p in paths]
    seen: dict = {}
    for k, p in enumerate(out):
        file, part = split_part(p)  # FILE:PART: parts of one file overlap unless they differ
        try:
            st = file.stat()
            key = (st.st_dev, st.st_ino)
        except OSError:  # a missing path is reported by whoever opens it
            key = str(file.resolve())
        for j, part_j in seen.get(key, []):
            if parts_overlap(part, part_j):
                same = f"{str(out[j])!r} (item {j + 1}) and {str(p)!r} (item {k + 1}) are the same file"
                if part is not None or part_j is not None:
                    same += " (or overlapping parts of it)"
                raise NeurospellError(f"{name}: {same}.{_hint(why)} Give each file once (or the one you meant "
                                      "instead of the repeat).")
        seen.setdefault(key, []).append((k, part))
    return out


def check_array(name: str, value, *, ndim: int | None = None, dtype=None, finite: bool = False) -> np.ndarray:
    """Convert to an ndarray and check its dimensionality (and finiteness)."""
    arr = np.asarray(value, dtype=dtype)
    if ndim is not None and arr.ndim != ndim:
        raise NeurospellError(f"{name} must be a {ndim}-D array, got shape {arr.shape}.")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NeurospellError(f"{name} must contain only finite values; {n_bad} are NaN or infinite.")
    return arr


def shared_data_dir() -> Path | None:
    """The folder of shared real recordings: ``$NEUROSPELL_SHARED_DATA`` or ``../shared/data``.

    Returns ``None`` when neither exists.
    """
    env = os.environ.get("NEUROSPELL_SHARED_DATA")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parent.parent
    candidates.append(root.parent / "shared" / "data")
    candidates.append(Path.cwd().parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None
