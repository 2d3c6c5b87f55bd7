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

This module is the folder's public face; the work is done in :mod:`.sessionformat` (file
names, labels, the error type), :mod:`.sessionfolder` (:class:`SessionFolder`),
:mod:`.sessionlog` (the decision log), :mod:`.rawlogs` (a rawlog converted to BIDS and read
back), :mod:`.sessionmodels` (engine, driver, LM identity) and :mod:`.sessionreplay` (the
replay).

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

from .rawlogs import RawlogReader, convert_rawlog_to_bids, iter_rawlog
from .sessionfolder import SessionFolder
from .sessionformat import (
    CALIBRATION,
    CONFIG_TOML,
    DERIVATIVES,
    FORMAT,
    LOG_FILE,
    MODEL_FILE,
    SESSION_JSON,
    SPELLING,
    SPELLING_PHASES,
    VERSION,
    SessionFolderError,
    is_session_folder,
)
from .sessionlog import DecisionLog, decision_record, log_by_run
from .sessionmodels import lm_identity, make_driver, make_engine
from .sessionreplay import ReplayReport, RunReplay, replay_session

__all__ = [
    "SessionFolder", "SessionFolderError", "is_session_folder", "make_engine", "make_driver",
    "lm_identity", "replay_session", "ReplayReport", "RunReplay", "iter_rawlog", "RawlogReader",
    "convert_rawlog_to_bids", "DecisionLog", "decision_record", "log_by_run",
    "FORMAT", "VERSION", "DERIVATIVES", "SESSION_JSON", "CONFIG_TOML", "MODEL_FILE", "LOG_FILE",
    "SPELLING", "CALIBRATION", "SPELLING_PHASES",
]
