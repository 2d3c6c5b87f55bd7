"""Candidate texts: a beam over spelled texts scored by EEG evidence plus the language
model (re-ranking and correction), and word completion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurospell.check import NeurospellError, check_positive
from neurospell.types import Candidate, CandidateList

from .base import context_key
from .fusion import BACKSPACE, floor_prior, lm_prior
from .text import VOCAB

__all__ = ["CandidateBeam", "complete_words", "rerank"]


class CandidateBeam:
    """A beam of candidate texts, re-ranked after every selection.

    Each selection contributes, for every candidate text ``t`` and symbol ``c``, the EEG
    log-posterior of ``c`` under a uniform prior (normalised per selection) and ``alpha``
    times the floored LM log-probability of ``c`` after ``t``. The best candidate can differ
    from the text made of the individual decisions: when later evidence makes an earlier
    decision improbable, :attr:`candidates` offers the corrected text.

    Parameters
    ----------
    alphabet : sequence of str
    lm : LanguageModel | None
    alpha : float
    floor : float
    beam_width : int
    expand : int
        Symbols expanded per candidate (the most probable under EEG evidence + LM).
    """

    def __init__(self, alphabet: Sequence[str], lm=None, *, alpha: float = 1.0, floor: float = 1e-3,
                 beam_width: int = 8, expand: int = 6):
        self.alphabet = tuple(alphabet)
        self.lm, self.alpha, self.floor = lm, alpha, floor
        self.beam_width = int(check_positive("beam_width", beam_width))
        self.expand = int(expand)
        self.reset()

    def reset(self, text: str = "") -> None:
        """Start again from ``text`` (a single candidate)."""
        self._beam = [Candidate(text, 0.0, 0.0, 0.0)]

    @property
    def candidates(self) -> CandidateList:
        """The candidates, best first."""
        return CandidateList(tuple(self._beam))

    def update(self, eeg_logpost) -> CandidateList:
        """Extend every candidate with the symbols of one selection and keep the best.

        Parameters
        ----------
        eeg_logpost : array, shape (n_symbols,) | CharDistribution
            EEG-only log-posterior (uniform prior) of the selection.

        Returns
        -------
        CandidateList
        """
        ll = np.asarray(getattr(eeg_logpost, "logp", eeg_logpost), dtype=np.float64)
        if ll.shape != (len(self.alphabet),):
            raise NeurospellError(f"eeg_logpost must have shape ({len(self.alphabet)},), got {ll.shape}.")
        ll = ll - np.logaddexp.reduce(ll)
        new: dict[str, Candidate] = {}
        prefetch = getattr(self.lm, "prefetch", None) if self.alpha > 0 else None
        if prefetch is not None:
            prefetch([cand.text for cand in self._beam])  # one batched LM step (a speed-up)
        for cand in self._beam:
            if self.lm is not None and self.alpha > 0:
                lp = floor_prior(lm_prior(self.lm, cand.text, self.alphabet), self.floor) * self.alpha
            else:
                lp = np.zeros(len(self.alphabet))
            top = np.argsort(-(ll + lp), kind="stable")[: self.expand]  # most probable extensions
            for i in top:
                sym = self.alphabet[i]
                text = cand.text[:-1] if sym == BACKSPACE else cand.text + sym
                c = Candidate(text, cand.score + ll[i] + lp[i], cand.eeg_score + ll[i], cand.lm_score + lp[i])
                old = new.get(text)
                if old is None:
                    new[text] = c
                else:  # two paths to the same text: add their probabilities
                    s = float(np.logaddexp(old.score, c.score))
                    new[text] = Candidate(text, s, max(old.eeg_score, c.eeg_score), max(old.lm_score, c.lm_score))
        self._beam = sorted(new.values(), key=lambda c: -c.score)[: self.beam_width]
        return self.candidates


def complete_words(lm, text: str, k: int = 5, *, max_chars: int = 15, beam: int | None = None) -> CandidateList:
    """The ``k`` most probable words that complete the word being typed.

    Beam search over characters until a space; the score of a completion is its LM
    log-probability (natural log) given ``text``.

    Parameters
    ----------
    lm : LanguageModel
    text : str
        Text typed so far (the current word is what follows the last space).
    k : int
        Number of completions (0 returns none).
    max_chars : int
        Longest completion searched.
    beam : int | None
        Beam width (default ``4 * k``).

    Returns
    -------
    CandidateList
        Candidates whose ``text`` is the full completed word (upper case, no space) and
        whose ``score`` / ``lm_score`` is its log-probability.
    """
    if k <= 0:
        return CandidateList(())
    beam = beam or 4 * k
    ctx = context_key(text)
    space = VOCAB.index(" ")
    letters = [i for i, c in enumerate(VOCAB) if c.isalnum()]
    prefix = ctx[ctx.rfind(" ") + 1:]
    hyps = [("", 0.0)]
    done: list[tuple[str, float]] = []
    prefetch = getattr(lm, "prefetch", None)
    for _ in range(max_chars):
        ext = []
        if prefetch is not None:  # one batched step for the whole beam (a speed-up only)
            prefetch([ctx + h for h, _ in hyps])
        for h, s in hyps:
            lp = lm.next_logp(ctx + h)
            if h or prefix:
                done.append((prefix + h, s + float(lp[space])))
            for i in letters:
                ext.append((h + VOCAB[i], s + float(lp[i])))
        ext.sort(key=lambda x: -x[1])
        hyps = ext[:beam]
        if done and len(done) >= k and hyps[0][1] < sorted(d[1] for d in done)[-k]:
            break
    best: dict[str, float] = {}
    for w, s in done:
        if w and (w not in best or s > best[w]):
            best[w] = s
    words = sorted(best.items(), key=lambda x: -x[1])[:k]
    return CandidateList(tuple(Candidate(w, s, 0.0, s) for w, s in words))






def rerank(candidates: CandidateList, lm, *, weight: float = 1.0, context: str = "") -> CandidateList:
    """Re-score candidate texts with a (slower, stronger) language model, in one batch.

    The new score of each candidate is its EEG score plus ``weight`` times the model's
    log-probability of the whole text (e.g. SmolLM2 re-ranking sentences or words).

    Parameters
    ----------
    candidates : CandidateList
    lm : LanguageModel
    weight : float
    context : str
        Text before the candidates (for word candidates).

    Returns
    -------
    CandidateList
    """
    cands = list(candidates)
    if not cands:
        return CandidateList(())
    lp = lm.score([c.text for c in cands], context=context)
    return CandidateList(tuple(Candidate(c.text, c.eeg_score + weight * float(s), c.eeg_score, weight * float(s))
                               for c, s in zip(cands, lp, strict=True)))
