"""Record any source to disk while it runs, crash-safe; FIF (and BrainVision/EDF) on stop."""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import warnings
from pathlib import Path

from neurospell.check import (
    NeurospellError,
    StreamError,
    check_fname,
    check_option,
    check_positive,
    validate_type,
)
from neurospell.logs import logger
from neurospell.rawlog import SUFFIX, RawLogWriter, rawlog_to_raw

from .base import BaseSource

_EXPORT_EXT = {"brainvision": ".vhdr", "edf": ".edf"}


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
    killed, at most that much is lost and :func:`neurospell.rawlog.read_rawlog` opens the
    rest. :meth:`stop` writes the FIF file (markers as annotations) and the optional
    exports, then removes the rawlog unless ``keep_rawlog``.

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
        Replace existing output files.
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
        if self.rawlog_path.exists():
            if not overwrite:
                raise FileExistsError(
                    f"path: the recording folder {str(self.rawlog_path)!r} already exists; pass "
                    "overwrite=True or choose another output path."
                )
            shutil.rmtree(self.rawlog_path)
        self._thread = None
        self._stop = threading.Event()
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
        self._writer = RawLogWriter(self.rawlog_path, src.ch_names, src.ch_types, src.sfreq,
                                    source=src.describe(), flush_interval=self.flush_interval)
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

    def _run(self) -> None:
        self._first = self._reader._cursor
        try:
            while not self._stop.is_set():
                self._reader.wait(min(0.1, self.flush_interval))
                self._drain()
                self._writer._maybe_sync()
        except BaseException as err:  # noqa: BLE001 - re-raised by stop()
            logger.error("Recorder: %s", err)
            self._error = err
        finally:
            try:
                self._writer.sync()
            except Exception:  # pragma: no cover
                pass

    def stop(self, *, stop_source: bool = False) -> Path:
        """Stop recording, write the FIF (and exports) and return the FIF path.

        Parameters
        ----------
        stop_source : bool
            Also stop the source.
        """
        if self._thread is None:
            raise NeurospellError("Recorder.stop() called before start().")
        self._stop.set()
        self._thread.join()
        if self._error is None:
            try:
                self._drain()
            except StreamError as err:
                self._error = err
        self._writer.close()
        if stop_source:
            self.source.stop()
        if self.n_samples == 0:
            raise StreamError(
                f"Nothing was recorded from {self.source} (no samples arrived); the partial "
                f"recording is in {str(self.rawlog_path)!r}."
            ) from self._error
        raw = rawlog_to_raw(self.rawlog_path)
        with warnings.catch_warnings():
            # any *.fif name is the user's choice; MNE's naming convention is advice only
            warnings.filterwarnings("ignore", message=".*does not conform to MNE naming conventions.*")
            raw.save(self.path, overwrite=True, verbose=False)  # checked at construction
        for fmt in self.export:
            import mne

            out = self.path.with_name(self.path.name[: -len(".fif")] + _EXPORT_EXT[fmt])
            mne.export.export_raw(out, raw, fmt=fmt, overwrite=self.overwrite, verbose=False)
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
