"""The :class:`SessionFolder`: one live session on disk (the layout is described in
:mod:`neurospell.session.sessiondir`)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import warnings
from concurrent.futures import BrokenExecutor
from pathlib import Path

import mne_bids

from neurospell import __version__
from neurospell.check import NeurospellError
from neurospell.config import Config, recorded_config_from_dict, write_config
from neurospell.decoder import BaseDecoder, load_decoder
from neurospell.diskspace import DiskFullError, free_bytes, is_no_room, mb
from neurospell.fileio import file_sha256
from neurospell.logs import logger, use_log_level
from neurospell.rawlog import SUFFIX, RawLogWriter, is_rawlog, read_rawlog

from .bids_write import remove_staging, source_sidecar
from .diskfull import check_room_to_recover, recover_failed_line
from .rawlogs import convert_rawlog_to_bids
from .sessionformat import (
    CONFIG_TOML,
    DERIVATIVES,
    FORMAT,
    LOG_FILE,
    MODEL_FILE,
    SESSION_JSON,
    VERSION,
    SessionFolderError,
    _check_label,
    _now,
    _run_names,
    _write_json,
    is_session_folder,
)
from .sessionlog import DecisionLog
from .sessionmodels import lm_identity

__all__ = ["SessionFolder"]


class SessionFolder(DecisionLog):
    """A session folder (see the module docstring). Make one with :meth:`create`, read one
    with :meth:`open`.

    Attributes
    ----------
    root : Path
    subject, session : str
        BIDS labels.
    meta : dict
        The contents of ``derivatives/neurospell/session.json``.
    """

    def __init__(self, root: Path, meta: dict):
        self.root = Path(root)
        self.meta = meta
        self.subject = meta["subject"]
        self.session = meta["session"]
        self._lock = threading.RLock()
        self._log = None
        self._log_size = 0
        self._last_sync = 0.0

    def __repr__(self) -> str:
        return f"<SessionFolder {str(self.root)!r} sub-{self.subject} ses-{self.session}>"

    # -- paths ---------------------------------------------------------------------------------
    @property
    def deriv(self) -> Path:
        """``derivatives/neurospell/``: neurospell's own files."""
        return self.root / DERIVATIVES

    @property
    def log_path(self) -> Path:
        return self.deriv / LOG_FILE

    @property
    def model_path(self) -> Path:
        return self.deriv / MODEL_FILE

    @property
    def config_path(self) -> Path:
        return self.deriv / CONFIG_TOML

    def bids_path(self, task: str, run: int) -> mne_bids.BIDSPath:
        """The BIDS path of a run (``datatype="eeg"``, ``suffix="eeg"``)."""
        return mne_bids.BIDSPath(subject=self.subject, session=self.session, task=task, run=run,
                                 datatype="eeg", suffix="eeg", extension=".vhdr", root=self.root)

    def _rawlog_rel(self, task: str, run: int) -> str:
        bp = self.bids_path(task, run)
        return str(Path("sourcedata") / f"sub-{self.subject}" / f"ses-{self.session}" / "eeg"
                   / (bp.copy().update(extension=None).basename + SUFFIX))

    # -- create / open ---------------------------------------------------------------------------
    @classmethod
    def create(cls, root, *, subject: str = "01", session: str | None = None, config: Config | None = None,
               overwrite: bool = False, verbose=None) -> SessionFolder:
        """Make a new session folder.

        Parameters
        ----------
        root : path-like
            The folder to create (it may exist if empty).
        subject, session : str
            BIDS labels (letters and digits); ``session`` defaults to ``"01"``.
        config : Config | None
            Written with :meth:`write_config` when given.
        overwrite : bool
            An existing *session folder* at ``root`` is moved aside (renamed
            ``ROOT.moved-<time>``, never deleted) and a new one made. Any other non-empty
            folder or file is refused.
        verbose : bool | str | int | None

        Returns
        -------
        SessionFolder
        """
        with use_log_level(verbose):
            subject = _check_label("subject", subject)
            session = _check_label("session", "01" if session is None else session)
            root = Path(root).expanduser()
            if root.exists() and not root.is_dir():
                raise SessionFolderError(
                    f"root: {str(root)!r} is a file, not a folder; give a new folder for the session.")
            if root.is_dir() and any(root.iterdir()):
                if not is_session_folder(root):
                    raise SessionFolderError(
                        f"root: {str(root)!r} is a non-empty folder that is not a neurospell session "
                        "folder; choose a new or empty folder (nothing there is overwritten).")
                if not overwrite:
                    raise SessionFolderError(
                        f"root: {str(root)!r} already holds a session; choose another folder, or pass "
                        "overwrite=True (`--overwrite`) to move it aside (it is kept, renamed).")
                moved = root.with_name(f"{root.name}.moved-{time.strftime('%Y%m%d-%H%M%S')}")
                k = 1
                while moved.exists():
                    moved = root.with_name(f"{root.name}.moved-{time.strftime('%Y%m%d-%H%M%S')}-{k}")
                    k += 1
                os.replace(root, moved)
                logger.warning("SessionFolder: the session already in %s was moved to %s (not deleted).",
                               root, moved)
            if not root.parent.is_dir():
                raise SessionFolderError(
                    f"root: the folder {str(root.parent)!r} that would hold the session does not exist; "
                    "create it first or choose another place.")
            made = not root.exists()
            try:
                (root / DERIVATIVES).mkdir(parents=True, exist_ok=True)
                mne_bids.make_dataset_description(path=root, name=f"neurospell session sub-{subject} ses-{session}",
                                                  dataset_type="raw", overwrite=True, verbose=False)
                mne_bids.make_dataset_description(
                    path=root / DERIVATIVES, name="neurospell decision log, model and config",
                    dataset_type="derivative", generated_by=[{"Name": "neurospell", "Version": __version__}],
                    overwrite=True, verbose=False)
                meta = {"format": FORMAT, "version": VERSION, "subject": subject, "session": session,
                        "created": _now(), "runs": [], "lm": None, "model": None, "config": None}
                _write_json(root / DERIVATIVES / SESSION_JSON, meta)
                self = cls(root, meta)
                if config is not None:
                    self.write_config(config)
            except OSError as err:
                if not is_no_room(err):
                    raise
                if made:  # nothing recorded yet: no half-made folder is left
                    shutil.rmtree(root, ignore_errors=True)
                raise DiskFullError(
                    f"root: the disk holding {str(root)!r} is full ({mb(free_bytes(root.parent))} free); nothing "
                    "was recorded. Free some space there or choose another folder.") from err
            logger.info("session folder %s created (sub-%s ses-%s)", root, subject, session)
            return self

    @classmethod
    def open(cls, root, *, recover: bool = False, verbose=None) -> SessionFolder:
        """Open an existing session folder (read-only unless ``recover``).

        Parameters
        ----------
        root : path-like
        recover : bool
            Convert the phases a crash left unfinished to BIDS (:meth:`recover`). Without it
            they are listed in :meth:`unfinished` (and logged); a replay reads them anyway.
        verbose : bool | str | int | None
        """
        with use_log_level(verbose):
            root = Path(root).expanduser()
            if not root.exists():
                raise SessionFolderError(f"root: the session folder {str(root)!r} does not exist. Check the path.")
            if not root.is_dir():
                raise SessionFolderError(
                    f"root: {str(root)!r} is a file; give a session folder (written by a live session, "
                    "e.g. `neurospell spell --out SESSION_DIR`).")
            mfile = root / DERIVATIVES / SESSION_JSON
            if not mfile.is_file():
                raise SessionFolderError(
                    f"root: {str(root)!r} is not a neurospell session folder (no {DERIVATIVES / SESSION_JSON}); "
                    "give the folder a live session wrote (`neurospell spell --out SESSION_DIR`).")
            try:
                meta = json.loads(mfile.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise SessionFolderError(f"{str(mfile)!r} is damaged (not valid JSON: {err}).") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise SessionFolderError(f"{str(mfile)!r} is not a {FORMAT} file.")
            if int(meta.get("version", 0)) > VERSION:
                raise SessionFolderError(
                    f"{str(mfile)!r} is version {meta.get('version')}; this neurospell reads up to "
                    f"{VERSION}. Update neurospell.")
            for key in ("subject", "session", "runs"):
                if key not in meta:
                    raise SessionFolderError(f"{str(mfile)!r} lacks {key!r}: the file is damaged.")
            self = cls(root, meta)
            for r in self.meta["runs"]:
                if r["status"] == "finished" and not (root / r["rawlog"]).is_dir():
                    raise SessionFolderError(
                        f"{str(root)!r}: the raw data of task-{r['task']} run-{r['run']} ({r['rawlog']}) are "
                        "missing; the folder is incomplete (copy it again from where it was recorded).")
            left = self.unfinished()
            if left:
                names = _run_names(left)
                if recover:
                    self.recover()
                else:
                    logger.warning(
                        "session %s: %s not finished (the session stopped during the phase); its raw data "
                        "are in sourcedata/ and replay reads them. `neurospell recover %s` "
                        "(SessionFolder.open(root, recover=True)) converts them to BIDS.", root, names, root)
            return self

    def _save_meta(self) -> None:
        with self._lock:
            _write_json(self.deriv / SESSION_JSON, self.meta)

    # -- runs ------------------------------------------------------------------------------------
    def runs(self, task: str | None = None) -> list[dict]:
        """The runs (``{"task", "run", "status", "rawlog", "bids", "started"}``), in order."""
        return [dict(r) for r in self.meta["runs"] if task is None or r["task"] == task]

    def unfinished(self) -> list[dict]:
        """Runs still being recorded (a crash, or a live session still running)."""
        return [r for r in self.runs() if r["status"] == "recording"]

    def _open_run(self, task: str) -> dict | None:
        for r in self.meta["runs"]:
            if r["task"] == task and r["status"] == "recording":
                return r
        return None

    def rawlog_path(self, task: str) -> Path:
        """The ``.nsraw`` folder the live session writes the raw data of ``task`` to.

        The same path until :meth:`finish_phase`; the next call after it starts the next run
        (task-spelling run-1, run-2, ...). The folder itself is made by the writer
        (:meth:`rawlog_writer` or :class:`~neurospell.rawlog.RawLogWriter`).
        """
        task = _check_label("task", task)
        with self._lock:
            r = self._open_run(task)
            if r is None:
                run = 1 + max((x["run"] for x in self.meta["runs"] if x["task"] == task), default=0)
                r = {"task": task, "run": run, "status": "recording", "rawlog": self._rawlog_rel(task, run),
                     "bids": None, "started": _now()}
                (self.root / r["rawlog"]).parent.mkdir(parents=True, exist_ok=True)
                self.meta["runs"].append(r)
                self._save_meta()
            return self.root / r["rawlog"]

    def current_run(self, task: str) -> int | None:
        """The run number being recorded for ``task`` (``None`` when none is)."""
        r = self._open_run(task)
        return None if r is None else r["run"]

    def rawlog_writer(self, task: str, ch_names, ch_types, sfreq, *, source=None, start_lsl=None,
                      flush_interval: float = 0.5, gap_tolerance: float | None = None) -> RawLogWriter:
        """A :class:`~neurospell.rawlog.RawLogWriter` at :meth:`rawlog_path` of ``task``.

        ``gap_tolerance`` (seconds): the one the live feed used to index samples across gaps
        (:class:`~neurospell.session.drivers.GapIndexer`), kept in the header's ``source`` for the replay (default
        there: ``[acquisition] gap_tolerance`` of the session's config).
        """
        source = dict(source or {})
        if gap_tolerance is not None:
            source["gap_tolerance"] = float(gap_tolerance)
        return RawLogWriter(self.rawlog_path(task), ch_names, ch_types, sfreq, source=source,
                            start_lsl=start_lsl, flush_interval=flush_interval)

    def finish_phase(self, task: str, *, executor=None, verbose=None) -> Path:
        """Convert the rawlog of the run of ``task`` being recorded to BIDS-EEG (BrainVision,
        events.tsv, channels.tsv, sidecars); the rawlog is kept in ``sourcedata/``.

        Parameters
        ----------
        task : str
        executor : concurrent.futures.Executor | None
            Where the conversion runs (reading the rawlog, MNE, mne-bids: pure Python work
            that holds the GIL for seconds). A live session passes its training process, so
            that the threads of its own process (a GUI's event loop, the acquisition) keep
            running; ``None``: here. When the executor is broken (its process died) the
            conversion runs here: the recording is never left unconverted for that.

        Returns
        -------
        path : Path
            The ``.vhdr`` file written.
        """
        with use_log_level(verbose), self._lock:
            r = self._open_run(_check_label("task", task))
            if r is None:
                raise SessionFolderError(
                    f"finish_phase: no run of task {task!r} is being recorded in {str(self.root)!r} "
                    f"(recorded: {_run_names(self.meta['runs']) or 'none'}); "
                    "call rawlog_path(task) when the phase starts.")
            return self._convert(r, executor=executor)

    def _convert(self, r: dict, *, executor=None, recovered: bool = False) -> Path:
        cfg = self.read_config() if self.meta.get("config") else None
        line_freq = float(cfg.preprocessing.notch) if cfg is not None and cfg.preprocessing.notch else None
        args = (str(self.root), r["rawlog"], self.subject, self.session, r["task"], r["run"], line_freq,
                self.meta.get("source"))
        done = None
        if executor is not None:
            try:
                done = executor.submit(convert_rawlog_to_bids, *args).result()
            except BrokenExecutor as err:
                logger.warning("session %s: the conversion process is gone (%s); converting task-%s run-%d here.",
                               self.root, err, r["task"], r["run"])
        if done is None:
            done = convert_rawlog_to_bids(*args)
        if done["n_markers_outside_data"]:
            logger.info("task-%s run-%d: %d marker(s) after the last sample left out of events.tsv",
                        r["task"], r["run"], done["n_markers_outside_data"])
        r["status"] = "finished"
        r["bids"] = done["bids"]
        r["finished"] = _now()
        r["n_samples"] = done["n_samples"]
        r["n_markers_outside_data"] = done["n_markers_outside_data"]
        r["truncated"] = done["truncated"]
        if recovered:  # the session stopped during the phase: its open selection was never decided
            r["recovered"] = True
        self._save_meta()
        logger.info("session %s: task-%s run-%d converted to BIDS (%s)", self.root, r["task"], r["run"], r["bids"])
        return self.root / r["bids"]

    def recover(self, *, verbose=None) -> list[Path]:
        """Convert every unfinished run (a crash) to BIDS. Runs that recorded no sample are
        marked ``"empty"``. Returns the ``.vhdr`` files written.

        Raises :class:`~neurospell.diskspace.DiskFullError` (nothing changed, nothing
        half-written kept) when the disk has not the room the conversion needs.
        """
        out = []
        with use_log_level(verbose), self._lock:
            remove_staging(self.root)  # a conversion that was killed: the rawlogs hold it all
            check_room_to_recover(self)
            try:
                for r in self.meta["runs"]:
                    if r["status"] != "recording":
                        continue
                    p = self.root / r["rawlog"]
                    if not is_rawlog(p) or read_rawlog(p).timestamps.size == 0:
                        r["status"] = "empty"
                        self._save_meta()
                        logger.warning("session %s: task-%s run-%d recorded no sample; marked empty.",
                                       self.root, r["task"], r["run"])
                        continue
                    out.append(self._convert(r, recovered=True))
            except OSError as err:
                if not is_no_room(err):
                    raise
                raise DiskFullError(recover_failed_line(self, err)) from err
        return out

    def read_raw(self, task: str, run: int = 1):
        """The BIDS recording of a finished run, read with ``mne_bids.read_raw_bids``."""
        for r in self.meta["runs"]:
            if r["task"] == task and r["run"] == run:
                if r["status"] != "finished":
                    raise SessionFolderError(
                        f"task-{task} run-{run} is {r['status']}, not converted to BIDS; open the folder "
                        "with recover=True (or call finish_phase) first.")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return mne_bids.read_raw_bids(self.bids_path(task, run), verbose=False)
        raise SessionFolderError(f"{str(self.root)!r} has no task-{task} run-{run}; it has "
                                 f"{_run_names(self.meta['runs']) or 'none'}.")

    # -- config / model / LM ------------------------------------------------------------------------
    def write_config(self, config: Config) -> Path:
        """Save the session's config: ``config.toml`` (readable, loads with ``--config``) and the
        exact values (unset keys included) in ``session.json``."""
        if not isinstance(config, Config):
            raise NeurospellError(f"config must be a neurospell Config, got {type(config).__name__}.")
        with self._lock:
            write_config(config, self.config_path, overwrite=True,
                         header=f"neurospell config of session {self.root.name} (sub-{self.subject} "
                                f"ses-{self.session}), written {_now()}")
            self.meta["config"] = config.to_dict()
            self._save_meta()
        return self.config_path

    def read_config(self) -> Config:
        """The config the session ran with."""
        data = self.meta.get("config")
        if not data:
            raise SessionFolderError(
                f"{str(self.root)!r} holds no config (the session stopped before writing it); replay "
                "needs one.")
        return recorded_config_from_dict(data)

    def save_model(self, decoder: BaseDecoder, *, source: str | None = None, written: bool = False) -> Path:
        """Save the trained decoder (``model.pkl``, with its provenance) and note it in session.json.

        ``written=True``: ``decoder.save(folder.model_path)`` was already called (e.g. by a
        training process); only the note is added.
        """
        if not isinstance(decoder, BaseDecoder):
            raise NeurospellError(f"decoder must be a fitted neurospell decoder, got {type(decoder).__name__}.")
        if written and not self.model_path.is_file():
            raise SessionFolderError(f"save_model(written=True): {str(self.model_path)!r} does not exist; save the "
                                     "decoder there first (decoder.save(folder.model_path)).")
        with self._lock:
            if not written:
                decoder.save(self.model_path, overwrite=True)
            prov = decoder.provenance_
            self.meta["model"] = {"file": MODEL_FILE, "decoder": decoder.name, "sha256": file_sha256(self.model_path),
                                  "saved": _now(), "source": source, "lm_alpha": prov.get("lm_alpha"),
                                  "heldout_auc": prov.get("heldout_auc"), "created": prov.get("created")}
            self._save_meta()
        return self.model_path

    def load_model(self, preprocess=None) -> BaseDecoder:
        """The session's decoder (checked against ``preprocess`` when given)."""
        if not self.model_path.is_file():
            raise SessionFolderError(
                f"{str(self.root)!r} holds no trained model ({DERIVATIVES / MODEL_FILE}); the session stopped "
                "before training ended. Replay it with another model: --decoder MODEL.")
        rec = self.meta.get("model") or {}
        if rec.get("sha256") and file_sha256(self.model_path) != rec["sha256"]:
            raise SessionFolderError(
                f"{str(self.model_path)!r} is not the model the session saved (its SHA-256 differs); it was "
                "changed after the session. Restore it, or replay with --decoder MODEL.")
        return load_decoder(self.model_path, preprocess=preprocess)

    def set_lm(self, name: str, lm=None, config=None) -> dict:
        """Record the language model of the session (name + SHA-256 of its files)."""
        ident = lm_identity(name, lm, config)
        with self._lock:
            self.meta["lm"] = ident
            self._save_meta()
        return ident

    def note(self, key: str, value) -> None:
        """Record ``value`` (JSON-able) under ``key`` in ``session.json`` (e.g. ``"start"``: the
        model and participant profile a session started from)."""
        with self._lock:
            self.meta[key] = value
            self._save_meta()

    @property
    def lm_id(self) -> dict | None:
        return self.meta.get("lm")

    def set_source(self, source: dict) -> dict:
        """Record what the session's EEG comes from, for the BIDS metadata.

        ``source``: ``{"kind": "simulated" | "replay" | "brainflow" | "lsl", ...}`` (see
        :func:`~neurospell.session.bids_write.source_sidecar`). It goes to ``session.json``
        (``source``), to the ``Manufacturer`` and ``ManufacturersModelName`` of every run's
        ``*_eeg.json`` converted after this call, and to ``dataset_description.json``
        (``GeneratedBy``). Without it the sidecars describe the rawlog's source (an LSL
        stream by its name, a BrainFlow board by its id).
        """
        if not isinstance(source, dict) or "kind" not in source:
            raise NeurospellError(f"set_source: source must be a dict with a 'kind' key, got {source!r}.")
        desc = source_sidecar(source)["description"]
        with self._lock:
            self.meta["source"] = {**source, "description": desc}
            self._save_meta()
            dd = self.root / "dataset_description.json"
            if dd.is_file():
                data = json.loads(dd.read_text(encoding="utf-8"))
                data["GeneratedBy"] = [{"Name": "neurospell", "Version": __version__,
                                        "Description": f"a live neurospell session; EEG source: {desc}"}] + [
                    g for g in data.get("GeneratedBy", []) if g.get("Name") != "neurospell"]
                _write_json(dd, data)
        return self.meta["source"]

    # -- paths stored in the folder's files ------------------------------------------------------
    def relative(self, path) -> str:
        """How a path is stored in the folder's files: relative to the folder (``/``-separated)
        when it lies inside it, so that the folder can be moved; else absolute."""
        p = Path(path).expanduser().absolute()
        try:
            return p.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return str(p)

    def resolve(self, stored) -> Path:
        """The file a stored path names: a relative one from the folder; an absolute one (as
        folders recorded before stored them) as is, or, when that no longer exists (the
        folder was moved), the same ``derivatives/``, ``sourcedata/`` or ``sub-*`` path here."""
        p = Path(stored)
        if not p.is_absolute():
            return self.root / p
        if not p.exists():
            parts = p.parts
            for i, part in enumerate(parts):
                if part in ("derivatives", "sourcedata") or part.startswith("sub-"):
                    here = self.root.joinpath(*parts[i:])
                    if here.exists():
                        return here
        return p
