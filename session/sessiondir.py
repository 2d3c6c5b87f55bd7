"""Session folders: one live session on disk, in the BIDS-EEG layout, and its exact replay.

Layout of a session folder ``ROOT`` (one subject, one session)::

    ROOT/
      dataset_description.json, README, participants.tsv ...   (BIDS, written by mne-bids)
      sub-<S>/ses-<s>/eeg/
        sub-<S>_ses-<s>_task-calibration_run-1_eeg.vhdr/.eeg/.vmrk  (BrainVision, mne-bids)
        sub-<S>_ses-<s>_task-calibration_run-1_events.tsv          (trial_type: flash/3/target,
        sub-<S>_ses-<s>_task-calibration_run-1_channels.tsv         trial/0/A, phrase/test/HELLO,
        sub-<S>_ses-<s>_task-spelling_run-1_...  run-2 ...           select/A ... BAD_gap)
      sourcedata/sub-<S>/ses-<s>/eeg/
        sub-<S>_ses-<s>_task-spelling_run-1_eeg.nsraw/   (the crash-safe raw data as recorded)
      derivatives/neurospell/
        dataset_description.json   (a BIDS derivative: GeneratedBy neurospell)
        session.json               (format, subject, session, runs and their state, LM id, model)
        config.toml                (the config of the session, as loaded; exact copy in session.json)
        model.pkl                  (the trained decoder, with its provenance)
        decisions.jsonl            (the decision log, one JSON object a line, flushed each line)

neurospell's own files are a BIDS derivative (``derivatives/neurospell/``), so BIDS tools
read the raw part and ignore them. The recorded data stay in ``sourcedata/`` as the
crash-safe rawlog (:mod:`neurospell.rawlog`: float32 samples with their LSL timestamps, the
markers with theirs): that is what a replay reads, because the BrainVision files store
microvolts and sample positions, not the exact values and timestamps the online filter saw.

**Crash safety.** During a phase the live session writes the raw data to
:meth:`SessionFolder.rawlog_path` (fsynced every 0.5 s) and the decision log line by line
(flushed each line, fsynced at most every 0.5 s), so a ``kill -9`` loses at most the last
second. :meth:`SessionFolder.finish_phase` converts a phase's rawlog to BIDS (a live session
has its training process do it: :func:`convert_rawlog_to_bids` works from file names alone).
:meth:`SessionFolder.open` never writes: it reports unfinished phases (a crash) in
:meth:`SessionFolder.unfinished` and a log warning; :meth:`SessionFolder.recover` converts
them (``open(root, recover=True)`` does both). A replay reads the rawlogs, finished or not.

**Replay.** :func:`replay_session` reruns every spelling run offline from its rawlog
through the same :class:`~neurospell.session.drivers.StreamDriver` the live session uses
(:func:`make_driver`, one epoch scored per decoder call) with the saved model and language
model, and compares every flash score and every decision with the decision log.

Decision log records (``type`` field; ``t`` on the LSL clock; written with
:meth:`SessionFolder.log` or the ``log_*`` helpers)::

    {"type": "phase", "name": "copy", "task": "spelling", "run": 1, "text": "", "t": ...}
    {"type": "flash", "t": onset, "group": g, "score": s, "trial": i, "task": ..., "run": ...}
    {"type": "posterior", "t": ..., "n_flashes": n, "logp": [...], "task": ..., "run": ...}
    {"type": "decision", "t": ..., "symbol": "A", "posterior": p, "n_flashes": n,
     "n_repetitions": r, "text": "...", "forced": false, "task": ..., "run": ...}
    {"type": "gap", ...}, {"type": "pause", ...}, anything else the session wants to keep.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from pathlib import Path

import mne_bids
import numpy as np

from neurospell import __version__
from neurospell.check import NeurospellError
from neurospell.config import Config, config_from_dict, write_config
from neurospell.decoder import BaseDecoder, load_decoder
from neurospell.diskspace import DiskFullError, free_bytes, is_no_room, mb
from neurospell.fileio import file_sha256
from neurospell.lm_fusion import make_model
from neurospell.lm_fusion.ngram import default_ngram_path
from neurospell.logs import logger, use_log_level
from neurospell.markers import BACKSPACE
from neurospell.rawlog import SUFFIX, RawLogWriter, is_rawlog, rawlog_to_raw, read_rawlog
from neurospell.types import MarkerEvent, SampleChunk

from .bids_write import remove_staging, source_sidecar, write_run_atomic
from .diskfull import check_room_to_recover, recover_failed_line
from .drivers import GapIndexer, StreamDriver
from .engine import Completion, SelectionDecided, SpellerEngine, apply_symbol, model_alpha
from .sessioncheck import session_damage

__all__ = [
    "SessionFolder", "SessionFolderError", "is_session_folder", "make_engine", "make_driver",
    "lm_identity", "replay_session", "ReplayReport", "RunReplay", "iter_rawlog",
]

FORMAT = "neurospell-session"
VERSION = 1
DERIVATIVES = Path("derivatives") / "neurospell"
SESSION_JSON = "session.json"
CONFIG_TOML = "config.toml"
MODEL_FILE = "model.pkl"
LOG_FILE = "decisions.jsonl"
#: The task label of the spelling runs (the ones a replay reruns).
SPELLING = "spelling"
CALIBRATION = "calibration"
_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_FSYNC_INTERVAL = 0.5


class SessionFolderError(NeurospellError):
    """A session folder is missing, damaged, or would be overwritten."""


def is_session_folder(path) -> bool:
    """Whether ``path`` is a neurospell session folder (``derivatives/neurospell/session.json``)."""
    return (Path(path) / DERIVATIVES / SESSION_JSON).is_file()


def _check_label(name: str, value) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise SessionFolderError(
            f"{name} must be a BIDS label (letters and digits only, e.g. '01'), got {value!r}.")
    return value



def convert_rawlog_to_bids(root: str, rawlog: str, subject: str, session: str | None, task: str, run: int,
                           line_freq: float | None, source: dict | None = None) -> dict:
    """Convert one run's rawlog (``rawlog``: relative to the session folder ``root``) to BIDS-EEG.

    The work of :meth:`SessionFolder.finish_phase`, as a function of file names only, so that
    it can run in another process. Returns what the folder's metadata records: ``bids`` (the
    ``.vhdr`` path relative to ``root``), ``n_samples``, ``n_markers_outside_data`` (markers
    after the last sample: left out of events.tsv, kept in the rawlog) and ``truncated``.
    ``source``: what the data are (``session.json`` ``source``; default: the rawlog header's),
    for the ``*_eeg.json`` sidecar (:func:`~neurospell.session.bids_write.source_sidecar`).
    """
    root_p = Path(root)
    path = root_p / rawlog
    if not is_rawlog(path):
        raise SessionFolderError(
            f"task-{task} run-{run}: {str(path)!r} holds no recording (no header.json): the "
            "phase wrote no data.")
    log = read_rawlog(path)
    if log.timestamps.size == 0:
        raise SessionFolderError(
            f"task-{task} run-{run}: the recording {str(path)!r} holds no samples; nothing to "
            "convert.")
    with warnings.catch_warnings():
        # markers after the last sample (a run cut short) are counted and left out below
        warnings.filterwarnings("ignore", message="Omitted .* annotation")
        raw = rawlog_to_raw(log)
    # markers after the last sample (the stream ended or a crash cut it) have no data: BIDS
    # events must lie inside the recording; they stay in the rawlog and the decision log
    ann = raw.annotations
    on = ann.onset - (raw.first_time if ann.orig_time is not None else 0.0)
    outside = np.flatnonzero((on < 0) | (on >= raw.n_times / raw.info["sfreq"]))
    if outside.size:
        raw.annotations.delete(outside)
    # (with those MNE left out already: annotations after the data's end)
    n_outside = len(log.markers) + len(log.header["gaps"]) - len(raw.annotations)
    if line_freq:
        raw.info["line_freq"] = float(line_freq)
    # staged and renamed into place when complete (a full disk leaves nothing half-written)
    bp = write_run_atomic(raw, root_p, subject, session, task, run,
                          source=source if source else log.header.get("source"))
    return {"bids": str(bp.fpath.relative_to(root_p)), "n_samples": int(log.timestamps.size),
            "n_markers_outside_data": int(n_outside), "truncated": bool(log.header["truncated"])}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:  # a full disk: the old file stays whole, no half-written .tmp is left
        tmp.unlink(missing_ok=True)


def lm_identity(name: str, lm=None, config=None) -> dict:
    """The identity of a language model: its name and the SHA-256 of the files it was built from.

    Parameters
    ----------
    name : str
        The registry name (``"ngram"``, ``"mixture"``, ``"transformer+ngram"``, ``"hf"`` ...).
    lm : LanguageModel | None
        The model object; its ``path`` attributes (and those of its parts) name the files.
    config : LanguageModelConfig | None
        The ``[lm]`` section (``path`` of an ``"hf"`` model).

    Returns
    -------
    identity : dict
        ``{"name", "path", "files": {path: sha256}}``.
    """
    paths: list[Path] = []

    def walk(m, depth=0):
        if m is None or depth > 4:
            return
        p = getattr(m, "path", None)
        if p:
            paths.append(Path(p))
        for attr in ("models", "parts", "_models"):
            for sub in getattr(m, attr, None) or ():
                walk(sub, depth + 1)

    walk(lm)
    if not paths and "ngram" in name:
        paths.append(Path(default_ngram_path(7)))
    files = {}
    for p in paths:
        if p.is_file():
            files[str(p)] = file_sha256(p)
        elif p.is_dir():
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                files[str(f)] = file_sha256(f)
    return {"name": name, "path": "" if config is None else str(getattr(config, "path", "")), "files": files}


# ----------------------------------------------------------------------------- engine/driver
def make_engine(config: Config, decoder, lm=None, lm_name: str | None = None, **overrides) -> SpellerEngine:
    """The speller engine of a session: what the live session and its replay both build.

    ``SpellerEngine.from_config(layout, decoder.score_model_, lm, config,
    model_alpha=model_alpha(decoder, lm_name))``: the LM weight is ``[lm] alpha`` when the
    config sets it, else the one training stored with the model.
    """
    return SpellerEngine.from_config(config.speller.layout(), decoder.score_model_, lm, config,
                                     model_alpha=model_alpha(decoder, lm_name), **overrides)


def make_driver(engines, decoder, config: Config, sfreq, ch_names, ch_types=None, **kw) -> StreamDriver:
    """The stream driver of a session phase (one per rawlog): one epoch scored per decoder
    call, the epocher's buffer sized from the epoch window; the live session and its replay
    use the same, so the replay reproduces every score bit for bit."""
    cfg = config.preprocessing
    kw.setdefault("buffer_seconds", max(10.0, 2 * (cfg.tmax - cfg.tmin) + 1.0))
    kw["one_epoch"] = True
    return StreamDriver(engines, decoder, cfg, sfreq, ch_names, ch_types, **kw)


# ----------------------------------------------------------------------------- the folder
class SessionFolder:
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
        return config_from_dict(data)

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

    # -- decision log --------------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        """Append one record to the decision log (a JSON line, flushed; fsynced at most every 0.5 s).

        Thread-safe. ``record`` must be JSON-able with a ``type`` key.
        """
        if not isinstance(record, dict) or "type" not in record:
            raise NeurospellError(f"log: a record is a dict with a 'type' key, got {record!r}.")
        line = json.dumps(record) + "\n"
        with self._lock:
            if self._log is None:
                self._log = open(self.log_path, "a", encoding="utf-8")
                self._log_size = self._log.tell()
            try:
                self._log.write(line)
                self._log.flush()
                now = time.monotonic()
                if now - self._last_sync >= _FSYNC_INTERVAL:
                    os.fsync(self._log.fileno())
                    self._last_sync = now
            except OSError:
                self._drop_partial_line()
                raise
            self._log_size += len(line.encode("utf-8"))

    def _drop_partial_line(self) -> None:
        """A failed write (a full disk): close the log and cut it back to its last whole line."""
        f, self._log = self._log, None
        try:
            f.close()
        except OSError:
            pass  # the same error as the write's; the bytes it could not write are dropped below
        try:
            os.truncate(self.log_path, self._log_size)
        except OSError:  # pragma: no cover - a reader ignores a cut last line anyway
            pass

    def _ctx(self, task, run) -> dict:
        out = {}
        if task is not None:
            out["task"] = task
            out["run"] = self.current_run(task) if run is None else int(run)
        return out

    def log_phase(self, name: str, *, task: str | None = None, run: int | None = None, text: str = "",
                  t: float | None = None, **extra) -> None:
        """A phase starts (``name``: calibration, copy, free ...); ``text`` is the engine's text at its start."""
        self.log({"type": "phase", "name": name, "t": t, "text": text, **self._ctx(task, run), **extra})

    def log_flash(self, onset: float, group: int, score: float, *, trial: int = -1, task: str | None = None,
                  run: int | None = None, **extra) -> None:
        """A scored flash (what ``StreamDriver(on_score=...)`` reports)."""
        self.log({"type": "flash", "t": float(onset), "group": int(group), "score": float(score),
                  "trial": int(trial), **self._ctx(task, run), **extra})

    def log_decision(self, event, *, t: float | None = None, task: str | None = None, run: int | None = None,
                     posterior: bool = True, **extra) -> None:
        """A decision (a :class:`~neurospell.session.engine.SelectionDecided`, or the events
        tuple that holds one), with its posterior when ``posterior``."""
        ev = _decision_of(event)
        ctx = self._ctx(task, run)
        if posterior:
            self.log({"type": "posterior", "t": t, "n_flashes": int(ev.n_flashes),
                      "logp": [float(x) for x in ev.posterior.logp], **ctx})
        self.log({"type": "decision", "t": t, **_decision_record(ev), **ctx, **extra})

    def read_log(self) -> list[dict]:
        """The decision log's records (a truncated last line, from a crash, is left out)."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_bytes().split(b"\n")
        out = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                if i == len(lines) - 1:
                    logger.info("%s: its last line was cut short (a crash) and is left out.", self.log_path)
                    continue
                raise SessionFolderError(
                    f"{str(self.log_path)!r}: line {i + 1} is not valid JSON; the decision log is damaged.") from None
        return out

    def close(self) -> None:
        """Sync and close the decision log (logging again reopens it)."""
        with self._lock:
            if self._log is not None:
                try:
                    self._log.flush()
                    os.fsync(self._log.fileno())
                except OSError:
                    self._drop_partial_line()
                    raise
                self._log.close()
                self._log = None


def _run_names(runs) -> str:
    return ", ".join(f"task-{r['task']} run-{r['run']}" for r in runs)


def _decision_of(event):
    if isinstance(event, SelectionDecided):
        return event
    for e in event:
        if isinstance(e, SelectionDecided):
            return e
    raise NeurospellError(f"log_decision: no SelectionDecided in {event!r}.")


def _decision_record(ev) -> dict:
    return {"symbol": ev.decision.symbol, "posterior": float(ev.decision.posterior), "n_flashes": int(ev.n_flashes),
            "n_repetitions": int(ev.decision.n_repetitions), "text": ev.text, "forced": bool(ev.forced)}


# ----------------------------------------------------------------------------- replay
def iter_rawlog(log, *, chunk_seconds: float = 0.1, gap_tolerance: float = 0.05):
    """Cut a rawlog into the sample chunks and markers the live session gave its driver.

    Samples are the recorded float32 values as float64 with their recorded LSL timestamps,
    indexed on the stream's clock by a :class:`~neurospell.session.drivers.GapIndexer`
    starting at the run's first sample, as the live session does (so an epoch over a gap is
    dropped on both paths). Each marker comes with the chunk that holds its timestamp
    (markers after the last sample with the last chunk), in time order.

    Yields
    ------
    chunk : SampleChunk
    markers : list of MarkerEvent
    """
    h = log.header
    sfreq = float(h["sfreq"])
    ch_names, ch_types = tuple(h["ch_names"]), tuple(h["ch_types"])
    ts = log.timestamps
    n = ts.size
    indexer = GapIndexer(sfreq, gap_tolerance)
    step = max(1, int(round(chunk_seconds * sfreq)))
    marks = sorted(log.markers, key=lambda m: float(m["t"]))
    k = 0
    for a in range(0, n, step):
        b = min(a + step, n)
        pieces = indexer.split(SampleChunk(log.data[:, a:b], ts[a:b], ch_names, ch_types, sfreq))
        ms = []
        while k < len(marks) and (float(marks[k]["t"]) <= ts[b - 1] or b == n):
            m = marks[k]
            ms.append(MarkerEvent(float(m["t"]), int(m.get("code", -1)), str(m.get("label", ""))))
            k += 1
        for piece in pieces[:-1]:
            yield piece, []
        yield pieces[-1], ms


@dataclass
class RunReplay:
    """One spelling run: the live decisions (from the log) beside the replayed ones.

    ``live`` / ``replayed``: decision records (``symbol``, ``posterior``, ``n_flashes``,
    ``n_repetitions``, ``text``, ``forced``); ``live_flashes`` / ``replayed_flashes``:
    ``(t, group, score)``; ``intended``: the intended symbol of each replayed decision from
    the trial markers (or ``None``); ``target``: the phrase from a phrase marker.
    """

    task: str
    run: int
    phase: str | None
    target: str | None
    live: list = field(default_factory=list)
    replayed: list = field(default_factory=list)
    live_flashes: list = field(default_factory=list)
    replayed_flashes: list = field(default_factory=list)
    intended: list = field(default_factory=list)
    truncated: bool = False
    duration_s: float = 0.0
    select_mismatch: str | None = None

    @property
    def live_text(self) -> str:
        return self.live[-1]["text"] if self.live else ""

    @property
    def replayed_text(self) -> str:
        return self.replayed[-1]["text"] if self.replayed else ""

    def accuracy(self, which: str = "replayed") -> float | None:
        """Share of decisions equal to the intended symbol (``None`` without intended symbols)."""
        decs = self.replayed if which == "replayed" else self.live
        pairs = [(d["symbol"], s) for d, s in zip(decs, self.intended, strict=False) if s is not None]
        if not pairs:
            return None
        return sum(a == b for a, b in pairs) / len(pairs)


@dataclass
class ReplayReport:
    """What :func:`replay_session` returns.

    Attributes
    ----------
    runs : list of RunReplay
    same_models : bool
        Replayed with the session's own model and LM (every decision must be reproduced).
    decoder, lm : str
        What the replay used.
    n_decisions : int
        Live decisions of the spelling runs.
    n_reproduced : int
        Live decisions the replay reproduced exactly (symbol, posterior, flashes, text,
        forced), each compared with the replay's decision of the same rank in its run.
    first_difference : str | None
        The first flash score or decision that differs (``None``: all identical).
    elapsed_s : float
        Replay time (wall clock).
    """

    runs: list
    same_models: bool
    decoder: str
    lm: str
    n_decisions: int = 0
    n_reproduced: int = 0
    first_difference: str | None = None
    elapsed_s: float = 0.0

    @property
    def reproduced(self) -> bool:
        """Every decision (and flash score) identical."""
        return self.first_difference is None and self.n_reproduced == self.n_decisions

    @property
    def duration_s(self) -> float:
        return float(sum(r.duration_s for r in self.runs))

    def lines(self) -> list[str]:
        """A human-readable summary (what ``neurospell replay SESSION_DIR`` prints)."""
        out = []
        for r in self.runs:
            tag = f"task-{r.task} run-{r.run}" + (f" ({r.phase})" if r.phase else "")
            if r.truncated:
                tag += " [cut short by a crash]"
            out.append(f"{tag}: {len(r.live)} live decisions, {len(r.replayed)} replayed, "
                       f"{r.duration_s:.1f} s of data" + (f", target {r.target!r}" if r.target else ""))
            out.append(f"  live:     {r.live_text!r}{_acc(r.accuracy('live'))}{_fpc(r.live)}")
            out.append(f"  replayed: {r.replayed_text!r}{_acc(r.accuracy('replayed'))}{_fpc(r.replayed)}")
        if self.same_models:
            out.append(f"{self.n_reproduced}/{self.n_decisions} decisions reproduced")
            if self.first_difference:
                out.append(f"first difference: {self.first_difference}")
        else:
            same = sum(a["symbol"] == b["symbol"] for r in self.runs
                       for a, b in zip(r.live, r.replayed, strict=False))
            out.append(f"with decoder {self.decoder} and language model {self.lm}: {same}/{self.n_decisions} "
                       "decisions choose the live symbol")
        out.append(f"replayed in {self.elapsed_s:.2f} s"
                   + (f" ({self.duration_s / self.elapsed_s:.0f}x real time)" if self.elapsed_s > 0 else ""))
        return out


def _acc(a) -> str:
    return "" if a is None else f"  accuracy {a:.2f}"


def _fpc(decisions) -> str:
    if not decisions:
        return ""
    return f"  {np.mean([d['n_flashes'] for d in decisions]):.1f} flashes/selection"


#: Phase names (of ``phase`` records without a ``task``) that are runs of task-spelling.
SPELLING_PHASES = ("copy", "free", "spelling")


def _log_by_run(records: list[dict]) -> dict:
    """Decision-log records grouped by (task, run): flashes and decisions, plus the phase record.

    A ``phase`` record names its task and run; one without them counts as the next run of
    task-spelling when its name is in :data:`SPELLING_PHASES` (``"calibration"``: of
    task-calibration), else it ends the run (training, stopped ...).
    """
    out: dict = {}
    ctx = (None, None)
    counters: dict = {}
    for rec in records:
        typ = rec.get("type")
        if typ == "phase":
            if rec.get("task") is not None:
                ctx = (rec["task"], rec.get("run"))
            else:
                name = rec.get("name")
                task = SPELLING if name in SPELLING_PHASES else (CALIBRATION if name == CALIBRATION else None)
                if task is None:
                    ctx = (None, None)
                    continue
                counters[task] = counters.get(task, 0) + 1
                ctx = (task, counters[task])
            if ctx[0] is not None and ctx[1] is not None:
                counters[ctx[0]] = max(counters.get(ctx[0], 0), int(ctx[1]))
            out.setdefault(ctx, {"phase": rec, "flash": [], "decision": [], "select": []})["phase"] = rec
            continue
        key = (rec.get("task", ctx[0]), rec.get("run", ctx[1]))
        if typ in ("flash", "decision", "select"):
            group = out.setdefault(key, {"phase": None, "flash": [], "decision": [], "select": []})
            if typ == "select":  # applied before the next flash, as live
                group["select"].append((len(group["flash"]), rec))
            else:
                group[typ].append(rec)
    return out


def _same_decision(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("symbol", "posterior", "n_flashes", "text", "forced"))


def _describe(d: dict) -> str:
    return (f"{d['symbol']!r} p={d['posterior']!r} after {d['n_flashes']} flashes"
            f"{' (forced)' if d.get('forced') else ''} -> {d['text']!r}")


def replay_session(folder, decoder=None, lm=None, *, chunk_seconds: float = 0.1,
                   on_decision: Callable | None = None, verbose=None) -> ReplayReport:
    """Rerun a session's spelling runs offline from their raw data and compare with the live run.

    Parameters
    ----------
    folder : SessionFolder | path-like
    decoder : BaseDecoder | path-like | None
        Another model (default: the session's saved model).
    lm : str | LanguageModel | None
        Another language model (a registry name, ``"uniform"`` for none, or a model object);
        default: the session's (``session.json`` ``lm``).
    chunk_seconds : float
        Chunk length fed to the driver (the result does not depend on it).
    on_decision : callable ``(RunReplay, record) -> None`` | None
        Called with each replayed decision.
    verbose : bool | str | int | None

    Returns
    -------
    ReplayReport
    """
    with use_log_level(verbose):
        if not isinstance(folder, SessionFolder):
            folder = SessionFolder.open(folder)
        runs = [r for r in folder.runs(SPELLING)
                if r["status"] in ("recording", "finished") and is_rawlog(folder.root / r["rawlog"])]
        if not runs:
            raise SessionFolderError(
                f"{str(folder.root)!r} holds no spelling run (task-{SPELLING}); nothing to replay.")
        damage = session_damage(folder, runs)
        if damage:
            raise SessionFolderError(damage)
        config = folder.read_config()
        same = decoder is None and lm is None
        if decoder is None:
            dec = folder.load_model(preprocess=config.preprocessing)
        elif isinstance(decoder, BaseDecoder):
            dec = decoder
            dec.check_compatible(preprocess=config.preprocessing)
        else:
            dec = load_decoder(decoder, preprocess=config.preprocessing)
        if lm is None or isinstance(lm, str):
            if lm is None:
                ident = folder.lm_id
                if not ident:
                    raise SessionFolderError(
                        f"{str(folder.root)!r} does not record its language model (session.json 'lm'); "
                        "replay it with --lm NAME.")
                lm_name = ident["name"]
                _check_lm_files(ident)
            else:
                lm_name = lm
            lm_obj = None if lm_name == "uniform" else make_model(lm_name, config.lm)
        else:
            lm_obj, lm_name = lm, getattr(lm, "name", type(lm).__name__)
        logged = _log_by_run(folder.read_log())
        report = ReplayReport([], same, getattr(dec, "name", type(dec).__name__), lm_name)
        t0 = time.perf_counter()
        for r in runs:
            rec = logged.get((SPELLING, r["run"]), {"phase": None, "flash": [], "decision": [], "select": []})
            rr = _replay_run(folder, r, rec, config, dec, lm_obj, lm_name, chunk_seconds, on_decision)
            report.runs.append(rr)
        report.elapsed_s = time.perf_counter() - t0
        _compare(report)
        logger.info("replay of %s: %d/%d decisions reproduced in %.2f s", folder.root, report.n_reproduced,
                    report.n_decisions, report.elapsed_s)
        return report


def _check_lm_files(ident: dict) -> None:
    for path, digest in (ident.get("files") or {}).items():
        p = Path(path)
        shipped = default_ngram_path().parent / p.name
        if not p.is_file() and shipped.is_file() and file_sha256(shipped) == digest:
            continue  # recorded with another copy of neurospell: the same shipped file here
        if not p.is_file():
            raise SessionFolderError(
                f"the session's language model {ident['name']!r} was built from {path!r}, which is missing "
                "here; replay with --lm NAME (the decisions may then differ).")
        if file_sha256(p) != digest:
            raise SessionFolderError(
                f"the language-model file {path!r} differs from the session's (SHA-256 changed since the "
                f"session); replay with --lm {ident['name']} knowingly, or restore that file.")


def _replay_run(folder, r, rec, config, dec, lm_obj, lm_name, chunk_seconds, on_decision) -> RunReplay:
    log = read_rawlog(folder.root / r["rawlog"])
    h = log.header
    phase = rec["phase"] or {}
    rr = RunReplay(r["task"], r["run"], phase.get("name"), None, live=list(rec["decision"]),
                   live_flashes=[(f["t"], f["group"], f["score"]) for f in rec["flash"]],
                   truncated=bool(h["truncated"]) or r["status"] == "recording" or bool(r.get("recovered")))
    if log.timestamps.size:
        rr.duration_s = float(log.timestamps[-1] - log.timestamps[0]) + 1.0 / float(h["sfreq"])
    engine = make_engine(config, dec, lm_obj, lm_name)
    if phase.get("text"):
        engine.reset(phase["text"])
    selects = list(rec.get("select", ()))

    def apply_selects(n_flashes):
        # symbols chosen directly (backspace key, a completion) at the point of the flash stream
        # where the live session applied them: after the flashes logged before them
        while selects and selects[0][0] <= n_flashes:
            _, sel = selects.pop(0)
            sym = str(sel.get("symbol", ""))
            direct = (sym in engine.layout.symbols or sym == BACKSPACE) and (
                sel.get("text") is None or apply_symbol(engine.text, sym) == sel["text"])
            engine.select(sym if direct else Completion(sym))
            if sel.get("text") is not None and engine.text != sel["text"]:
                rr.select_mismatch = rr.select_mismatch or (
                    f"after the direct selection {sym!r} the live text was {sel['text']!r}, the replay's "
                    f"{engine.text!r}")

    def on_score(onset, group, score, trial):
        apply_selects(len(rr.replayed_flashes))
        rr.replayed_flashes.append((onset, group, score))

    def on_events(k, events):
        d = _decision_record(_decision_of(events))
        rr.replayed.append(d)
        if on_decision is not None:
            on_decision(rr, d)

    driver = make_driver(engine, dec, config, float(h["sfreq"]), h["ch_names"], h["ch_types"],
                         on_events=on_events, on_score=on_score)
    for chunk, markers in iter_rawlog(log, chunk_seconds=chunk_seconds,
                                      gap_tolerance=float((h.get("source") or {}).get(
                                          "gap_tolerance", config.acquisition.gap_tolerance))):
        driver.push(chunk, markers)
    apply_selects(len(rr.replayed_flashes))
    if not r.get("recovered") and (r["status"] == "finished" or not rr.truncated):
        driver.finish()
    else:  # cut short by a crash (recovered or not): the live session never decided the open selection
        driver.epocher.flush()
    for ph in driver.phrases:
        if ph.kind is not None:
            rr.target = ph.text
        rr.intended += list(ph.symbols)
    if phase.get("target"):
        rr.target = phase["target"]
    if all(s is None for s in rr.intended) and any(d.get("intended") is not None for d in rr.live):
        # no symbol in the trial markers: the live session logged what was intended
        rr.intended = [d.get("intended") for d in rr.live]
    return rr


def _compare(report: ReplayReport) -> None:
    n = ok = 0
    first = None
    for rr in report.runs:
        if rr.truncated:
            # a crash: the live session may have decided on data lost with the last second,
            # and never decided the open selection; compare what both have
            k = min(len(rr.live), len(rr.replayed))
            rr.live, rr.replayed = rr.live[:k], rr.replayed[:k]
            m = min(len(rr.live_flashes), len(rr.replayed_flashes))
            rr.live_flashes, rr.replayed_flashes = rr.live_flashes[:m], rr.replayed_flashes[:m]
        n += len(rr.live)
        if not report.same_models:
            continue
        tag = f"task-{rr.task} run-{rr.run}"
        if first is None and rr.select_mismatch:
            first = f"{tag}: {rr.select_mismatch}"
        if first is None:
            for i, (a, b) in enumerate(zip(rr.live_flashes, rr.replayed_flashes, strict=False)):
                if a != b:
                    first = (f"{tag} flash {i + 1}: live (t={a[0]!r}, group {a[1]}, score {a[2]!r}) vs replay "
                             f"(t={b[0]!r}, group {b[1]}, score {b[2]!r})")
                    break
        for i, a in enumerate(rr.live):
            b = rr.replayed[i] if i < len(rr.replayed) else None
            if b is not None and _same_decision(a, b):
                ok += 1
                continue
            if first is None:
                first = (f"{tag} decision {i + 1}: live {_describe(a)}, replay "
                         + ("none (the replay ended first)" if b is None else _describe(b)))
        if first is None and len(rr.replayed) > len(rr.live):
            first = (f"{tag}: the replay made {len(rr.replayed) - len(rr.live)} more decision(s) than the "
                     f"live session ({_describe(rr.replayed[len(rr.live)])} first)")
        if first is None and len(rr.live_flashes) != len(rr.replayed_flashes):
            first = (f"{tag}: {len(rr.live_flashes)} flashes scored live, {len(rr.replayed_flashes)} in the "
                     "replay")
    report.n_decisions, report.n_reproduced, report.first_difference = n, ok, first
