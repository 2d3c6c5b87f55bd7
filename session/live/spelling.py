"""A spelling run of a live session (``copy`` or ``free``): flash, decide, type, stop.

:class:`SpellingRun` builds the run's engine and stream driver as a replay builds them
(:func:`~neurospell.session.sessiondir.make_driver`), feeds the driver what the stream
pump reads, opens each selection (its trial marker, its flashes), acts on each decision
(the ``select:S`` marker, the decision log, the snapshot), applies the symbols chosen
directly once the open selection's flashes are in, and applies the stop rules
(``[speller] max_selections``, ``max_consecutive_errors``; a copied phrase completes the
run).

Between two selections (``[speller] inter_trial``): first the chosen symbol's feedback
(``feedback_time``: the typed text shows it), then the next selection's cue for the rest of the
pause (copy spelling: the phrase's next symbol, cued on the display and in the snapshot's
``cue``, cleared as its flashes start). The first selection of a run gets its cue too.
"""

from __future__ import annotations

import time

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.lsl import local_clock
from neurospell.markers import (
    BACKSPACE,
    copy_selection_limit,
    format_select,
    format_text,
    format_words,
    intended_symbol,
    phrase_to_str,
    trial_to_str,
)

from ..engine import Completion, SelectionDecided
from ..sessiondir import SPELLING, make_driver, make_engine
from ..wordcells import intended as intended_with_words
from ..wordcells import phrase_done
from .adaptation import prepare_adaptation
from .results import DecisionRecord

__all__ = ["SpellingRun"]


class SpellingRun:
    """One spelling run of a :class:`~neurospell.session.live.LiveSession`.

    Parameters
    ----------
    session : LiveSession
        The session whose worker runs it (its loop, flashes, stream, recorder, decisions).
    mode : str
        ``"copy"`` or ``"free"``.
    text : str | None
        The phrase to copy (``copy``).

    Attributes
    ----------
    engine : SpellerEngine
    driver : StreamDriver
        The stream pump's consumer while the run is on.
    direct : list
        Symbols chosen directly (:class:`~neurospell.session.live.Select`,
        :class:`~neurospell.session.live.Undo`), applied once the open selection's
        flashes are in.
    """

    def __init__(self, session, mode: str, text: str | None):
        s = session
        self.session = s
        self.mode = mode
        self.text = text
        self.engine = make_engine(s.config, s.decoder, s.lm, s.lm_name, seed=s.seed + 1)
        # the decision comes out as soon as its symbol is known; the LM work it causes (the
        # beam, the next prior: most of a decision's time with a neural LM) is done once the
        # session has acted on it (same operations, same order: the replay's results)
        self.engine.defer_lm_work = True
        src = s.source
        self.driver = make_driver(self.engine, s.decoder, s.config, src.sfreq, src.ch_names, src.ch_types,
                                  on_events=self._on_events, on_score=self._on_score)
        self.direct: list = []
        self.n_before = len(s._decisions)  # (the session's decisions before this run)

    # -- the stream (worker thread) ---------------------------------------------------------------
    def _on_score(self, onset: float, group: int, score: float, trial: int) -> None:
        self.session._dirty = True
        self.session._recorder.log_flash(onset, group, score, trial)

    def _on_events(self, k: int, events) -> None:
        for e in events:
            if isinstance(e, SelectionDecided):
                # latency: from the push of the chunk that completed the deciding epoch
                self.session._pending_decision = (e, time.perf_counter() - self.session._stream.pushed_at)

    def in_flight(self) -> int:
        """Flash markers of this run sent but not scored or discarded yet."""
        s = self.session
        return (s._flashes.n_spell_run - s._watch.n_spell_lost_run - self.driver.n_scored
                - sum(self.driver.epocher.n_dropped_.values()))

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> None:
        """Spell until the phase ends (a stop rule, a completed phrase, a :class:`SetPhase`)."""
        s, mode, text, engine = self.session, self.mode, self.text, self.engine
        sp = s.config.speller
        flashes, pause = s._flashes, s._pause
        s._target_text = text
        s._progress = None
        s._send(phrase_to_str("test", text or ""), local_clock(), via_source=False)
        s._send(format_text(""), via_source=False)
        t_phase = time.monotonic()
        paused_time = 0.0
        consecutive_errors = 0
        in_selection = False
        feedback = min(sp.feedback_time, sp.inter_trial)
        decided_at = time.monotonic() - feedback  # (the first selection: its cue only)
        text_before = ""
        max_flashes = engine.max_flashes
        try:
            while not s._phase_done:
                t_loop = time.monotonic()
                s._step()
                if pause.blocked():
                    paused_time += time.monotonic() - t_loop
                    continue
                pending = s._pending_decision
                if pending is not None:
                    s._pending_decision = None
                    rec = self._decided(*pending, text_before)
                    if rec.correct is False:
                        consecutive_errors += 1
                    elif rec.correct:
                        consecutive_errors = 0
                    in_selection = False
                    decided_at = time.monotonic()
                    if s._adapt is not None:  # (self-labelling; a finished refit swapped in here)
                        s._adapt.after_decision(rec)
                    if self._stop_after(rec, consecutive_errors):
                        break
                    continue
                if self.direct:  # symbols chosen directly: once the open selection's flashes are in
                    flashes.cancel()
                    if flashes.n_scheduled() == 0 and self.in_flight() == 0:
                        for sym in self.direct:
                            self._apply_direct(sym)
                        self.direct = []
                        in_selection = False
                        decided_at = time.monotonic()
                    continue
                if not in_selection:
                    if flashes.n_scheduled():
                        continue  # the previous selection's flashes are still being shown
                    since = time.monotonic() - decided_at
                    if since < feedback:
                        continue  # the chosen symbol's feedback
                    if since < sp.inter_trial:
                        self._cue(True)
                        continue  # the next selection's cue
                    self._cue(False)
                    in_selection = True
                    text_before = engine.text
                    s._trial += 1
                    if engine.word_cells and engine.word_cells != getattr(self, "_cells_sent", None):
                        self._cells_sent = engine.word_cells  # what the word cells show, when it changes
                        s._send(format_words(w for w in engine.word_cells if w), via_source=False)
                    s._send(format_text(engine.text), via_source=False)
                    s._send(trial_to_str(s._trial), local_clock())
                    flashes.show(engine.next_flashes(), (mode, s._trial, None))
                    s._publish(f"{mode}: selecting", completions=True)
                    continue
                if flashes.n_scheduled() == 0 and engine.n_flashes + self.in_flight() < max_flashes:
                    flashes.show(engine.plan_flashes(), (mode, s._trial, None))
        finally:
            self._cue(False)
            s._spell_time += time.monotonic() - t_phase - paused_time

    def _cue(self, on: bool) -> None:
        """Cue the next selection (copy spelling: the phrase's next symbol, on the display and in
        the snapshot), or clear the cue."""
        s, text = self.session, self.text
        sym = None
        if on and self.mode == "copy" and text is not None:
            sym = intended_symbol(text, self.engine.text)
            if sym == BACKSPACE and BACKSPACE not in s.layout.symbols:
                sym = None
        if sym != s._cue:
            s._cue = sym
            s.display.cue(sym)
            s._publish()

    def _decided(self, dec, latency: float, text_before: str) -> DecisionRecord:
        """Act on a decision: its marker, the decision log, the engine's LM work, the snapshot."""
        s, mode, text = self.session, self.mode, self.text
        s._flashes.cancel()
        intended = None
        if text is not None and getattr(self, "_cells_sent", None) is not None:  # a grid with word cells
            intended = intended_with_words(text, text_before, s.layout, self._cells_sent)
        elif text is not None:
            intended = intended_symbol(text, text_before)
            if intended == BACKSPACE and BACKSPACE not in s.layout.symbols:
                # no backspace on the grid: the person wants the phrase's next symbol
                intended = text[len(text_before)] if len(text_before) < len(text) else None
        rec = DecisionRecord(mode, dec.decision.symbol, intended, dec.decision.posterior, dec.n_flashes,
                             dec.text, local_clock(), latency)
        s._decisions.append(rec)
        s._send(format_select(dec.decision.symbol), via_source=False)
        s._recorder.log_decision(dec, t=rec.t, phase=mode, intended=intended, latency=latency)
        self.engine.complete_decision()
        logger.info("LiveSession: decided %r (p=%.3f, %d flashes) -> %r", rec.symbol, rec.posterior,
                    rec.n_flashes, rec.text)
        s._publish(f"{mode}: selected {rec.symbol!r}", completions=True)
        if s.on_decision is not None:
            s.on_decision(rec)
        return rec

    def _apply_direct(self, symbol) -> None:
        s, engine = self.session, self.engine
        self.driver.select(symbol)  # (where a replay applies it too)
        if s._adapt is not None:
            s._adapt.after_direct(symbol)
        if isinstance(symbol, Completion):
            s._send(format_text(engine.text), via_source=False)
        else:
            s._send(format_select(symbol), via_source=False)
        s._log({"type": "select", "t": local_clock(), "symbol": str(getattr(symbol, "word", symbol)),
                "text": engine.text})
        s._publish(completions=True)

    def _stop_after(self, rec: DecisionRecord, consecutive_errors: int) -> bool:
        """Whether the run ends after ``rec``; a stop rule that ends the session says why."""
        s, mode, text = self.session, self.mode, self.text
        sp = s.config.speller
        n = len(s._decisions)
        if sp.max_selections and n >= sp.max_selections:
            s._end(f"max_selections ({sp.max_selections}) reached")
            return True
        if mode == "copy" and sp.max_consecutive_errors and consecutive_errors >= sp.max_consecutive_errors:
            s._end(f"max_consecutive_errors ({sp.max_consecutive_errors}) reached")
            return True
        if mode == "copy" and text is not None and not sp.max_selections \
                and n - self.n_before >= copy_selection_limit(text) and not phrase_done(text, rec.text):
            s._end(f"copy phrase {text!r} not typed after {n - self.n_before} selections (the copy limit, "
                   f"2 x its length + 10; set [speller] max_selections or --max-selections to change it)")
            return True
        if mode == "copy" and text is not None:
            typed = rec.text
            has_bs = BACKSPACE in s.layout.symbols
            if typed == text or (getattr(self, "_cells_sent", None) is not None
                                  and phrase_done(text, typed)) or (not has_bs and len(typed) >= len(text)):
                s._ending.phase_complete()
                return True
        return False


def run_spelling(session, mode: str, text: str | None) -> None:
    """Run a spelling phase of ``session``: a :class:`SpellingRun`, recorded as a ``SPELLING`` run."""
    s = session
    if mode == "copy":
        s.copy_text = text  # (a SetPhase may bring another phrase)
    s._begin_phase(mode, SPELLING, text)
    if s.decoder is None:
        raise NeurospellError("spelling needs a decoder: calibrate first or pass decoder=...")
    if s._driver is not None:  # the previous run's
        s._discarded_before += sum(s._driver.epocher.n_dropped_.values())
        s._n_scored_before += s._driver.n_scored
    prepare_adaptation(s)  # ([speller] adapt: the decoder models can be swapped in)
    run = SpellingRun(s, mode, text)
    s._spelling, s._engine, s._driver = run, run.engine, run.driver
    s._stream.consumer = run.driver.push
    if s._adapt is not None:
        s._adapt.attach(run)
    s._flashes.new_run()
    s._watch.new_run()
    run.run()
    s._ending.phase_complete()
    s._flashes.cancel()
    _wait_scheduled_out(s)
    s._end_phase()


def _wait_scheduled_out(s, timeout: float = 5.0) -> None:
    """Wait until the flashes being shown are reported (their markers sent), then for the
    samples the epoch window of the last one needs, so the run's recording holds them."""
    deadline = time.monotonic() + timeout
    while s._flashes.n_scheduled() and time.monotonic() < deadline:
        s._step()
    t_end = time.monotonic() + s.config.preprocessing.tmax + 0.3
    while time.monotonic() < t_end and not s._pause.blocked():
        s._step()
