"""A live rig: what a live session runs on, opened together and closed together.

A rig is the source (a BrainFlow board, an LSL stream, a recording replayed over LSL, a
simulated participant process), the LSL marker outlet the session's flash markers go out
on, the session folder and the language model. :class:`ConnectRequest` says what to open;
:class:`Connection` is what an opened rig offers its users (the command line, the GUI, the
benchmarks); :class:`Connector` opens them for a window.

:func:`open_rig` is the one place a rig is assembled: ``neurospell spell``, the GUI (through
:class:`RigConnector`) and ``benchmarks/bench_live.py`` all open theirs with it. The
:class:`Rig` it returns owns every resource it opened and closes them all, in reverse
order, on any exit path (a failure while opening included); :func:`lsl_source` is the one
place an LSL source is built from the ``[acquisition]`` settings.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from neurospell.acquisition import LslMarkerOutlet, LslSource, list_streams, open_source
from neurospell.check import NeurospellError, StreamError
from neurospell.config import AcquisitionConfig, Config
from neurospell.lm_fusion import make_model
from neurospell.logs import logger
from neurospell.lsl import configure_lsl
from neurospell.preprocessing import load_recording

from .markerlink import MARKER_PREFIX, marker_link_problem, session_source_id
from .replay import replay_lsl
from .sessiondir import SessionFolder
from .simulator import ParticipantProcess

__all__ = ["SOURCE_KINDS", "ConnectRequest", "Connection", "Connector", "Rig", "RigConnector", "open_rig",
           "lsl_source"]

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
    """Opens sources for the window (``neurospell gui`` supplies a :class:`RigConnector`; the
    GUI imports no stage)."""

    def list_streams(self) -> list[dict]:
        """The LSL streams visible: dicts with ``name``, ``type``, ``n_channels``, ``sfreq``."""

    def connect(self, request: ConnectRequest, config: Config) -> Connection:
        """Open and start the source ``request`` names."""


#: The stream type of the EEG outlets this package publishes (the simulated participant's, a
#: replayed recording's): :class:`~neurospell.acquisition.LslEegOutlet`'s default.
OWN_EEG_TYPE = "EEG"


def lsl_source(stream: str, acquisition: AcquisitionConfig, *, marker_name: str | None,
               stype: str | None = None) -> LslSource:
    """The (not yet started) LSL source of a rig, with every ``[acquisition]`` setting.

    Parameters
    ----------
    stream : str
        The EEG stream's name.
    acquisition : AcquisitionConfig
        Resolve timeout, buffer length, poll interval, stall timeout, gap tolerance, types.
    marker_name : str | None
        The marker stream read with it (a rig's own marker outlet: its markers come back
        with the EEG's timestamps).
    stype : str | None
        The EEG stream's type (default ``acquisition.lsl_eeg_type``: a stream of someone
        else's; the streams of this package are of type :data:`OWN_EEG_TYPE`).
    """
    return LslSource(stream, acquisition.lsl_eeg_type if stype is None else stype, marker_name=marker_name,
                     marker_type=acquisition.lsl_marker_type, timeout=acquisition.resolve_timeout,
                     buffer_seconds=acquisition.buffer_seconds, poll_interval=acquisition.poll_interval,
                     stall_timeout=acquisition.stall_timeout, gap_tolerance=acquisition.gap_tolerance)


class Rig:
    """An opened rig (see :func:`open_rig`); implements :class:`Connection`.

    A context manager: leaving the ``with`` block closes it. :meth:`close` may also be
    called directly (more than once).

    Attributes
    ----------
    source, marker_outlet, ch_names, sfreq, folder, lm, lm_name, description
        See :class:`Connection`.
    session_folder : SessionFolder | None
        The session folder (``folder`` is its path).
    participant : ParticipantProcess | None
        The simulated participant process (``kind="simulated"``).
    decoder_name : str | None
        Passed on to :class:`LiveSession` by :meth:`session_kwargs` (``None``: ``[decoder] name``).
    warnings : list of str
        What the rig found wrong while opening but could run with (e.g. the participant behind
        an LSL stream follows another session's markers).
    close_errors : list of BaseException
        What failed while closing (each resource is closed even when another fails).
    """

    def __init__(self):
        self.source = None
        self.marker_outlet = None
        self.participant = None
        self.session_folder = None
        self.folder: Path | None = None
        self.ch_names: tuple = ()
        self.sfreq = 0.0
        self.lm = None
        self.lm_name: str | None = None
        self.decoder_name: str | None = None
        self.description = ""
        self.warnings: list[str] = []
        self.close_errors: list[BaseException] = []
        self._closers: list[tuple[str, Callable[[], object]]] = []
        self._reader = None

    def _own(self, what: str, close: Callable[[], object]) -> None:
        """Close ``what`` with ``close()`` when the rig closes (last owned, first closed)."""
        self._closers.append((what, close))

    @property
    def child_exit(self) -> str | None:
        """Why the simulated participant process exited by itself (``None`` while it runs, or
        without one)."""
        return None if self.participant is None else self.participant.exit_message

    def read_samples(self):
        """The :class:`~neurospell.types.SampleChunk` that arrived since the last call, or ``None``."""
        try:
            if self._reader is None:
                self._reader = self.source.reader()
            chunk, _markers = self._reader.read()
        except StreamError:
            return None
        return chunk

    def session_kwargs(self) -> dict:
        """``folder`` and ``decoder_name`` for :class:`~neurospell.session.live.LiveSession`."""
        return {"folder": self.session_folder, "decoder_name": self.decoder_name}

    def close(self) -> None:
        """Close every resource the rig opened, the last opened first; each close is attempted
        even when another fails (failures are logged and kept in :attr:`close_errors`)."""
        while self._closers:
            what, close = self._closers.pop()
            try:
                close()
            except Exception as err:  # noqa: BLE001 - the others must close too
                logger.warning("closing the rig's %s failed: %s", what, err)
                self.close_errors.append(err)

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _say_default(message: str) -> None:
    logger.info("rig: %s", message)


def open_rig(request: ConnectRequest, config: Config, *, out=None, overwrite: bool = False,
             lm_name: str | None = None, lm=None, participant_args: Sequence = (), participant_about: str | None = None,
             seed: int | None = None, config_path=None, tag: str | None = None,
             say: Callable[[str], None] | None = None, connect_timeout: float = 30.0) -> Rig:
    """Open a live rig: the language model, the marker outlet, the source, the session folder.

    Returns the opened :class:`Rig`, a context manager that closes everything it opened
    (``with open_rig(...) as rig:``). When opening fails, whatever was already opened is
    closed (the last opened first) before the error propagates.

    Parameters
    ----------
    request : ConnectRequest
        What to open: ``"simulated"`` (a simulated participant process over LSL on loopback,
        intending ``request.phrase``, default ``"HELLO WORLD"``), ``"synthetic"`` (BrainFlow's
        synthetic board: the markers go through the source, no outlet), ``"lsl"`` (the LSL EEG
        stream ``request.stream``) or ``"recording"`` (``request.recording`` replayed over LSL
        with its timing).
    config : Config
        ``[lsl]``, ``[acquisition]`` (every setting reaches the source), ``[lm]``.
    out : path-like | None
        Create the session folder here (``None``: no session folder).
    overwrite : bool
        See :meth:`SessionFolder.create`.
    lm_name : str | None
        The language model (default ``[lm] name``; ``"uniform"``: none).
    lm : LanguageModel | None
        An already loaded model of that name to use instead of loading it.
    participant_args : sequence
        More ``simulate-participant`` options (``--amplitude``, ``--seed``, ``--data`` ...).
    participant_about : str | None
        What the simulated participant is, for the session folder's metadata (default: its options).
    seed : int | None
        Recorded with a simulated participant in the session folder's metadata.
    config_path : path-like | None
        ``--config`` for the participant process (the same grid as the session's).
    tag : str | None
        Makes the stream names unique (default: the process id and a random suffix).
    say : callable ``(str) -> None`` | None
        Told what is happening and what looks wrong (default: the log).
    connect_timeout : float
        Seconds the simulated participant has to start reading the marker stream.

    Returns
    -------
    Rig
    """
    say = _say_default if say is None else say
    rig = Rig()
    try:
        _open(rig, request, config, out=out, overwrite=overwrite, lm_name=lm_name, lm=lm,
              participant_args=participant_args, participant_about=participant_about, seed=seed,
              config_path=config_path, tag=tag or f"{os.getpid()}-{uuid.uuid4().hex[:6]}", say=say,
              connect_timeout=connect_timeout)
    except BaseException:
        rig.close()
        raise
    return rig


def _open(rig: Rig, request, config, *, out, overwrite, lm_name, lm, participant_args, participant_about, seed,
          config_path, tag, say, connect_timeout) -> None:
    configure_lsl(config.lsl)
    acq = config.acquisition
    name = lm_name or config.lm.name
    if name != "uniform":
        rig.lm, rig.lm_name = (make_model(name, config.lm) if lm is None else lm), name
    kind = request.kind
    if kind == "synthetic" and config.speller.flash_strategy != "row-column":
        raise NeurospellError(
            f"[speller] flash_strategy = {config.speller.flash_strategy!r} names the symbols of each flash in its "
            "marker (flash:0:members=...), which the BrainFlow synthetic board's marker channel (integers only) "
            "cannot record; use flash_strategy = \"row-column\" with --source synthetic, or a source whose "
            "markers go over LSL (simulated, lsl:NAME, a recording).")
    marker_name = f"{MARKER_PREFIX}-{tag}"  # the session's marker stream
    if kind != "synthetic":
        # (the source id names the EEG read: the participant publishing it follows this session)
        rig.marker_outlet = LslMarkerOutlet(
            marker_name, source_id=session_source_id(marker_name, request.stream) if kind == "lsl" else None)
        rig._own("marker outlet", rig.marker_outlet.close)
    if kind == "simulated":
        say("starting the simulated participant ...")
        rig.participant = ParticipantProcess(request.phrase or "HELLO WORLD", marker_name, args=participant_args,
                                             config_path=config_path)
        rig._own("participant process", rig.participant.close)
        rig.source = lsl_source(rig.participant.name, acq, marker_name=marker_name, stype=OWN_EEG_TYPE)
        rig.description = f"simulated participant ({rig.participant.name}) intending {request.phrase!r}"
    elif kind == "recording":
        raw = load_recording(request.recording)
        stream = f"neurospell-replay-{tag}"
        _start_replay(rig, raw, stream)
        rig.source = lsl_source(stream, acq, marker_name=marker_name, stype=OWN_EEG_TYPE)
        rig.description = f"recording {request.recording} replayed"
    elif kind == "lsl":
        rig.source = lsl_source(request.stream, acq, marker_name=marker_name)
        rig.description = f"LSL stream {request.stream!r}"
        say(f"markers go out on the LSL stream '{marker_name}' (a `neurospell simulate-participant` started "
            "without --marker-stream follows it)")
        problem = marker_link_problem(request.stream, marker_name)
        if problem:
            rig.warnings.append(problem)
            say(f"WARNING: {problem}")
    else:
        rig.source = open_source("synthetic", acq)
        rig.description = "BrainFlow synthetic board (no P300 in it: for trying the window)"
    rig.source.start()
    rig._own("source", rig.source.stop)
    rig.ch_names, rig.sfreq = tuple(rig.source.ch_names), float(rig.source.sfreq)
    if rig.participant is not None and not rig.participant.wait_connected(connect_timeout):
        raise NeurospellError("The simulated participant did not connect to the marker stream: "
                              + " | ".join(rig.participant.lines[-5:]))
    if out is not None:
        rig.session_folder = SessionFolder.create(out, config=config, overwrite=overwrite)
        rig._own("session folder", rig.session_folder.close)
        rig.folder = Path(rig.session_folder.root)
        rig.session_folder.set_source(_source_record(rig, request, participant_args, participant_about, seed))


def _start_replay(rig: Rig, raw, stream: str) -> None:
    """Replay ``raw`` over LSL as ``stream`` on a thread the rig stops (and waits for) on close."""
    stop = threading.Event()

    def run():
        try:
            replay_lsl(raw, name=stream, wait_for_consumers=None, stop=stop.is_set)
        except Exception as err:  # noqa: BLE001 - the source says the stream is lost
            logger.warning("replaying the recording over LSL failed: %s", err)

    thread = threading.Thread(target=run, name="neurospell-rig-replay", daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join(10.0)

    rig._own("replay thread", close)


def _source_record(rig: Rig, request, participant_args, participant_about, seed) -> dict:
    """What the session's EEG is, for the session folder's BIDS metadata (``SessionFolder.set_source``)."""
    if rig.participant is not None:
        about = participant_about or ("options: " + (" ".join(map(str, participant_args)) or "the defaults"))
        record = {"kind": "simulated", "participant": about, "stream": rig.participant.name}
        return record if seed is None else {**record, "seed": seed}
    if request.kind == "recording":
        return {"kind": "replay", "file": os.path.abspath(request.recording)}
    return rig.source.describe()


class RigConnector:
    """The :class:`Connector` of ``neurospell gui``: each connection is a :class:`Rig` with a
    new session folder under ``folder``.

    Parameters
    ----------
    folder : path-like | None
        Root of the session folders (default ``~/neurospell-sessions``).
    lm_name, decoder_name : str | None
        The language model (default ``[lm] name``) and the decoder trained after calibration.
    config_path : path-like | None
        ``--config`` for the simulated participant.
    participant_args : sequence
        More ``simulate-participant`` options.
    """

    def __init__(self, *, folder=None, lm_name: str | None = None, decoder_name: str | None = None,
                 config_path=None, participant_args=()):
        self.config_path = config_path
        self.participant_args = tuple(participant_args)
        self.root = Path(folder).expanduser() if folder else Path.home() / "neurospell-sessions"
        self.lm_name = lm_name
        self.decoder_name = decoder_name
        self._lms: dict = {}  # loaded once per name, kept across connections

    def list_streams(self) -> list[dict]:
        return [s for s in list_streams(1.0) if s["type"].lower() != "markers"]

    def connect(self, request: ConnectRequest, config: Config) -> Rig:
        if request.phrase:
            request = dataclasses.replace(request, phrase=request.phrase.upper())
        tag = f"gui-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        name = self.lm_name or config.lm.name
        self.root.mkdir(parents=True, exist_ok=True)
        rig = open_rig(request, config, out=self.root / f"session-{time.strftime('%Y%m%d-%H%M%S')}-{tag}",
                       lm_name=name, lm=self._lms.get(name), participant_args=self.participant_args,
                       config_path=self.config_path, tag=tag)
        if rig.lm is not None:
            self._lms[name] = rig.lm
        rig.decoder_name = self.decoder_name
        return rig
