"""The exact replay of a session folder: every spelling run rerun offline from its rawlog and
compared, flash score by flash score and decision by decision, with the decision log.

A run's samples take the path the live session's took: :class:`~neurospell.session.rawlogs.RawlogReader`
-> :class:`~neurospell.acquisition.GapIndexer` -> :class:`~neurospell.session.drivers.StreamDriver`
(:func:`make_driver`), read by the one feed loop (:func:`~neurospell.session.feed.feed`); the
direct selections of the log are applied by the driver where the live session applied them
(:meth:`~neurospell.session.drivers.StreamDriver.select_logged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurospell.acquisition.gaps import GapIndexer
from neurospell.decoder import BaseDecoder, load_decoder
from neurospell.fileio import file_sha256
from neurospell.lm_fusion import make_model
from neurospell.lm_fusion.ngram import default_ngram_path
from neurospell.logs import logger, use_log_level
from neurospell.rawlog import is_rawlog, read_rawlog

from .feed import feed
from .rawlogs import RawlogReader
from .sessioncheck import session_damage
from .sessionfolder import SessionFolder
from .sessionformat import SPELLING, SessionFolderError
from .sessionlog import decision_record, log_by_run
from .sessionmodels import make_driver, make_engine

__all__ = ["replay_session", "ReplayReport", "RunReplay"]


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
        logged = log_by_run(folder.read_log())
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

    def on_score(onset, group, score, trial):
        rr.replayed_flashes.append((onset, list(group) if isinstance(group, tuple) else group, score))

    def on_events(k, events):
        d = decision_record(events)
        rr.replayed.append(d)
        if on_decision is not None:
            on_decision(rr, d)

    driver = make_driver(engine, dec, config, float(h["sfreq"]), h["ch_names"], h["ch_types"],
                         on_events=on_events, on_score=on_score)
    # symbols chosen directly (backspace key, a completion), where the live session applied
    # them: after the flashes logged before them
    for n_before, sel in rec.get("select", ()):
        driver.select_logged(str(sel.get("symbol", "")), sel.get("text"), after=n_before)
    tolerance = float((h.get("source") or {}).get("gap_tolerance", config.acquisition.gap_tolerance))
    # cut short by a crash (recovered or not): the live session never decided the open selection
    decide = not r.get("recovered") and (r["status"] == "finished" or not rr.truncated)
    feed(RawlogReader(log, chunk_seconds=chunk_seconds), driver, indexer=GapIndexer(float(h["sfreq"]), tolerance),
         end="finish" if decide else "flush")
    rr.select_mismatch = driver.select_mismatch
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
