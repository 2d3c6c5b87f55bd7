"""The generator for a ``simulate-participant --mode``."""

from __future__ import annotations

from neurospell.check import NeurospellError
from neurospell.preprocessing import load_recording

from .parametric import ParametricGenerator
from .recording import RealEpochGenerator, RecordingGenerator

__all__ = ["open_generator"]


def open_generator(mode: str, *, data=None, exclude_first_chars=3, **params):
    """A generator for ``mode``: ``"parametric"``, or with ``data`` (a recording path) ``"real"``
    (:class:`RealEpochGenerator`, single-trial epochs) or ``"average"`` (:class:`RecordingGenerator`,
    the recording's average responses)."""
    if mode == "parametric":
        return ParametricGenerator(**params)
    if mode in ("real", "average"):
        if data is None:
            raise NeurospellError(f"The {mode}-epoch participant needs a recording (data=...).")
        raw = load_recording(data)
        cls = RealEpochGenerator if mode == "real" else RecordingGenerator
        return cls(raw, exclude_first_chars=exclude_first_chars, **params)
    raise NeurospellError(f"mode must be 'parametric', 'real' or 'average', got {mode!r}.")

