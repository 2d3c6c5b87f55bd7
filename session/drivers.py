"""Drivers: where the flash scores that feed the :class:`~neurospell.session.engine.SpellerEngine`
come from. Every entry point (replay, evaluation, simulation, the demo, a live session)
uses one of these; none keeps its own selection loop.

* :func:`run_trials` -- recorded flash scores (batch): each recorded character's flashes
  in onset order until the engine decides (the rest of the character's flashes are
  unused; a character that runs out of flashes forces the decision).
* :func:`spell_symbol` / :func:`copy_spell` -- a score-level simulated participant
  (:class:`~neurospell.session.simulator.scores.ScoreSampler` or anything with
  ``respond_flashes(layout, symbol, groups)``) answers the groups the engine asks for.
* :class:`StreamDriver` -- a stream: sample chunks and markers from a live source's reader,
  a :class:`~neurospell.session.replay.RecordingReader` or a session folder's rawlog (read
  by the one feed loop, :func:`~neurospell.session.feed.feed`) -> online filter + epocher
  (:class:`~neurospell.preprocessing.OnlineEpocher`) -> decoder -> engine(s). Symbols
  chosen outside the flashing (a backspace key, a completion) go through
  :meth:`StreamDriver.select`, live and in a replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from neurospell.acquisition.gaps import GapIndexer  # (the gap rule's home; imported from here too)
from neurospell.check import NeurospellError, validate_type
from neurospell.markers import BACKSPACE, copy_selection_limit, parse_flash, parse_phrase
from neurospell.preprocessing import OnlineEpocher
from neurospell.types import EpochBatch

from .artifacts import ArtifactGate
from .engine import Completion, SelectionDecided, SpellerEngine
from .feed import feed
from .flashgroups import SymbolGroup
from .modelrate import ModelRate
from .wordcells import intended

__all__ = ["run_trials", "spell_symbol", "copy_spell", "copy_spell_words", "StreamDriver", "PhraseRun", "GapIndexer"]


def _decided(events) -> SelectionDecided:
    return next(e for e in events if isinstance(e, SelectionDecided))


# -- recorded scores ------------------------------------------------------------------------
def run_trials(engine: SpellerEngine, groups, scores, trials, onsets=None, *,
               on_decision: Callable | None = None) -> list[SelectionDecided]:
    """Decode recorded flashes, one selection per recorded character.

    Parameters
    ----------
    engine : SpellerEngine
    groups : array of int, shape (n_flashes,)
        Flash-group index of each flash (stimulus code - 1).
    scores : array of float, shape (n_flashes,)
        The decoder's decision scores.
    trials : array of int, shape (n_flashes,)
        The character (trial) each flash belongs to; characters are decoded in increasing
        trial order (negative trials are ignored).
    onsets : array of float, shape (n_flashes,) | None
        Flash times (flashes of a character are fed in this order; default: as given).
    on_decision : callable ``(SelectionDecided) -> None`` | None

    Returns
    -------
    decisions : list of SelectionDecided
    """
    groups = np.asarray(groups)
    scores = np.asarray(scores, dtype=np.float64)
    trials = np.asarray(trials)
    if not groups.shape == scores.shape == trials.shape:
        raise NeurospellError(
            f"run_trials: groups {groups.shape}, scores {scores.shape} and trials {trials.shape} "
            "must have the same shape."
        )
    order = np.arange(len(groups)) if onsets is None else np.argsort(np.asarray(onsets), kind="stable")
    out = []
    for t in np.unique(trials[trials >= 0]):
        idx = order[trials[order] == t]
        events, _ = engine.on_flashes(groups[idx], scores[idx])
        if not events:  # the character ran out of flashes: decide with what there is
            events = engine.decide()
        dec = _decided(events)
        out.append(dec)
        if on_decision is not None:
            on_decision(dec)
    return out


# -- a simulated participant ----------------------------------------------------------------
def spell_symbol(engine: SpellerEngine, symbol: str, participant, *,
                 on_repetition: Callable | None = None) -> SelectionDecided:
    """One selection: the engine names flash groups, the participant answers, until it decides.

    Parameters
    ----------
    engine : SpellerEngine
    symbol : str
        The symbol the participant attends.
    participant : object with ``respond_flashes(layout, symbol, groups) -> scores``
    on_repetition : callable ``(n_repetitions, posterior) -> None`` | None
        Called after every complete repetition with the fused posterior at that point
        (the decided posterior for the last one).

    Returns
    -------
    SelectionDecided
    """
    layout = engine.layout
    if symbol not in layout.symbols:
        raise NeurospellError(f"symbol {symbol!r} is not on the speller layout {''.join(layout.symbols)!r}.")
    n_groups = layout.n_groups
    while True:
        groups = engine.next_flashes()
        scores = np.asarray(participant.respond_flashes(layout, symbol, groups), dtype=np.float64)
        for g, s in zip(groups, scores.tolist(), strict=True):
            events = engine.on_flash(g, s)
            if events:
                dec = _decided(events)
                if on_repetition is not None and dec.n_flashes % n_groups == 0:
                    on_repetition(dec.n_flashes // n_groups, dec.posterior)
                return dec
            if on_repetition is not None and engine.n_flashes % n_groups == 0:
                on_repetition(engine.n_flashes // n_groups, engine.posterior())


def copy_spell(engine: SpellerEngine, phrase: str, participant, *,
               on_decision: Callable | None = None) -> list[SelectionDecided]:
    """Simulated copy-spelling of ``phrase`` (no correction: errors stay in the text).

    Parameters
    ----------
    engine : SpellerEngine
    phrase : str
        Symbols of ``engine.layout``, one selection each.
    participant : object with ``respond_flashes(layout, symbol, groups) -> scores``
    on_decision : callable ``(SelectionDecided) -> None`` | None

    Returns
    -------
    list of SelectionDecided
    """
    for sym in phrase:
        if sym not in engine.layout.symbols:
            raise NeurospellError(f"copy_spell: symbol {sym!r} of {phrase!r} is not on the grid.")
    out = []
    for sym in phrase:
        dec = spell_symbol(engine, sym, participant)
        out.append(dec)
        if on_decision is not None:
            on_decision(dec)
    return out


def copy_spell_words(engine, phrase: str, participant, *, max_selections: int | None = None,
                     on_decision: Callable | None = None) -> list:
    """Copy-spell ``phrase`` with correction: each selection is what :func:`intended` says.

    The person selects a word cell when it offers the word they want, the next letter
    otherwise, and backspace after a mistake, until the text is the phrase (a final space
    left by a word cell counts as done) or ``max_selections`` (default :func:`~neurospell.markers.copy_selection_limit`).

    Parameters
    ----------
    engine : SpellerEngine
    phrase : str
    participant : object with ``respond_flashes(layout, symbol, groups) -> scores``
    max_selections : int | None
    on_decision : callable ``(SelectionDecided, intended_symbol) -> None`` | None

    Returns
    -------
    list of (SelectionDecided, str)
        Each decision with the symbol the person intended.
    """
    bad = sorted({c for c in phrase if c not in engine.layout.symbols})
    if bad:
        raise NeurospellError(f"copy_spell_words: symbols {bad} of {phrase!r} are not on the grid.")
    limit = copy_selection_limit(phrase) if max_selections is None else int(max_selections)
    out = []
    while len(out) < limit:
        want = intended(phrase, engine.text, engine.layout, engine.word_cells)
        if want is None:
            break
        dec = spell_symbol(engine, want, participant)
        out.append((dec, want))
        if on_decision is not None:
            on_decision(dec, want)
    return out


# -- a stream ---------------------------------------------------------------------------------
@dataclass
class PhraseRun:
    """The decisions of one phrase of a stream, per engine.

    Attributes
    ----------
    kind : str | None
        ``"calibration"``/``"test"`` from the phrase marker (``None`` before any marker).
    text : str | None
        The phrase's text from its marker.
    decisions : list of list of SelectionDecided
        ``decisions[k]``: the decisions of engine ``k``.
    trials : list of int
        Recorded characters (trial indices) of the phrase, in order.
    symbols : list of str | None
        Intended symbol of each character (from the trial markers) or ``None``.
    """

    kind: str | None
    text: str | None
    decisions: list = field(default_factory=list)
    trials: list = field(default_factory=list)
    symbols: list = field(default_factory=list)


class StreamDriver:
    """Chunks + markers -> online filter and epocher -> decoder -> speller engine(s).

    Each flash's epoch is scored as soon as its window is complete and given to every
    engine (e.g. one with the language model, one without: the scores are computed once).
    Recorded characters (trial markers) are honoured: once an engine decides, the rest of
    the character's flashes are not used, and a character that ends undecided is decided
    with what it had. Without trial markers (a live session) every flash goes to the
    current selection. A phrase marker (``phrase:<kind>:<text>``) starts a new
    :class:`PhraseRun` and every engine restarts from an empty text (a new LM context).
    The intended symbol of each character comes from the epocher
    (:attr:`~neurospell.preprocessing.OnlineEpocher.trial_symbols_`), which reads the trial
    markers.

    Parameters
    ----------
    engines : SpellerEngine | sequence of SpellerEngine
    decoder : BaseDecoder
        A fitted decoder (``decision_function``).
    cfg : PreprocessConfig
    sfreq : float
    ch_names : sequence of str
    ch_types : sequence of str | None
    picks : str | list of str
    buffer_seconds : float
    on_events : callable ``(engine_index, events) -> None`` | None
        Called with the events of every decision.
    one_epoch : bool
        Score one epoch per decoder call (a batch of 1), in onset order. A decoder's scores
        can differ in the last bits between batch sizes (BLAS kernels depend on the shape);
        a live session and its replay both score one at a time, so the replay reproduces
        every score and decision bit for bit. Default: every completed epoch in one call.
    on_score : callable ``(onset, group, score, trial) -> None`` | None
        Called for every scored flash (group index = code - 1, ``-1`` for an unknown code,
        a :class:`~neurospell.session.flashgroups.SymbolGroup` for a flash whose marker
        names its members; trial ``-1`` without trial markers), in the order the flashes
        are given to the engines, before the decision the flash may cause.
    """

    def __init__(self, engines, decoder, cfg, sfreq, ch_names, ch_types=None, *, picks="eeg",
                 buffer_seconds: float = 10.0, on_events: Callable | None = None,
                 one_epoch: bool = False, on_score: Callable | None = None):
        self.engines: tuple[SpellerEngine, ...] = (
            (engines,) if isinstance(engines, SpellerEngine) else tuple(engines))
        if not self.engines:
            raise NeurospellError("StreamDriver needs at least one SpellerEngine.")
        for e in self.engines:
            validate_type(e, SpellerEngine, "engines")
        self.decoder = decoder
        #: Epochs to the decoder's rate when the stream's differs (:mod:`~neurospell.session.modelrate`).
        self.model_rate = ModelRate(decoder)
        #: One-epoch scoring: artifact epochs skipped (:mod:`~neurospell.session.artifacts`).
        self.artifacts = ArtifactGate()
        self.epocher = OnlineEpocher(cfg, sfreq, ch_names, ch_types, picks=picks,
                                     buffer_seconds=buffer_seconds)
        self.on_events = on_events
        self.one_epoch = bool(one_epoch)
        self.on_score = on_score
        self.phrases: list[PhraseRun] = []
        self._phrase_marks: list[tuple[float, str, str]] = []
        self._trial: int | None = None
        self._closed = [False] * len(self.engines)
        self.n_scored = 0
        #: Flashes handed on (``on_score``) so far, unknown groups included.
        self.n_flashes = 0
        self._selects: list[tuple[int, str, str | None]] = []
        #: Members of the flashes whose markers name them (code 0), by onset.
        self._members: dict[float, SymbolGroup] = {}
        #: The first logged selection whose text the replay did not reproduce (``None``: none).
        self.select_mismatch: str | None = None

    @classmethod
    def for_recording(cls, engines, decoder, cfg, raw, **kw) -> StreamDriver:
        """A driver for a recording (its rate and channels), for ``replay_batch(driver=...)``."""
        kw.setdefault("buffer_seconds", max(10.0, 2 * (cfg.tmax - cfg.tmin) + 1.0))
        return cls(engines, decoder, cfg, raw.info["sfreq"], raw.ch_names, raw.get_channel_types(), **kw)

    # -- input ---------------------------------------------------------------------------------
    def push(self, chunk=None, markers: Sequence = ()) -> EpochBatch:
        """Add a sample chunk and markers; score and decode the epochs they complete.

        Returns
        -------
        batch : EpochBatch
            The epochs completed by this call (possibly none).
        """
        for m in markers:
            ph = parse_phrase(m.label) if m.label else None
            if ph is not None:
                self._phrase_marks.append((m.timestamp, ph.kind, ph.text))
            fl = parse_flash(m.label) if m.label else None
            if fl is not None and fl.members is not None:
                self._members[float(m.timestamp)] = SymbolGroup(fl.members)
        self.epocher.push_markers(markers)
        batch = self.model_rate(self.epocher.update(chunk))
        self._feed(batch)
        return batch

    def read_from(self, reader, *, stop: Callable[[], bool] | None = None,
                  poll: float = 0.05) -> EpochBatch:
        """Consume a reader (``read() -> (chunk | None, markers)``) and decode as it goes.

        :func:`~neurospell.session.feed.feed` with this driver: a
        :class:`~neurospell.session.replay.RecordingReader` ends by itself (``exhausted``);
        a live source's :class:`~neurospell.acquisition.Reader` runs until ``stop()``
        returns ``True`` (waiting up to ``poll`` seconds for new samples between reads).
        The open selection is then decided (:meth:`finish`). Returns all epochs.
        """
        batches = feed(reader, self, stop=stop, poll=poll)
        return EpochBatch.concatenate(batches) if batches else self.epocher.pop_epochs()

    def finish(self, *, decide: bool = True) -> EpochBatch:
        """The stream ended: flush the epocher and decide every open selection.

        ``decide=False``: the stream was cut short (a crash): the flashes still waiting for
        samples are dropped and nothing more is scored or decided (the live session never
        did). Logged selections due by then (:meth:`select_logged`) are applied first.
        """
        self._apply_selects()
        batch = self.model_rate(self.epocher.flush())
        if decide:
            self._feed(batch)
            self._close_trial()
        return batch

    # -- symbols chosen outside the flashing -------------------------------------------------------
    def select(self, symbol) -> str:
        """Apply a symbol chosen directly (a backspace key, a clicked completion) to every engine.

        Parameters
        ----------
        symbol : str | Completion
            A grid symbol, ``"<"`` (backspace) or a :class:`~neurospell.session.engine.Completion`.

        Returns
        -------
        text : str
            The (first) engine's text after it.
        """
        for e in self.engines:
            e.select(symbol)
        return self.engines[0].text

    def select_logged(self, symbol: str, text: str | None = None, *, after: int = 0) -> None:
        """Replay a logged direct selection where the live session applied it.

        Parameters
        ----------
        symbol : str
            The logged symbol: a grid symbol, ``"<"``, or the word of a completion.
        text : str | None
            The text the live session had after it; a symbol that is not a grid symbol, or
            whose result differs from ``text``, is read as a completion's word. A text the
            replay does not reproduce is kept in :attr:`select_mismatch`.
        after : int
            Applied before the flash that follows the first ``after`` flashes handed on
            (:attr:`n_flashes`), i.e. after the flashes logged before it, or at
            :meth:`finish`.
        """
        self._selects.append((int(after), str(symbol), text))
        self._apply_selects()

    def _apply_selects(self) -> None:
        while self._selects and self._selects[0][0] <= self.n_flashes:
            _, sym, text = self._selects.pop(0)
            e = self.engines[0]
            direct = (sym in e.layout.symbols or sym == BACKSPACE) and (
                text is None or e.text_after(sym) == text)
            now = self.select(sym if direct else Completion(sym))
            if text is not None and now != text and self.select_mismatch is None:
                self.select_mismatch = (f"after the direct selection {sym!r} the live text was {text!r}, the "
                                        f"replay's {now!r}")

    # -- decoding --------------------------------------------------------------------------------
    def _phrase_for(self, onset: float) -> None:
        while self._phrase_marks and self._phrase_marks[0][0] <= onset:
            _, kind, text = self._phrase_marks.pop(0)
            self._close_trial()
            self._trial = None
            self.phrases.append(PhraseRun(kind, text, [[] for _ in self.engines]))
            for e in self.engines:
                e.reset("")

    def _current(self) -> PhraseRun:
        if not self.phrases:
            self.phrases.append(PhraseRun(None, None, [[] for _ in self.engines]))
        return self.phrases[-1]

    def _close_trial(self) -> None:
        for k, e in enumerate(self.engines):
            if not self._closed[k] and e.n_flashes > 0:
                self._record(k, e.decide())
            self._closed[k] = True

    def _record(self, k: int, events) -> None:
        self._current().decisions[k].append(_decided(events))
        if self.on_events is not None:
            self.on_events(k, events)

    def _feed(self, batch: EpochBatch) -> None:
        if not len(batch):
            return
        order = np.argsort(batch.onsets, kind="stable")
        if self.one_epoch:
            scores = np.zeros(len(batch))
            for i in order:
                value = self.artifacts.score(self.decoder, batch.subset([i]))
                scores[i] = np.nan if value is None else value
        else:
            scores = self.decoder.decision_function(batch)
        self.n_scored += len(batch)
        trials = batch.trials if batch.trials is not None else np.full(len(batch), -1)
        if self._members:  # members of flashes the epocher dropped (emitted in onset order)
            first = float(np.min(batch.onsets))
            self._members = {t: g for t, g in self._members.items() if t >= first}
        for i in order:
            self._phrase_for(float(batch.onsets[i]))
            code, trial = int(batch.codes[i]), int(trials[i])
            group = self._members.pop(float(batch.onsets[i]), None) if code < 1 else code - 1
            if np.isnan(scores[i]):
                continue  # an artifact epoch (one-epoch scoring): no evidence, not handed on
            if self._selects:
                self._apply_selects()
            if self.on_score is not None:
                self.on_score(float(batch.onsets[i]), -1 if group is None else group, float(scores[i]), trial)
            self.n_flashes += 1
            if group is None:
                continue  # a flash of unknown group is no evidence for any symbol
            if trial >= 0 and trial != self._trial:
                self._close_trial()
                self._trial = trial
                self._closed = [False] * len(self.engines)
                ph = self._current()
                ph.trials.append(trial)
                ph.symbols.append(self.epocher.trial_symbols_.get(trial))
            elif trial < 0:
                self._closed = [False] * len(self.engines)
            for k, e in enumerate(self.engines):
                if self._closed[k]:
                    continue
                events = e.on_flash(group, float(scores[i]))
                if events:
                    self._record(k, events)
                    if trial >= 0:
                        self._closed[k] = True
