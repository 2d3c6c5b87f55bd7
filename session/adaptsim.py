"""Offline replica of a live session's self-labelled adaptation, on real recorded epochs.

A participant "spells" the characters of a recording with a starting model (typically the
cross-subject model aligned online, as ``neurospell spell --model generic --no-calibration``
does), through the speller engine with its stopping rule. Each recorded character is a
*reservoir* of flashes in recorded order (:class:`EpochReservoir`): a selection takes, for each
flash group the engine asks for, the next unused epoch of that group, until the engine
decides. The next selection of the same character goes on with the flashes left; a selection
that runs out of flashes before the engine decides is dropped (its epochs were scored, so an
online alignment saw them, but nothing is decided nor labelled), and spelling moves on to the
next character. No flash is ever used twice.

The *decided* symbol labels the selection's flashes (:func:`~.live.adaptation.label_selection`):
a wrong decision gives wrong labels, as it would live when the user does not undo it. Backspace
is not modelled (recorded epochs answer the recorded character only), so every selection is
kept and labelled. Refits follow the live rule of :mod:`~.live.adaptation` (the same
``[speller] adapt_min_selections``, ``adapt_every`` and ``adapt_require_better``, and
:func:`~.live.adaptation.refit_decoder` on every labelled epoch so far, pooled with nothing
else), except that a refit is done at once, between two selections, where a live session's
refit runs in its training process and is swapped in at the first decision after it
finishes: here it applies to the very next selection (the best case of the live timing).

:func:`self_labelled_run` also returns *snapshots*: for each ``k`` asked, the model a session
would use after ``k`` self-labelled selections: a refit on the first ``k`` labelled selections,
kept under the same require-better rule, else the model in force.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from neurospell.check import NeurospellError
from neurospell.decoder.validation import roc_auc
from neurospell.types import EpochBatch, SpellerLayout

from .drivers import spell_symbol
from .engine import SpellerEngine
from .live.adaptation import label_selection, refit_decoder

__all__ = ["ReservoirExhausted", "EpochReservoir", "character_symbol", "split_characters",
           "Selection", "AdaptationRun", "self_labelled_run"]


class ReservoirExhausted(NeurospellError):
    """A character's recorded flashes ran out before the engine decided."""


def character_symbol(batch: EpochBatch, layout: SpellerLayout) -> str:
    """The symbol one recorded character's target flashes point to (the only symbol that every
    target group holds and no non-target group does)."""
    if batch.targets is None:
        raise NeurospellError("character_symbol: the epochs carry no target labels.")
    codes, y = np.asarray(batch.codes), np.asarray(batch.targets, bool)
    member = layout.membership()
    hit = np.ones(len(layout.symbols), bool)
    for g in np.unique(codes[y]):
        hit &= member[int(g) - 1]
    for g in np.unique(codes[~y]):
        hit &= ~member[int(g) - 1]
    if hit.sum() != 1:
        raise NeurospellError(
            f"character_symbol: the target flashes (codes {sorted(set(codes[y].tolist()))}) do not point to "
            f"exactly one symbol of the grid ({int(hit.sum())} match).")
    return layout.symbols[int(np.flatnonzero(hit)[0])]


def split_characters(batch: EpochBatch) -> list[EpochBatch]:
    """One batch per character (``trials``), in order of first appearance, epochs in recorded order."""
    if batch.trials is None:
        raise NeurospellError("split_characters: the epochs carry no character indices (trials).")
    tr = np.asarray(batch.trials)
    _, first = np.unique(tr, return_index=True)
    return [batch.subset(list(np.flatnonzero(tr == tr[i]))) for i in sorted(first)]


class EpochReservoir:
    """One recorded character's flashes, answered to the engine in recorded order per group.

    Parameters
    ----------
    batch : EpochBatch
        The character's epochs (``codes`` = flash group + 1).
    score : callable ``EpochBatch -> array``
        Scores epochs (the model in force: it is looked up at each call).
    """

    def __init__(self, batch: EpochBatch, score):
        self.batch, self.score = batch, score
        codes = np.asarray(batch.codes)
        self._left = {int(c): deque(np.flatnonzero(codes == c).tolist()) for c in np.unique(codes)}
        self._taken: list[int] = []
        self._scores: list[float] = []

    def start(self) -> None:
        """A new selection starts."""
        self._taken, self._scores = [], []

    def respond_flashes(self, layout, symbol, groups) -> np.ndarray:
        """Scores of the next unused epochs of flash groups ``groups`` (the participant's answer)."""
        groups = [int(g) for g in np.asarray(groups).ravel()]
        need: dict = {}
        for g in groups:
            need[g + 1] = need.get(g + 1, 0) + 1
        if any(len(self._left.get(c, ())) < k for c, k in need.items()):
            raise ReservoirExhausted("the character's recorded flashes ran out")
        idx = [self._left[g + 1].popleft() for g in groups]
        s = np.asarray(self.score(self.batch.subset(idx)), float)
        self._taken += idx
        self._scores += s.tolist()
        return s

    def finish(self, n_flashes: int) -> None:
        """The engine decided after ``n_flashes`` of this selection's flashes: the ones it was
        answered after that (the rest of its last request) were never shown; they go back."""
        back = self._taken[int(n_flashes):]
        codes = np.asarray(self.batch.codes)
        for i in reversed(back):
            self._left[int(codes[i])].appendleft(i)
        self._taken, self._scores = self._taken[:int(n_flashes)], self._scores[:int(n_flashes)]

    def selection(self) -> tuple[EpochBatch, np.ndarray]:
        """The epochs this selection used (in the order flashed) and the scores they got."""
        return self.batch.subset(np.asarray(self._taken, np.int64)), np.asarray(self._scores, float)


@dataclass
class Selection:
    """One simulated selection of the adaptation run."""

    truth: str
    decided: str
    n_flashes: int
    model: int  # 0: the starting model, k: the k-th refit of the run

    @property
    def correct(self) -> bool:
        return self.truth == self.decided


@dataclass
class AdaptationRun:
    """What :func:`self_labelled_run` returns."""

    selections: list = field(default_factory=list)  # Selection, in order
    refits: list = field(default_factory=list)  # dicts: n_selections, cv_auc, live_auc, applied
    snapshots: dict = field(default_factory=dict)  # k -> dict(model, source, cv_auc, live_auc, applied)
    n_dropped: int = 0  # selections cut short by the end of a character's flashes
    labelled: list = field(default_factory=list)  # EpochBatch per selection, labelled by its decision


def _better(dec, labelled, live, require_better: bool) -> tuple[bool, float]:
    y = np.concatenate([np.asarray(b.targets, bool) for b in labelled])
    s = np.concatenate(live)
    live_auc = roc_auc(y, s) if 0 < y.sum() < len(y) else float("nan")
    ok = (not require_better) or (not np.isfinite(live_auc)) or dec.heldout_auc_ >= live_auc
    return bool(ok), float(live_auc)


def self_labelled_run(decoder, characters, layout: SpellerLayout, config, *, snapshots=(), seed=0,
                      on_selection=None) -> AdaptationRun:
    """Spell ``characters`` with ``decoder``, self-label every selection, refit as a live session.

    Parameters
    ----------
    decoder : BaseDecoder
        The starting model, ready to score (aligned online if it aligns: the caller decides).
    characters : list of EpochBatch
        The recorded characters, in order (their labels are read only to know which symbol
        each one spells, to score the decisions).
    layout : SpellerLayout
        The recorded row/column grid.
    config : Config
        ``[speller]`` (stopping rule, adaptation rule) and ``[preprocessing]``; no language model.
    snapshots : sequence of int
        Selection counts after which to return the model in force (see the module docstring).
    seed : int
    on_selection : callable ``(Selection) -> None`` | None

    Returns
    -------
    AdaptationRun
    """
    sp = config.speller
    rng = np.random.default_rng(seed)
    base = decoder
    params = dict(base.get_params())
    if "progress" in params:  # (as the live session's refit job)
        params["progress"] = False
    state = {"model": base, "k": 0}
    out = AdaptationRun()
    labelled, live = out.labelled, []
    last_submit = 0

    def refit(n):
        batch = EpochBatch.concatenate(labelled[:n])
        dec = refit_decoder(base.name, params, batch, config.preprocessing, None)
        ok, live_auc = _better(dec, labelled[:n], live[:n], sp.adapt_require_better)
        return dec, ok, live_auc

    for ch in characters:
        truth = character_symbol(ch, layout)
        res = EpochReservoir(ch, lambda b: state["model"].decision_function(b))
        while True:
            engine = SpellerEngine.from_config(layout, state["model"].score_model_, None, config,
                                               beam_width=0, n_completions=0, seed=rng)
            res.start()
            try:
                dec = spell_symbol(engine, truth, res)
            except ReservoirExhausted:
                out.n_dropped += int(len(res.selection()[1]) > 0)
                break
            res.finish(dec.n_flashes)
            sel = Selection(truth, dec.decision.symbol, int(dec.n_flashes), state["k"])
            out.selections.append(sel)
            if on_selection is not None:
                on_selection(sel)
            batch, scores = res.selection()
            lab = label_selection(batch, layout, sel.decided)
            labelled.append(lab)
            live.append(scores[np.asarray(batch.codes) >= 1])
            n = len(labelled)
            due = n >= sp.adapt_min_selections and (not last_submit or n - last_submit >= sp.adapt_every)
            fitted = None
            if due:
                last_submit = n
                fitted = refit(n)
                new, ok, live_auc = fitted
                out.refits.append({"n_selections": n, "cv_auc": float(new.heldout_auc_), "live_auc": live_auc,
                                   "applied": ok})
            if n in snapshots:
                in_force = (state["model"], state["k"])
                new, ok, live_auc = fitted if fitted is not None else refit(n)
                out.snapshots[n] = {"model": new if ok else in_force[0],
                                    "source": f"refit on {n}" if ok else
                                    ("starting model" if in_force[1] == 0 else f"refit {in_force[1]} of the run"),
                                    "cv_auc": float(new.heldout_auc_), "live_auc": live_auc, "applied": ok}
            if due and fitted[1]:
                state["model"], state["k"] = fitted[0], len(out.refits)
    return out
