"""The speller engine: one selection loop for every entry point.

:class:`SpellerEngine` is pure and synchronous (no threads, no clock, no I/O). It owns the
typed text, the evidence of the current selection (the decoder stage's
:class:`~neurospell.decoder.CharacterEvidence`), the candidate beam
(:class:`~neurospell.lm_fusion.CandidateBeam`), the flash counter and the one stopping
rule, and fuses EEG evidence with the language-model prior in one place
(:func:`neurospell.lm_fusion.fuse`: floored, weighted prior). Its interface:

* :meth:`SpellerEngine.next_flashes` -- the flash groups to show next (a pluggable
  strategy, :class:`RowColumnFlashes` by default: each repetition flashes every group once
  in a seeded random order);
* :meth:`SpellerEngine.on_flash` ``(group, score)`` -- the events the flash causes:
  :class:`SelectionDecided`, :class:`TextChanged`, :class:`CandidatesChanged` (an empty
  tuple while the selection goes on);
* :meth:`SpellerEngine.snapshot` -- a frozen :class:`EngineSnapshot` a GUI can draw from.

Backspace (``"<"``) and a word completion are symbols like any other: a decided ``"<"``
deletes the last character, and :meth:`SpellerEngine.select` takes a symbol or a
:class:`Completion` chosen outside the flashing (a key, a click) through the same path.

The drivers in :mod:`neurospell.session.drivers` feed it from recorded scores, a simulated
participant or a live/recorded stream; every figure neurospell reports comes from here.
"""

from __future__ import annotations

import math

import numpy as np

from neurospell.check import NeurospellError, check_range, validate_type
from neurospell.decoder import CharacterEvidence, ScoreModel
from neurospell.lm_fusion import (
    BACKSPACE,
    CandidateBeam,
    complete_words,
    eeg_agrees,
    fuse,
    lm_prior,
    should_stop,
)
from neurospell.logs import logger
from neurospell.markers import apply_selection
from neurospell.types import Candidate, CandidateList, CharDistribution, Decision, SpellerLayout

from .flashgroups import RowColumnFlashes, default_min_flashes, make_flash_strategy
from .wordcells import WordCells, apply_word

__all__ = [
    "SpellerEngine",
    "EngineSnapshot",
    "SelectionDecided",
    "TextChanged",
    "CandidatesChanged",
    "Completion",
    "RowColumnFlashes",
    "apply_symbol",
    "DEFAULT_ALPHA",
    "model_alpha",
]

#: LM weight used when neither the config (``[lm] alpha``) nor the model sets one.
DEFAULT_ALPHA = 1.0


#: The text after selecting a symbol (:func:`neurospell.markers.apply_selection`, its one home).
apply_symbol = apply_selection


def model_alpha(decoder, lm_name: str | None = None) -> float | None:
    """The LM weight stored with a trained model (``provenance_["lm_alpha"]``), or ``None``.

    With ``lm_name``, only a weight chosen for that language model is returned (a weight
    suits the model it was chosen with).
    """
    prov = getattr(decoder, "provenance_", None) or {}
    entry = prov.get("lm_alpha")
    if not isinstance(entry, dict) or entry.get("alpha") is None:
        return None
    if lm_name is not None and entry.get("lm") not in (None, lm_name):
        logger.info("the model's LM weight was chosen for %r, not %r: not used", entry.get("lm"), lm_name)
        return None
    return float(entry["alpha"])


# -- events and snapshot -------------------------------------------------------------------
from .engine_events import (  # noqa: E402 (the values it hands out, in their own module)
    CandidatesChanged,
    Completion,
    EngineSnapshot,
    SelectionDecided,
    TextChanged,
)


# -- the engine -----------------------------------------------------------------------------
class SpellerEngine:
    """Flashes in -> evidence -> fusion -> stop or flash again -> decision, text, candidates.

    Parameters
    ----------
    layout : SpellerLayout
    score_model : neurospell.decoder.ScoreModel
        The decoder's calibrated score densities (``decoder.score_model_``).
    lm : LanguageModel | None
        The prior; ``None`` is uniform (no language model).
    alpha : float
        Weight of the LM prior.
    floor : float
        Floor of the LM prior (``[lm] floor``).
    stop_threshold : float
        Posterior maximum that stops flashing (``[speller] stop_threshold``; ``1.0`` never
        stops early).
    min_repetitions, max_repetitions : int
        The rule is checked once ``min_repetitions * n_groups`` flashes are in; a decision
        is forced at ``max_repetitions * n_groups`` flashes.
    min_flashes, max_flashes : int | None
        The same in flashes (``[speller] min_flashes``/``max_flashes``); given, they replace
        the repetition counts (``min_flashes=0``: from the first flash on). Groups other
        than rows and columns need them (:meth:`from_config` then sets ``min_flashes`` to
        :data:`~neurospell.session.flashgroups.STRATEGY_MIN_FLASHES` unless the config has one).
    beam_width : int
        Candidate texts kept (``[lm] beam_width``; 0 disables the beam).
    backspace_p : float
        Prior probability of ``"<"`` when the grid has one (``[lm] backspace_p``).
    n_completions : int
        Word completions in the snapshot (``[lm] n_completions``).
    stop_each_flash : bool
        Check the rule after every flash (default) rather than only after complete
        repetitions.
    eeg_must_agree : bool
        An early stop needs the EEG evidence alone to rank the chosen symbol first
        (:func:`~neurospell.lm_fusion.eeg_agrees`; ``[speller] eeg_must_agree``): the prior
        can hasten the EEG's choice, never make it alone. Forced decisions are unchanged.
    flash_groups : object with ``next_repetition() -> tuple of groups`` | None
        The flash-group strategy (:mod:`neurospell.session.flashgroups`; default
        :class:`RowColumnFlashes` seeded with ``seed``). A group is a layout group index or a
        :class:`~neurospell.session.flashgroups.SymbolGroup`; a strategy with
        ``uses_posterior = True`` gets the fused posterior (``next_repetition(posterior)``).
    seed : int | numpy.random.Generator | None
    text : str
        Text already typed.

    Attributes
    ----------
    defer_lm_work : bool
        ``False`` (default): a decision's events come after the language-model work it
        causes (the LM prefetch of the new contexts, the candidate beam's update, the next
        selection's prior). ``True`` (a live session): the decision's events -- only
        :class:`SelectionDecided` and :class:`TextChanged` -- come as soon as the symbol is
        known, and that work is done by :meth:`complete_decision`, which the caller runs
        once it has acted on the decision; any other use of the engine runs it first. The
        same operations run in the same order, so the results are identical.
    """

    def __init__(self, layout: SpellerLayout, score_model: ScoreModel, lm=None, *,
                 alpha: float = DEFAULT_ALPHA, floor: float = 1e-3, stop_threshold: float = 0.95,
                 min_repetitions: int = 1, max_repetitions: int = 10, beam_width: int = 8,
                 backspace_p: float = 0.05, n_completions: int = 5, stop_each_flash: bool = True,
                 flash_groups=None, seed=None, text: str = "",
                 min_flashes: int | None = None, max_flashes: int | None = None,
                 eeg_must_agree: bool = False):
        validate_type(layout, SpellerLayout, "layout")
        self.layout = layout
        self.lm = lm
        self.alpha = check_range("alpha", alpha, 0.0, None)
        self.floor = float(floor)
        self.stop_threshold = check_range("stop_threshold", stop_threshold, 0.0, 1.0)
        if not 1 <= int(min_repetitions) <= int(max_repetitions):
            raise NeurospellError(
                "need 1 <= min_repetitions <= max_repetitions, got "
                f"min_repetitions={min_repetitions!r}, max_repetitions={max_repetitions!r}."
            )
        self.min_repetitions, self.max_repetitions = int(min_repetitions), int(max_repetitions)
        self.backspace_p = float(backspace_p)
        self.n_completions = int(n_completions)
        self.stop_each_flash = bool(stop_each_flash)
        self.eeg_must_agree = bool(eeg_must_agree)
        self.flash_groups = RowColumnFlashes(layout.n_groups, seed) if flash_groups is None else flash_groups
        self._evidence = CharacterEvidence(layout, score_model)
        self._words = WordCells.of(layout)  # word cells (session/wordcells.py), None without
        self._beam = (CandidateBeam(self._words.chars if self._words else layout.symbols, lm, alpha=self.alpha,
                                    floor=self.floor, beam_width=beam_width) if beam_width else None)
        self._min_flashes = self.min_repetitions * layout.n_groups if min_flashes is None else int(min_flashes)
        self._max_flashes = self.max_repetitions * layout.n_groups if max_flashes is None else int(max_flashes)
        if not 0 <= self._min_flashes <= self._max_flashes or self._max_flashes < 1:
            raise NeurospellError(
                "need 0 <= min_flashes <= max_flashes and max_flashes >= 1, got "
                f"min_flashes={self._min_flashes}, max_flashes={self._max_flashes}.")
        self._last: SelectionDecided | None = None
        self._n_selections = 0
        self._completions: tuple[str, CandidateList] | None = None
        #: Language-model work of the last decision still to do (see :attr:`defer_lm_work`).
        self._deferred: CharDistribution | None = None
        self.defer_lm_work = False
        self.reset(text)

    @classmethod
    def from_config(cls, layout: SpellerLayout, score_model: ScoreModel, lm, config, *,
                    model_alpha: float | None = None, **overrides) -> SpellerEngine:
        """Build from a :class:`~neurospell.config.Config` (``[lm]`` and ``[speller]``).

        ``alpha`` is ``[lm] alpha`` when the config sets it (an override), else
        ``model_alpha`` (the weight chosen on calibration data and stored with the model,
        see :func:`model_alpha`), else :data:`DEFAULT_ALPHA`.
        """
        alpha = config.lm.alpha
        if alpha is None:
            alpha = DEFAULT_ALPHA if model_alpha is None else float(model_alpha)
        kw = dict(alpha=alpha, floor=config.lm.floor, beam_width=config.lm.beam_width,
                  backspace_p=config.lm.backspace_p, n_completions=config.lm.n_completions,
                  stop_threshold=config.speller.stop_threshold,
                  min_repetitions=config.speller.min_repetitions,
                  max_repetitions=config.speller.max_repetitions,
                  stop_each_flash=config.speller.stop_each_flash,
                  max_flashes=config.speller.max_flashes,
                  eeg_must_agree=config.speller.eeg_must_agree)
        strategy = config.speller.flash_strategy
        if config.speller.min_flashes is not None or strategy != "row-column":
            kw["min_flashes"] = default_min_flashes(strategy, config.speller.min_flashes,
                                                    config.speller.min_repetitions, layout.n_groups)
        kw.update(overrides)
        if kw.get("flash_groups") is None and strategy != "row-column":
            kw["flash_groups"] = make_flash_strategy(strategy, layout, kw.pop("seed", None))
        return cls(layout, score_model, lm, **kw)

    # -- state -----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The typed text."""
        return self._text

    @property
    def n_flashes(self) -> int:
        """Flashes of the current selection."""
        return self._evidence.n_flashes

    def complete_decision(self) -> tuple:
        """Do the language-model work a deferred decision left (:attr:`defer_lm_work`).

        Returns
        -------
        events : tuple
            ``(CandidatesChanged,)`` after a deferred decision, empty otherwise.
        """
        ev = self._deferred
        if ev is None:
            return ()
        self._deferred = None
        self._lm_after_decision(ev)
        self._prior = self._next_prior()
        self._use_prior = self.lm is not None and self.alpha > 0
        return (CandidatesChanged(self.candidates),)

    @property
    def candidates(self) -> CandidateList:
        """Candidate texts (EEG + LM), best first; the best may correct earlier decisions."""
        self.complete_decision()
        if self._beam is None:
            return CandidateList((Candidate(self._text, 0.0),))
        return self._beam.candidates

    def reset(self, text: str = "") -> tuple:
        """Start again from ``text``: empty evidence, one candidate, a new LM context.

        Returns
        -------
        events : tuple
            :class:`TextChanged` and :class:`CandidatesChanged` when ``text`` differs from
            the current text (empty otherwise).
        """
        previous = getattr(self, "_text", None)
        if previous is not None:
            self.complete_decision()
        self._text = str(text)
        if self._beam is not None:
            self._beam.reset(self._text)
        self._start_selection()
        if previous is None or previous == self._text:
            return ()
        return (TextChanged(self._text, previous), CandidatesChanged(self.candidates))

    @property
    def word_cells(self) -> tuple:
        """The words the layout's word cells show now, in cell order (``""``: empty)."""
        self.complete_decision()
        return self._words.shown if self._words is not None else ()

    def _next_prior(self) -> CharDistribution:
        if self._words is not None:
            self._words.refresh(self.lm, self._text)
            return self._words.prior(self.lm if self.alpha > 0 else None, self._text, backspace_p=self.backspace_p)
        return lm_prior(self.lm if self.alpha > 0 else None, self._text, self.layout.symbols,
                        backspace_p=self.backspace_p)

    def _start_selection(self, *, prior: bool = True) -> None:
        self._evidence.reset()
        if prior:
            self._prior = self._next_prior()
            self._use_prior = self.lm is not None and self.alpha > 0
        self._posterior = None
        self._planned: list[int] = []

    # -- flashes -----------------------------------------------------------------------------
    def next_flashes(self) -> tuple[int, ...]:
        """The flash groups (indices) to show next, in order.

        The rest of the planned repetition; a new one from the strategy when none is left.
        A driver with a recorded flash order may ignore it and report its own groups.
        """
        if not self._planned:
            self._planned = list(self.plan_flashes())
        return tuple(self._planned)

    def plan_flashes(self) -> tuple:
        """A new repetition from the strategy (given the posterior when it uses one); a live
        session plans ahead with it while flashes are still being scored."""
        fg = self.flash_groups
        return tuple(fg.next_repetition(self.posterior()) if getattr(fg, "uses_posterior", False)
                     else fg.next_repetition())

    @property
    def max_flashes(self) -> int:
        """Flashes at which a decision is forced."""
        return self._max_flashes

    def on_flash(self, group: int, score: float) -> tuple:
        """Add one flash of the current selection and apply the stopping rule.

        Parameters
        ----------
        group : int | SymbolGroup
            Flash-group index (stimulus code - 1), or the symbols the flash lit
            (:class:`~neurospell.session.flashgroups.SymbolGroup`).
        score : float
            The decoder's decision score of the flash's epoch.

        Returns
        -------
        events : tuple
            Empty while the selection goes on; ``(SelectionDecided, TextChanged,
            CandidatesChanged)`` when the rule ends it.
        """
        self.complete_decision()
        if isinstance(group, tuple):
            g = group
            self._evidence.add_members(g, float(score))
        else:
            g = int(group)
            self._evidence.add_flash(g, float(score))
        self._posterior = None
        if self._planned and self._planned[0] == g:
            self._planned.pop(0)
        elif g in self._planned:
            self._planned.remove(g)
        if self._should_stop():
            return self._decide(forced=False)
        return ()

    def on_flashes(self, groups, scores) -> tuple:
        """Add flashes one by one until one ends the selection.

        Returns
        -------
        events : tuple
            The events of the decision (empty if none).
        used : int
            Flashes consumed (the rest belong to no selection and are dropped).
        """
        groups = (list(groups) if isinstance(groups, (list, tuple)) and any(isinstance(g, tuple) for g in groups)
                  else np.atleast_1d(np.asarray(groups)).tolist())
        scores = np.atleast_1d(np.asarray(scores, dtype=np.float64))
        if len(groups) != scores.size:
            raise NeurospellError(f"on_flashes: {len(groups)} groups but {scores.size} scores.")
        for i, (g, s) in enumerate(zip(groups, scores.tolist(), strict=True)):
            events = self.on_flash(g, s)
            if events:
                return events, i + 1
        return (), len(groups)

    def _should_stop(self) -> bool:
        """The stopping rule (:func:`neurospell.lm_fusion.should_stop`) after this flash.

        Counted in flashes: the rule applies after every flash once ``min_flashes`` (by
        default ``min_repetitions`` repetitions' worth) are in; in per-repetition mode only
        at the end of a repetition (``n_groups`` flashes).
        """
        n = self._evidence.n_flashes
        n_g = self.layout.n_groups
        if n < self._max_flashes and (n < self._min_flashes or self.stop_threshold >= 1.0
                                      or (not self.stop_each_flash and n % n_g)):
            return False  # the rule cannot fire: skip the fusion
        post = self.posterior()
        stop = should_stop(post, n, threshold=self.stop_threshold,
                           min_repetitions=self._min_flashes, max_repetitions=self._max_flashes)
        if stop and n < self._max_flashes and self.eeg_must_agree:
            return eeg_agrees(post, self._evidence.loglik)
        return stop

    def posterior(self) -> CharDistribution:
        """The fused posterior of the current selection (:func:`neurospell.lm_fusion.fuse`)."""
        self.complete_decision()
        if self._posterior is None:
            self._posterior = fuse(self._evidence.loglik, self._prior if self._use_prior else None,
                                   alpha=self.alpha, floor=self.floor, alphabet=self.layout.symbols)
        return self._posterior

    def decide(self) -> tuple:
        """Force the decision now (a recording that runs out of flashes, a user's request).

        Raises
        ------
        NeurospellError
            When the selection has no flash yet.
        """
        if self._evidence.n_flashes == 0:
            raise NeurospellError("decide: the current selection has no flashes yet; flash first.")
        return self._decide(forced=True)

    def _decide(self, *, forced: bool) -> tuple:
        post = self.posterior()
        ev = CharDistribution.from_scores(self.layout.symbols, self._evidence.loglik)
        sym = post.argmax()
        n = self._evidence.n_flashes
        n_rep = -(-n // self.layout.n_groups)
        dec = Decision(sym, float(math.exp(post[sym])), n_rep)
        previous = self._text
        self._text = self._words.apply(previous, sym) if self._words else apply_symbol(previous, sym)
        out = SelectionDecided(dec, post, self._prior, ev, n, self._text, forced)
        self._last = out
        self._n_selections += 1
        logger.debug("decided %r (p=%.3f) after %d flashes -> %r", sym, dec.posterior, n, self._text)
        if self.defer_lm_work:
            self._deferred = ev
            self._start_selection(prior=False)
            return (out, TextChanged(self._text, previous))
        self._lm_after_decision(ev)
        self._start_selection()
        return (out, TextChanged(self._text, previous), CandidatesChanged(self.candidates))

    def _lm_after_decision(self, ev: CharDistribution) -> None:
        prefetch = getattr(self.lm, "prefetch", None) if self._use_prior else None
        if prefetch is not None:
            # the LM contexts of this decision -- the beam's candidates and the next
            # selection's prior -- in one batched step (a speed-up; results unchanged)
            beam_texts = [c.text for c in self._beam.candidates] if self._beam is not None else []
            prefetch(beam_texts + [self._text])
        if self._beam is not None and self._words is not None:
            self._words.update_beam(self._beam, ev, self._last)
        elif self._beam is not None:
            self._beam.update(ev)

    # -- symbols chosen outside the flashing -----------------------------------------------
    def select(self, symbol) -> tuple:
        """Apply a symbol chosen directly (a backspace key, a clicked completion).

        Parameters
        ----------
        symbol : str | Completion
            A grid symbol, ``"<"`` (backspace) or a :class:`Completion`.

        Returns
        -------
        events : tuple
            :class:`TextChanged` and :class:`CandidatesChanged`. The current selection's
            evidence is discarded (its context changed).
        """
        self.complete_decision()
        previous = self._text
        if self._words is not None and self._words.word(symbol) is not None:  # a word cell: its word
            if not self._words.word(symbol):
                return ()  # an empty cell: nothing to type
            symbol = Completion(self._words.word(symbol))
        if isinstance(symbol, Completion):
            self._text = (self._words.apply_completion(previous, symbol.word) if self._words
                          else apply_word(previous, symbol.word))
            if self._beam is not None:
                self._beam.reset(self._text)
        elif isinstance(symbol, str) and (symbol in self.layout.symbols or symbol == BACKSPACE):
            self._text = self._words.apply(previous, symbol) if self._words else apply_symbol(previous, symbol)
            if self._beam is not None and self._words is not None and self._words.undid:
                self._beam.reset(self._text)  # a word taken back: the candidates restart from the text
            elif self._beam is not None:
                one_hot = np.full(len(self._beam.alphabet), -1e3)
                if symbol in self._beam.alphabet:
                    one_hot[self._beam.alphabet.index(symbol)] = 0.0
                    self._beam.update(one_hot)
                else:  # backspace not on the grid: candidates restart from the new text
                    self._beam.reset(self._text)
        else:
            raise NeurospellError(
                f"select: symbol must be one of the grid's symbols, {BACKSPACE!r} or a Completion, "
                f"got {symbol!r}."
            )
        self._start_selection()
        return (TextChanged(self._text, previous), CandidatesChanged(self.candidates))

    def text_after(self, symbol: str) -> str:
        """The text that selecting the grid symbol (or backspace) ``symbol`` now would give."""
        return self._words.after(self._text, symbol) if self._words is not None else apply_symbol(self._text, symbol)

    def completions(self) -> CandidateList:
        """The most probable words completing the word being typed (cached per text)."""
        self.complete_decision()
        if self.lm is None or self.n_completions <= 0:
            return CandidateList(())
        if self._completions is None or self._completions[0] != self._text:
            self._completions = (self._text, complete_words(self.lm, self._text, self.n_completions))
        return self._completions[1]

    @property
    def completions_ready(self) -> bool:
        """Whether the completions of the current text are computed (:meth:`completions` is then free)."""
        return self._completions is not None and self._completions[0] == self._text and self._deferred is None

    def snapshot(self, *, completions: bool = True) -> EngineSnapshot:
        """An immutable copy of the state (``completions=False`` skips the word search)."""
        self.complete_decision()
        n = self._evidence.n_flashes
        return EngineSnapshot(
            text=self._text, posterior=self.posterior(),
            evidence=CharDistribution.from_scores(self.layout.symbols, self._evidence.loglik),
            prior=self._prior, candidates=self.candidates,
            completions=self.completions() if completions else CandidateList(()),
            n_flashes=n, repetitions=n / self.layout.n_groups, last=self._last,
            n_selections=self._n_selections, word_cells=self.word_cells,
        )
