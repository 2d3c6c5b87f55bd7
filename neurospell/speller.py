"""The per-selection loop of the speller, in one place.

:class:`SelectionLoop` accumulates flash evidence for the symbol being selected, fuses it
with the language-model prior, applies dynamic stopping, emits a
:class:`~neurospell.types.Decision`, updates the typed text and the candidate beam. The
recording decoder (:mod:`neurospell.spelling`), the speller simulation and the live session
all drive this class; only where the flash scores come from differs:

* :meth:`SelectionLoop.run_selection` pulls one repetition at a time from a callable
  (recorded flashes, a simulated participant, a live scorer) until it stops;
* or a caller pushes flashes with :meth:`SelectionLoop.add_flashes` and asks
  :meth:`SelectionLoop.should_stop` / :meth:`SelectionLoop.decide` itself (live GUI).

Core module: the decoder and lm_fusion stages are imported inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .check import NeurospellError, check_range, validate_type
from .types import CandidateList, CharDistribution, Decision, SpellerLayout

__all__ = ["SelectionLoop", "SelectionOutcome", "apply_symbol", "copy_spell"]


def apply_symbol(text: str, symbol: str, backspace: str = "<") -> str:
    """The text after selecting ``symbol`` (``backspace`` deletes the last character)."""
    if symbol == backspace:
        return text[:-1]
    return text + symbol


@dataclass(frozen=True)
class SelectionOutcome:
    """What one selection produced.

    Attributes
    ----------
    decision : Decision
    prior : CharDistribution
        The LM prior used (uniform without a model).
    posterior : CharDistribution
        The fused posterior at the decision.
    evidence : CharDistribution
        The EEG-only posterior (uniform prior) at the decision.
    n_flashes : int
    text : str
        The typed text after the decision.
    """

    decision: Decision
    prior: CharDistribution
    posterior: CharDistribution
    evidence: CharDistribution
    n_flashes: int
    text: str


class SelectionLoop:
    """Accumulate flashes -> fuse with the LM prior -> stop or flash again -> decide.

    Parameters
    ----------
    layout : SpellerLayout
    score_model : neurospell.decoder.ScoreModel
        The decoder's calibrated score densities (``decoder.score_model_``).
    lm : LanguageModel | None
        The prior; ``None`` is uniform (no language model).
    alpha : float
        Weight of the LM prior (``[lm] alpha``).
    floor : float
        Floor of the LM prior (``[lm] floor``).
    stop_threshold : float
        Posterior maximum that stops flashing (``[speller] stop_threshold``; ``1.0`` never
        stops early).
    min_repetitions, max_repetitions : int
    beam_width : int
        Candidate texts kept for re-ranking (``[lm] beam_width``; 0 disables the beam).
    backspace_p : float
        Prior probability of the backspace symbol ``"<"`` when the grid has one.
    stop_each_flash : bool
        Check the stopping threshold after every flash once ``min_repetitions`` complete
        repetitions are in (default), rather than only at the end of each repetition.
    text : str
        Text already typed.
    """

    def __init__(self, layout: SpellerLayout, score_model, lm=None, *, alpha: float = 1.0,
                 floor: float = 1e-3, stop_threshold: float = 0.95, min_repetitions: int = 1,
                 max_repetitions: int = 10, beam_width: int = 8, backspace_p: float = 0.05,
                 stop_each_flash: bool = True, text: str = ""):
        from neurospell.decoder.likelihood import CharacterEvidence
        from neurospell.lm_fusion.candidates import CandidateBeam

        validate_type(layout, SpellerLayout, "layout")
        self.layout = layout
        self.lm = lm
        self.alpha = check_range("alpha", alpha, 0.0, None)
        self.floor = floor
        self.stop_threshold = check_range("stop_threshold", stop_threshold, 0.0, 1.0)
        if not 1 <= int(min_repetitions) <= int(max_repetitions):
            raise NeurospellError(
                "need 1 <= min_repetitions <= max_repetitions, got "
                f"min_repetitions={min_repetitions!r}, max_repetitions={max_repetitions!r}."
            )
        self.min_repetitions, self.max_repetitions = int(min_repetitions), int(max_repetitions)
        self.backspace_p = backspace_p
        self.stop_each_flash = bool(stop_each_flash)
        self.evidence = CharacterEvidence(layout, score_model)
        self.beam = (CandidateBeam(layout.symbols, lm, alpha=self.alpha, floor=floor, beam_width=beam_width)
                     if beam_width else None)
        self.text = str(text)
        if self.beam is not None:
            self.beam.reset(self.text)
        self.history: list[SelectionOutcome] = []
        self._prior = None

    @classmethod
    def from_config(cls, layout: SpellerLayout, score_model, lm, config, **overrides) -> SelectionLoop:
        """Build from a :class:`~neurospell.config.Config` (``[lm]`` and ``[speller]``)."""
        kw = dict(alpha=config.lm.alpha, floor=config.lm.floor, beam_width=config.lm.beam_width,
                  backspace_p=config.lm.backspace_p,
                  stop_threshold=config.speller.stop_threshold,
                  min_repetitions=config.speller.min_repetitions,
                  max_repetitions=config.speller.max_repetitions)
        kw.update(overrides)
        return cls(layout, score_model, lm, **kw)

    # -- one selection, step by step -------------------------------------------------------
    @property
    def prior(self) -> CharDistribution:
        """The LM prior of the current selection (computed once per selection)."""
        if self._prior is None:
            from neurospell.lm_fusion.fusion import lm_prior

            self._prior = lm_prior(self.lm if self.alpha > 0 else None, self.text, self.layout.symbols,
                                   backspace_p=self.backspace_p)
        return self._prior

    def add_flashes(self, groups, scores) -> None:
        """Add flashes of the current selection (group indices = stimulus code - 1)."""
        self.evidence.add_flashes(groups, scores)

    def posterior(self) -> CharDistribution:
        """The fused posterior of the current selection."""
        from neurospell.lm_fusion.fusion import fuse

        return fuse(self.evidence.loglik, self.prior, alpha=self.alpha, floor=self.floor,
                    alphabet=self.layout.symbols)

    def should_stop(self, n_repetitions: int | None = None) -> bool:
        """Dynamic stopping after a complete repetition (threshold or maximum reached)."""
        from neurospell.lm_fusion.fusion import should_stop

        n = self.evidence.n_repetitions if n_repetitions is None else int(n_repetitions)
        return should_stop(self.posterior(), n, threshold=self.stop_threshold,
                           min_repetitions=self.min_repetitions, max_repetitions=self.max_repetitions)

    def decide(self, *, n_repetitions: int | None = None, timestamp: float = float("nan")) -> SelectionOutcome:
        """Choose the most probable symbol, update text and candidates, start a new selection."""
        post = self.posterior()
        ev = CharDistribution.from_scores(self.layout.symbols, self.evidence.loglik)
        sym = post.argmax()
        n_rep = self.evidence.n_repetitions if n_repetitions is None else int(n_repetitions)
        dec = Decision(sym, float(math.exp(post[sym])), n_rep, timestamp)
        self.text = apply_symbol(self.text, sym)
        if self.beam is not None:
            self.beam.update(ev)
        out = SelectionOutcome(dec, self.prior, post, ev, self.evidence.n_flashes, self.text)
        self.history.append(out)
        self.evidence.reset()
        self._prior = None
        return out

    @property
    def candidates(self) -> CandidateList:
        """Candidate texts (EEG + LM), best first; the best may correct earlier decisions."""
        if self.beam is None:
            from neurospell.types import Candidate

            return CandidateList((Candidate(self.text, 0.0),))
        return self.beam.candidates

    # -- word completion ----------------------------------------------------------------------
    def completions(self, k: int = 5) -> CandidateList:
        """The ``k`` most probable words completing the word being typed (LM only)."""
        from neurospell.lm_fusion.candidates import complete_words

        if self.lm is None or k <= 0:
            return CandidateList(())
        return complete_words(self.lm, self.text, k)

    def accept_completion(self, word: str) -> str:
        """Select a completed word as one symbol: it replaces the partial word, plus a space."""
        if not isinstance(word, str) or not word or " " in word:
            raise NeurospellError(f"accept_completion: word must be one non-empty word, got {word!r}.")
        cut = self.text.rfind(" ") + 1
        self.text = self.text[:cut] + word + " "
        if self.beam is not None:
            self.beam.reset(self.text)
        self.evidence.reset()
        self._prior = None
        return self.text

    # -- one selection, driven by a flash source -----------------------------------------------
    def run_selection(self, next_repetition: Callable[[int], tuple | None], *,
                      timestamp: float = float("nan")) -> SelectionOutcome:
        """Flash repetition after repetition until dynamic stopping says stop.

        Parameters
        ----------
        next_repetition : callable ``(repetition_index) -> (groups, scores) | None``
            Returns the flash groups (indices) and decoder scores of the next repetition
            (index from 0), or ``None`` when no more flashes are available (a recording that
            ends): the decision is then forced.
        timestamp : float

        Returns
        -------
        SelectionOutcome
        """
        from neurospell.lm_fusion.fusion import should_stop

        rep, stop = 0, False
        min_flashes = self.min_repetitions * self.layout.n_groups
        early = self.stop_each_flash and self.stop_threshold < 1.0
        while not stop:
            got = next_repetition(rep)
            if got is None:
                if rep == 0:
                    raise NeurospellError("run_selection: the flash source gave no flashes for this selection.")
                break
            groups = np.atleast_1d(np.asarray(got[0]))
            scores = np.atleast_1d(np.asarray(got[1], dtype=float))
            if groups.shape != scores.shape:
                raise NeurospellError(f"run_selection: {len(groups)} groups but {len(scores)} scores.")
            if early:  # check the threshold after every flash once min_repetitions are done
                for j in range(len(groups)):
                    self.add_flashes(groups[j:j + 1], scores[j:j + 1])
                    if self.evidence.n_flashes >= min_flashes and should_stop(
                            self.posterior(), self.max_repetitions - 1, threshold=self.stop_threshold,
                            min_repetitions=1, max_repetitions=self.max_repetitions):
                        stop = True
                        break
            else:
                self.add_flashes(groups, scores)
            rep += 1
            stop = stop or self.should_stop(rep)
        return self.decide(n_repetitions=rep, timestamp=timestamp)


def copy_spell(loop: SelectionLoop, phrase: str, respond: Callable, rng=None) -> list[SelectionOutcome]:
    """Simulated copy-spelling of ``phrase`` through ``loop`` (no backspace: errors stay).

    Parameters
    ----------
    loop : SelectionLoop
    phrase : str
        Symbols of ``loop.layout`` to spell, one selection each.
    respond : callable ``(layout, symbol, groups) -> scores``
        The participant, e.g. :meth:`neurospell.simulation.SimulatedParticipant.respond_flashes`.
    rng : numpy.random.Generator | int | None
        Flash order (each repetition flashes every group once in random order).

    Returns
    -------
    list of SelectionOutcome
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    layout = loop.layout
    outs = []
    for sym in phrase:
        if sym not in layout.symbols:
            raise NeurospellError(f"copy_spell: symbol {sym!r} of {phrase!r} is not on the grid.")

        def next_rep(r, sym=sym):
            groups = rng.permutation(layout.n_groups)
            return groups, respond(layout, sym, groups)

        outs.append(loop.run_selection(next_rep))
    return outs
