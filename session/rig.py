"""A live rig: what a live session runs on, opened together and closed together.

A rig is the source (a BrainFlow board, an LSL stream, a recording replayed over LSL, a
simulated participant process), the LSL marker outlet the session's flash markers go out
on, the session folder and the language model. :class:`ConnectRequest` says what to open;
:class:`Connection` is what an opened rig offers its users (the command line, the GUI, the
benchmarks); :class:`Connector` opens them for a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from neurospell.check import NeurospellError
from neurospell.config import Config

__all__ = ["SOURCE_KINDS", "ConnectRequest", "Connection", "Connector"]

#: What the connect step offers: (kind, label).
SOURCE_KINDS = (
    ("simulated", "Simulated participant (no hardware)"),
    ("synthetic", "BrainFlow synthetic board"),
    ("lsl", "LSL stream"),
    ("recording", "Recording (replayed)"),
)

@dataclass(frozen=True)
class ConnectRequest:
    """What the user chose in the connect step.

    Attributes
    ----------
    kind : ``"simulated"`` | ``"synthetic"`` | ``"lsl"`` | ``"recording"``
    stream : str | None
        ``kind="lsl"``: the EEG stream's name.
    recording : str | None
        ``kind="recording"``: the file to replay.
    phrase : str | None
        ``kind="simulated"``: what the simulated participant intends to type.
    """

    kind: str
    stream: str | None = None
    recording: str | None = None
    phrase: str | None = None

    def __post_init__(self):
        kinds = [k for k, _ in SOURCE_KINDS]
        if self.kind not in kinds:
            raise NeurospellError(f"ConnectRequest: kind must be one of {kinds}, got {self.kind!r}.")
        if self.kind == "lsl" and not self.stream:
            raise NeurospellError("Connect to an LSL stream: pick a stream from the list (Refresh lists them).")
        if self.kind == "recording" and not self.recording:
            raise NeurospellError("Connect to a recording: give the file to replay (Browse...).")


class Connection(Protocol):
    """An opened source, as a :class:`Connector` hands it to the window.

    Attributes
    ----------
    source : object
        The acquisition source (started), passed on to :class:`LiveSession` as is.
    marker_outlet : object | None
        Where the session sends its flash markers (``None``: through the source).
    ch_names : tuple of str
    sfreq : float
    folder : pathlib.Path | None
        The session folder (``Open session folder``); ``None`` when there is none.
    lm : object | None
        The language model for the session (``None``: no prior).
    lm_name : str | None
    description : str
        One line: what is connected.
    """

    source: object
    marker_outlet: object | None
    ch_names: tuple
    sfreq: float
    folder: Path | None
    lm: object | None
    lm_name: str | None
    description: str

    def read_samples(self):
        """The :class:`~neurospell.types.SampleChunk` that arrived since the last call, or ``None``."""

    def session_kwargs(self) -> dict:
        """Extra keyword arguments for :class:`LiveSession` (``folder``, ``model_path``, ...)."""

    def close(self) -> None:
        """Stop the source (and anything started with it, e.g. a participant process)."""


class Connector(Protocol):
    """Opens sources for the window (the command line supplies one; the GUI imports no stage)."""

    def list_streams(self) -> list[dict]:
        """The LSL streams visible: dicts with ``name``, ``type``, ``n_channels``, ``sfreq``."""

    def connect(self, request: ConnectRequest, config: Config) -> Connection:
        """Open and start the source ``request`` names."""
