"""Record any source to disk while it runs, crash-safe; FIF (and BrainVision/EDF) on stop."""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from neurospell.check import (
    NeurospellError,
    StreamError,
    check_fname,
    check_option,
    check_positive,
    validate_type,
)
from neurospell.diskspace import is_no_room, no_room_why
from neurospell.logs import logger, warnings_to_log
from neurospell.rawlog import SUFFIX, RawLogWriter, rawlog_to_fif

from .base import BaseSource

#: MNE's expected export warnings, said in the recording's words (see neurospell.logs.warnings_to_log).
_EXPORT_WARNINGS = (
    (r"([\d.]+) seconds of edge values were appended", "EDF stores whole data blocks, so its last {} s repeat the "
     "final sample values (the FIF holds the exact recording).", logging.WARNING),
    (r"Converting to float32", None, logging.INFO),
)

_EXPORT_EXT = {"brainvision": ".vhdr", "edf": ".edf"}
#: Write errors that mean "no room left" (full disk, quota, file size limit).


def _probe_writable(folder: Path) -> None:
    """Create and remove a file in ``folder`` (``os.access`` says yes to root even where writes fail)."""
    probe = folder / f".neurospell-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            f"path: cannot write in the folder {str(folder)!r} ({err.strerror or err}). Choose an "
            "output path in a writable folder."
        ) from None


class Recorder:
    """Write a source's samples and markers to disk as they arrive.

    While it runs it appends to a crash-safe rawlog folder (``<path stem>.nsraw``, see
    :mod:`neurospell.rawlog`), fsynced every ``flush_interval`` seconds: if the process is
    killed, at most that much is lost and ``neurospell recover <path stem>.nsraw --out
    FILE.fif`` (:func:`neurospell.rawlog.rawlog_to_fif`) converts the rest. :meth:`stop`
    writes the FIF file (markers as annotations) and the optional exports, then removes
    the rawlog unless ``keep_rawlog``.

    A write that fails (full disk, quota, file-size limit, I/O error) stops the recording
    at once: :attr:`error` is set, :attr:`failed` is set (the command line polls it), and
    :meth:`stop` raises a :class:`~neurospell.check.StreamError` naming the crash copy,
    which stays readable (a record cut in half by the failed write is ignored by the
    reader). No FIF is attempted then: the disk has no room for it.

    An existing ``.nsraw`` folder at the crash-copy path (a recording that did not finish)
    is never deleted: without ``overwrite`` the Recorder refuses to start, with it the
    folder is renamed ``<path stem>.moved-<time>.nsraw`` (logged, and kept in
    :attr:`moved_rawlog`).

    Parameters
    ----------
    source : BaseSource
        A started or not yet started source (started by :meth:`start` if needed).
    path : path-like
        Output FIF file (``.fif`` is appended when the name has another ending; MNE
        prefers names ending in ``raw.fif``).
    flush_interval : float
        Seconds between disk syncs (> 0, default 0.5).
    export : sequence of {"brainvision", "edf"}
        Extra formats written next to the FIF on stop (via ``mne.export.export_raw``).
    keep_rawlog : bool
        Keep the rawlog folder after a clean stop.
    overwrite : bool
        Replace existing output files; move an existing crash copy aside (see above).

    Attributes
    ----------
    n_samples, n_markers : int
        Written so far.
    moved_rawlog : Path | None
        Where an earlier crash copy was moved to.
    failed : threading.Event
        Set when recording stopped by an error (:attr:`error`).
    """

    def __init__(self, source, path, *, flush_interval=0.5, export=(), keep_rawlog=False, overwrite=False):
        validate_type(source, BaseSource, "source")
        path = Path(check_fname(path, "path", must_exist=False, overwrite=overwrite))
        if not path.name.endswith(".fif"):
            path = path.with_name(path.name + ".fif")
        _probe_writable(path.parent)
        self.source = source
        self.path = path
        self.flush_interval = check_positive("flush_interval", flush_interval)
        self.export = tuple(check_option("export", e, tuple(_EXPORT_EXT)) for e in export)
        for fmt, module in (("brainvision", "pybv"), ("edf", "edfio")):
            if fmt in self.export and importlib.util.find_spec(module) is None:
                raise NeurospellError(
                    f"export={fmt!r} needs the {module!r} package, which is not installed: "
                    f"`pip install {module}`, or record to FIF only."
                )
        self.keep_rawlog = bool(keep_rawlog)
        self.overwrite = bool(overwrite)
        stem = path.name[: -len(".fif")]
        self.rawlog_path = path.with_name(stem + SUFFIX)
        self.moved_rawlog = None
        if self.rawlog_path.exists():
            if not overwrite:
                raise FileExistsError(
                    f"path: a crash copy {str(self.rawlog_path)!r} already exists (a recording that did "
                    f"not finish, or one kept with keep_rawlog). Convert it first with `neurospell recover "
                    f"{self.rawlog_path} --out FILE.fif`, choose another output path, or pass overwrite=True "
                    "(`--overwrite`) to move it aside (it is kept, renamed)."
                )
            stamp = time.strftime("%Y%m%d-%H%M%S")
            moved = self.rawlog_path.with_name(f"{stem}.moved-{stamp}{SUFFIX}")
            k = 1
            while moved.exists():
                moved = self.rawlog_path.with_name(f"{stem}.moved-{stamp}-{k}{SUFFIX}")
                k += 1
            os.replace(self.rawlog_path, moved)
            self.moved_rawlog = moved
            logger.warning("Recorder: an earlier crash copy %s was moved to %s (not deleted); convert it "
                           "with `neurospell recover %s --out FILE.fif`.", self.rawlog_path, moved, moved)
        self._thread = None
        self._stop = threading.Event()
        self.failed = threading.Event()
        self._error = None
        self._writer = None
        self.n_samples = 0
        self.n_markers = 0

    def start(self):
        """Start recording (starts the source if it is not running). Returns ``self``."""
        if self._thread is not None:
            raise NeurospellError("This Recorder is already started; a Recorder records once.")
        started_here = not self.source.running
        if started_here:
            self.source.start()
        # from the first sample when this recorder started the source, from now otherwise
        self._reader = self.source.reader(from_start=started_here)
        src = self.source
        try:
            self._writer = RawLogWriter(self.rawlog_path, src.ch_names, src.ch_types, src.sfreq,
                                        source=src.describe(), flush_interval=self.flush_interval)
        except OSError as err:
            if started_here:
                src.stop()
            raise StreamError(f"Could not start recording to {str(self.rawlog_path)!r}: {self._why(err)}.") from err
        self._thread = threading.Thread(target=self._run, name="neurospell-recorder", daemon=True)
        self._thread.start()
        logger.info("Recording %s to %s", src, self.rawlog_path)
        return self

    def _drain(self) -> None:
        chunk, events = self._reader.read()
        for gap in self._reader.new_gaps():
            self._writer.write_event({"type": "gap", "t": gap.onset, "n_samples": gap.n_samples,
                                      "duration": gap.duration, "sample_index": gap.sample_index - self._first,
                                      "kind": gap.kind})
        if chunk is not None:
            if self._first is None:
                self._first = chunk.first_index
            self._writer.write_samples(chunk.data, chunk.timestamps)
            self.n_samples += chunk.n_samples
        for ev in events:
            self._writer.write_event({"type": "marker", "t": ev.timestamp, "code": ev.code, "label": ev.label})
            self.n_markers += 1

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the recording (``None`` while it runs normally)."""
        return self._error

    @staticmethod
    def _why(err: OSError) -> str:
        if is_no_room(err):  # (also NumPy's short write, which has no errno)
            return f"{no_room_why(err)} ({err.strerror or err})"
        return f"a write failed ({err.strerror or err})"

    @staticmethod
    def _fix(err: OSError) -> str:
        if err.errno == errno.EFBIG:
            return "raise the file-size limit (`ulimit -f`)"
        return "free some space" if is_no_room(err) else "fix the cause"

    def _run(self) -> None:
        self._first = self._reader._cursor
        try:
            while not self._stop.is_set():
                self._reader.wait(min(0.1, self.flush_interval))
                self._drain()
                self._writer._maybe_sync()
        except BaseException as err:  # noqa: BLE001 - re-raised by stop()
            if isinstance(err, OSError):
                logger.error("Recorder: recording stopped: %s after %d samples; what was written is in %s.",
                             self._why(err), self.n_samples, self.rawlog_path)
            else:
                logger.error("Recorder: %s", err)
            self._error = err
            self.failed.set()
        finally:
            try:
                self._writer.sync()
            except OSError:
                pass  # the failed write above is the error; what is on disk stays readable

    def stop(self, *, stop_source: bool = False) -> Path:
        """Stop recording, write the FIF (and exports) and return the FIF path.

        If the source stopped delivering samples and has not come back (stalled, lost, or
        its thread died), the time from its last sample to now is recorded as a gap of kind
        ``"ended"`` (see :meth:`BaseSource.report_trailing_gap`): missing time at the end
        counts as missing.

        Parameters
        ----------
        stop_source : bool
            Also stop the source.

        Raises
        ------
        StreamError
            When recording stopped by an error (its cause is the ``__cause__``): a failed
            write (nothing more is written; the crash copy is kept and named), or a source
            error (the FIF holds what arrived before it).
        """
        if self._thread is None:
            raise NeurospellError("Recorder.stop() called before start().")
        self._stop.set()
        self._thread.join()
        write_failed = isinstance(self._error, OSError)
        if not write_failed:
            self.source.report_trailing_gap()
            try:
                self._drain()
            except StreamError as err:
                self._error = err
            except OSError as err:
                self._error, write_failed = err, True
        try:
            self._writer.close()
        except OSError as err:
            if not write_failed:
                self._error, write_failed = err, True
        if stop_source:
            self.source.stop()
        if write_failed:
            raise StreamError(
                f"Recording stopped: {self._why(self._error)} writing to {str(self.rawlog_path)!r}, after "
                f"{self.n_samples} samples. What was written is readable in that crash copy (not deleted); "
                f"{self._fix(self._error)}, then convert it with `neurospell recover {self.rawlog_path} --out "
                f"{self.path}`."
            ) from self._error
        if self.n_samples == 0:
            raise StreamError(
                f"Nothing was recorded from {self.source} (no samples arrived); the partial "
                f"recording is in {str(self.rawlog_path)!r}."
            ) from self._error
        try:
            raw = rawlog_to_fif(self.rawlog_path, self.path, overwrite=True)  # checked at construction
            for fmt in self.export:
                import mne

                out = self.path.with_name(self.path.name[: -len(".fif")] + _EXPORT_EXT[fmt])
                with warnings_to_log(out.name, _EXPORT_WARNINGS):
                    mne.export.export_raw(out, raw, fmt=fmt, overwrite=self.overwrite, verbose=False)
        except OSError as err:
            self.path.unlink(missing_ok=True)  # a cut FIF would not open; the crash copy has it all
            raise StreamError(
                f"Could not write {str(self.path)!r}: {self._why(err)}. The recording is kept in the crash "
                f"copy {str(self.rawlog_path)!r}; convert it with `neurospell recover {self.rawlog_path} "
                f"--out {self.path}` once the problem is fixed."
            ) from err
        if not self.keep_rawlog:
            shutil.rmtree(self.rawlog_path, ignore_errors=True)
        logger.info("Recorded %d samples, %d markers to %s", self.n_samples, self.n_markers, self.path)
        if self._error is not None:
            raise StreamError(f"Recording stopped by an error ({self._error}); what arrived before it is in {self.path}.") from self._error
        return self.path

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self._thread is not None and not self._stop.is_set():
            self.stop()
