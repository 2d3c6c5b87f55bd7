"""What a live session writes to its session folder: each run's rawlog and the decision log.

:class:`PhaseRecorder` opens the rawlog of a run when its phase begins (the
:class:`~neurospell.session.live.pump.StreamPump` writes the samples and markers read into
:attr:`PhaseRecorder.writer`), closes it when the phase ends and converts it to BIDS (in the
training process when there is one, the stream read meanwhile), and writes the decision
log's records with the current run's task. Without a folder it records nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from neurospell.logs import logger
from neurospell.lsl import local_clock

__all__ = ["PhaseRecorder"]


class PhaseRecorder:
    """The session folder's writer for a live session's phases.

    Parameters
    ----------
    folder : SessionFolder | None
        Where the runs and the decision log go (``None``: nowhere).
    source : BaseSource
        The source whose channels are recorded.

    Attributes
    ----------
    task : str | None
        The task of the run being recorded (``None``: none).
    writer : RawLogWriter | None
        The rawlog of the run being recorded.
    """

    def __init__(self, folder, source):
        self.folder = folder
        self.source = source
        self.task: str | None = None
        self.writer = None

    def log(self, record: dict) -> None:
        """Write ``record`` to the decision log, with the current run's task and run number."""
        if self.folder is not None:
            if self.task is not None:
                record = {**record, "task": self.task, "run": self.folder.current_run(self.task)}
            self.folder.log(record)

    def begin(self, name: str, task: str | None, text: str | None) -> None:
        """A phase ``name`` starts a run of ``task``: open its rawlog, log the phase."""
        self.task = task if self.folder is not None else None
        if self.folder is None or task is None:
            return
        src = self.source
        self.writer = self.folder.rawlog_writer(task, src.ch_names, src.ch_types, src.sfreq,
                                                source=src.describe())
        extra = {"target": text} if name == "copy" else {}
        self.folder.log_phase(name, task=task, text="", t=local_clock(), **extra)

    def end(self, *, disk_full: BaseException | None, executor, announce: Callable[[str], None]) -> None:
        """Close the run's rawlog and convert it to BIDS.

        Parameters
        ----------
        disk_full : BaseException | None
            The write that failed for lack of room: the rawlog is closed, not converted
            (the run stays "recording" for ``neurospell recover``).
        executor : Executor | None
            Where the conversion runs (``None``: here).
        announce : callable ``(str) -> None``
            Says that the run is being written (it can take seconds).
        """
        if self.writer is None:
            self.task = None
            return
        writer, self.writer = self.writer, None
        if disk_full is not None:  # no room to convert: the run stays "recording" for recover
            try:
                writer.close()
            except OSError:
                pass  # what is on disk stays readable
            self.task = None
            return
        if writer.n_samples == 0:  # stopped before the run's first sample: nothing to convert
            writer.close()
            self.task = None
            self.folder.recover()  # (the run is marked "empty", not left "recording")
            return
        writer.close()
        task, self.task = self.task, None
        announce(f"writing the {task} run to the session folder")
        path = self.folder.finish_phase(task, executor=executor)
        logger.info("LiveSession: %s run written to %s", task, path)

    def log_flash(self, onset: float, group: int, score: float, trial: int) -> None:
        """Log a scored flash of the run being recorded."""
        if self.folder is not None and self.task is not None:
            self.folder.log_flash(onset, group, score, trial=trial, task=self.task)

    def log_decision(self, dec, *, t: float, phase: str, intended, latency: float) -> None:
        """Log a decision of the run being recorded."""
        if self.folder is not None:
            self.folder.log_decision(dec, t=t, task=self.task, phase=phase, intended=intended, latency=latency)

    def stored_path(self, path) -> str:
        """A path as the decision log stores it: relative to the session folder inside it."""
        return str(path) if self.folder is None else self.folder.relative(path)
