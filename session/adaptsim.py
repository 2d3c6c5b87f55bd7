"""Offline replica of a live session's self-labelled adaptation, on real recorded epochs.

A participant "spells" the characters of a recording with a starting model (typically the
cross-subject model aligned online, as ``neurospell spell --model generic --no-calibration``
does), through the speller engine with its stopping rule. Each recorded character is a
*reservoir* of flashes in recorded order (:class:`EpochReservoir`): a selection takes, for each
flash group the engine asks for, the next unused epoch of that group (of that class, target or
non-target, when the recording does not name flash groups), until the engine decides. The next selection of the same character goes on with the flashes left; a selection
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
from dataclasses import dataclass, field, replace

import numpy as np

from neurospell.check import NeurospellError
from neurospell.types import EpochBatch, SpellerLayout

from .drivers import spell_symbol
from .engine import SpellerEngine
from .live.adaptation import label_selection, refit_applies, refit_decoder
from .simulator.scores import ScoreSampler

__all__ = ["ReservoirExhausted", "EpochReservoir", "character_symbol", "split_characters",
           "Selection", "AdaptationRun", "self_labelled_run", "simulate_dynamic"]


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
    """One recorded character's flashes, answered to the engine in recorded order.

    When the recording names each flash's group (``codes`` >= 1, e.g. BNCI 003-2015), flash
    group ``g`` is answered with the next unused epoch of code ``g + 1``. When it does not
    (``codes`` 0, e.g. the g.tec set: target/non-target labels only), a flash of a group holding
    the attended symbol is answered with the next unused target epoch, any other flash with the
    next unused non-target epoch. Either way, the epochs a selection used carry the groups the
    engine flashed as their ``codes`` (:meth:`selection`), which is what self-labelling reads.

    Parameters
    ----------
    batch : EpochBatch
        The character's epochs (``targets`` needed when the codes are unknown).
    score : callable ``EpochBatch -> array``
        Scores epochs (the model in force: it is looked up at each call).
    by_class : bool
        Answer by target / non-target class even when the flash groups are known.
    """

    def __init__(self, batch: EpochBatch, score, *, by_class: bool = False):
        self.batch, self.score = batch, score
        codes = np.asarray(batch.codes)
        self.by_code = not by_class and bool(len(codes)) and bool(np.all(codes >= 1))
        if self.by_code:
            keys = codes
        elif batch.targets is None:
            raise NeurospellError("EpochReservoir: the epochs carry neither flash groups (codes) nor targets.")
        else:
            keys = np.asarray(batch.targets, bool)
        self._left = {k.item(): deque(np.flatnonzero(keys == k).tolist()) for k in np.unique(keys)}
        self.start()

    def start(self) -> None:
        """A new selection starts."""
        self._taken, self._keys, self._groups, self._scores = [], [], [], []

    def respond_flashes(self, layout, symbol, groups) -> np.ndarray:
        """Scores of the next unused epochs for flash groups ``groups`` (the participant's answer)."""
        groups = [int(g) for g in np.asarray(groups).ravel()]
        if self.by_code:
            keys = [g + 1 for g in groups]
        else:
            hit = set(layout.groups_containing(symbol))
            keys = [g in hit for g in groups]
        need: dict = {}
        for k in keys:
            need[k] = need.get(k, 0) + 1
        if any(len(self._left.get(k, ())) < n for k, n in need.items()):
            raise ReservoirExhausted("the character's recorded flashes ran out")
        idx = [self._left[k].popleft() for k in keys]
        s = np.asarray(self.score(self.batch.subset(np.asarray(idx, np.int64))), float)
        self._taken += idx
        self._keys += keys
        self._groups += groups
        self._scores += s.tolist()
        return s

    def finish(self, n_flashes: int) -> None:
        """The engine decided after ``n_flashes`` of this selection's flashes: the ones it was
        answered after that (the rest of its last request) were never shown; they go back."""
        n = int(n_flashes)
        for i, k in reversed(list(zip(self._taken[n:], self._keys[n:], strict=True))):
            self._left[k].appendleft(i)
        self._taken, self._keys = self._taken[:n], self._keys[:n]
        self._groups, self._scores = self._groups[:n], self._scores[:n]

    def selection(self) -> tuple[EpochBatch, np.ndarray]:
        """The epochs this selection used (in the order flashed, ``codes`` = the flashed group + 1)
        and the scores they got."""
        b = self.batch.subset(np.asarray(self._taken, np.int64))
        return replace(b, codes=np.asarray(self._groups, np.int64) + 1), np.asarray(self._scores, float)


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


def self_labelled_run(decoder, characters, layout: SpellerLayout, config, *, snapshots=(), seed=0,
                      stream: bool = False, on_selection=None) -> AdaptationRun:
    """Spell ``characters`` with ``decoder``, self-label every selection, refit as a live session.

    Parameters
    ----------
    decoder : BaseDecoder
        The starting model, ready to score (aligned online if it aligns: the caller decides).
    characters : list of EpochBatch
        The recorded characters, in order (their labels are read only to know which symbol
        each one spells, to score the decisions; when their flash groups were not recorded, each
        spells a symbol drawn at random and flashes are answered by target / non-target class,
        see :class:`EpochReservoir`).
    layout : SpellerLayout
        The recorded row/column grid.
    config : Config
        ``[speller]`` (stopping rule, adaptation rule) and ``[preprocessing]``; no language model.
    snapshots : sequence of int
        Selection counts after which to return the model in force (see the module docstring).
    seed : int
    stream : bool
        Treat all the characters' flashes as ONE reservoir, answered by target / non-target
        class in recorded order, each selection spelling a new symbol drawn at random (no
        selection is cut short by a character's end; each epoch is still used at most once).
        Default: one reservoir per character (see the module docstring).
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
        ok, live_auc = refit_applies(np.concatenate([b.targets for b in labelled[:n]]), np.concatenate(live[:n]),
                                     dec.heldout_auc_, require_better=sp.adapt_require_better)
        return dec, ok, live_auc

    segments = [EpochBatch.concatenate(list(characters))] if stream else characters
    for ch in segments:
        if not stream and np.all(np.asarray(ch.codes) >= 1):
            truth = character_symbol(ch, layout)
        else:  # flash groups not recorded (or one stream): the character spells a symbol drawn at random
            truth = layout.symbols[int(rng.integers(len(layout.symbols)))]
        res = EpochReservoir(ch, lambda b: state["model"].decision_function(b), by_class=stream)
        while True:
            if stream and out.selections:
                truth = layout.symbols[int(rng.integers(len(layout.symbols)))]
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
            # each selection is its own trial, as live (the refit's cross-validation folds group by trial)
            lab = replace(lab, trials=np.full(len(lab), len(out.selections) - 1, np.int64))
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


def simulate_dynamic(scores, targets, score_model, config, layout: SpellerLayout, *, n_selections: int = 50,
                     seed: int = 0) -> tuple[float, float]:
    """Accuracy and flashes per selection with dynamic stopping, no language model.

    ``n_selections`` selections of random symbols through the speller engine (the ``[speller]``
    stopping rule of ``config``), each flash answered with a score drawn from ``scores`` (a target
    score when the flash lights the attended symbol): the ``neurospell simulate`` participant
    (:class:`~.simulator.scores.ScoreSampler`) without the LM.

    Returns
    -------
    accuracy, flashes : float
    """
    targets = np.asarray(targets, bool)
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    who = ScoreSampler(scores[targets], scores[~targets], rng)
    engine = SpellerEngine.from_config(layout, score_model, None, config, beam_width=0, n_completions=0, seed=rng)
    correct, flashes = 0, 0
    for _ in range(int(n_selections)):
        sym = layout.symbols[rng.integers(len(layout.symbols))]
        engine.reset()
        dec = spell_symbol(engine, sym, who)
        correct += dec.decision.symbol == sym
        flashes += dec.n_flashes
    return correct / int(n_selections), flashes / int(n_selections)
