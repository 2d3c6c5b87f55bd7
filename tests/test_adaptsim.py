"""The offline replica of live self-labelled adaptation (neurospell.session.adaptsim)."""

import dataclasses

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config
from neurospell.decoder import make_decoder
from neurospell.session.adaptsim import (
    EpochReservoir,
    ReservoirExhausted,
    character_symbol,
    self_labelled_run,
    split_characters,
)
from neurospell.session.simulator.scores import synthetic_erp_epochs
from neurospell.types import EpochBatch, SpellerLayout

LAYOUT = SpellerLayout.row_column()


def _epochs(n_characters, n_repetitions, amplitude, seed):
    return synthetic_erp_epochs(n_characters, n_repetitions, LAYOUT, amplitude=amplitude, rng=seed)


def test_character_symbol_and_split():
    b = _epochs(3, 2, 5e-6, 0)
    chars = split_characters(b)
    assert [len(c) for c in chars] == [24, 24, 24]
    for c in chars:
        sym = character_symbol(c, LAYOUT)
        hit = set(LAYOUT.groups_containing(sym))
        assert np.array_equal(np.asarray(c.targets), np.isin(np.asarray(c.codes) - 1, list(hit)))
    with pytest.raises(NeurospellError, match="exactly one symbol"):
        character_symbol(b, LAYOUT)  # three characters' targets: no single symbol


def test_reservoir_uses_each_flash_once_in_recorded_order():
    c = split_characters(_epochs(1, 2, 5e-6, 1))[0]
    seen = []
    res = EpochReservoir(c, lambda b: (seen.append(np.asarray(b.onsets).copy()), np.zeros(len(b)))[1])
    groups = np.arange(LAYOUT.n_groups)
    res.start()
    res.respond_flashes(LAYOUT, "A", groups)
    res.respond_flashes(LAYOUT, "A", groups[::-1])
    used, scores = res.selection()
    assert len(used) == 24 and len(scores) == 24
    assert len(np.unique(used.onsets)) == 24  # no epoch twice
    codes = np.asarray(c.codes)
    onsets = np.asarray(c.onsets)
    for g in groups:  # group g's first answer is its first recorded flash, its second the second
        first, second = onsets[codes == g + 1]
        assert seen[0][g] == first and seen[1][LAYOUT.n_groups - 1 - g] == second
    with pytest.raises(ReservoirExhausted):
        res.respond_flashes(LAYOUT, "A", groups[:1])


def test_reservoir_by_class_when_groups_are_unknown():
    c = split_characters(_epochs(1, 3, 5e-6, 6))[0]
    y = np.asarray(c.targets, bool)
    c0 = EpochBatch(c.data, np.zeros(len(c), np.int64), c.onsets, c.tmin, c.sfreq, c.ch_names, c.targets, c.trials)
    res = EpochReservoir(c0, lambda b: np.asarray(b.targets, float))  # the score is the true label
    assert not res.by_code
    res.start()
    groups = np.array([5, 0, 7, 11])
    s = res.respond_flashes(LAYOUT, "A", groups)  # "A": row 0 and column 6
    assert s.tolist() == [0.0, 1.0, 0.0, 0.0]
    res.finish(2)  # decided after 2 flashes: the last two epochs go back
    used, scores = res.selection()
    assert np.asarray(used.codes).tolist() == [6, 1] and scores.tolist() == [0.0, 1.0]
    assert used.onsets.tolist() == [c.onsets[np.flatnonzero(~y)[0]], c.onsets[np.flatnonzero(y)[0]]]
    res.start()
    res.respond_flashes(LAYOUT, "A", np.array([7]))  # the non-target given back is answered again
    assert res.selection()[0].onsets.tolist() == [c.onsets[np.flatnonzero(~y)[1]]]


def test_self_labelled_run_labels_decisions_and_refits_as_live():
    cfg = Config()
    train = _epochs(6, 5, 6e-6, 2)
    dec = make_decoder("lda").fit(train)
    run_data = _epochs(8, 6, 6e-6, 3)
    chars = split_characters(run_data)
    run = self_labelled_run(dec, chars, LAYOUT, cfg, snapshots=(5, 10, 200), seed=0)
    n = len(run.selections)
    assert n >= 8  # at least one selection per character (the ERP is strong)
    flashes = sum(s.n_flashes for s in run.selections)
    assert flashes <= len(run_data)  # no flash used twice
    assert np.mean([s.correct for s in run.selections]) > 0.6
    # refits at 5, then every 3 more kept selections, as the live rule
    sp = cfg.speller
    expect = [k for k in range(1, n + 1)
              if k >= sp.adapt_min_selections and (k - sp.adapt_min_selections) % sp.adapt_every == 0]
    assert [r["n_selections"] for r in run.refits] == expect
    assert set(run.snapshots) == {5, 10}  # never padded: fewer than 200 selections
    s5 = run.snapshots[5]
    assert s5["applied"] == (s5["cv_auc"] >= s5["live_auc"])
    if s5["applied"]:
        assert s5["model"] is not dec and len(s5["model"].provenance_) > 0
    else:
        assert s5["model"] is dec
    # selections after an applied refit are made by it
    first_applied = next((i for i, r in enumerate(run.refits) if r["applied"]), None)
    if first_applied is not None:
        k = run.refits[first_applied]["n_selections"]
        assert run.selections[k].model == first_applied + 1
    assert all(s.model == 0 for s in run.selections[:sp.adapt_min_selections])


def test_self_labelled_run_wrong_decisions_give_wrong_labels():
    base = Config()
    cfg = dataclasses.replace(base, speller=dataclasses.replace(base.speller, adapt_require_better=False))
    dec = make_decoder("lda").fit(_epochs(6, 5, 6e-6, 4))
    chars = split_characters(_epochs(6, 12, 0.0, 5))  # no ERP: decisions are chance
    run = self_labelled_run(dec, chars, LAYOUT, cfg, snapshots=(5,), seed=1)
    assert any(not s.correct for s in run.selections)
    assert len(run.selections) >= 5
    # a selection cut short by the end of a character's flashes is dropped, never decided
    for sel, lab in zip(run.selections, run.labelled, strict=True):  # labels follow the decision
        hit = set(LAYOUT.groups_containing(sel.decided))
        assert np.array_equal(np.asarray(lab.targets), np.isin(np.asarray(lab.codes) - 1, list(hit)))
        assert len(lab) == sel.n_flashes
    assert run.n_dropped >= 1 and sum(s.n_flashes for s in run.selections) <= 6 * 12 * 12
    assert run.snapshots[5]["applied"] and run.snapshots[5]["model"] is not dec


def test_self_labelled_run_as_one_stream_uses_each_epoch_once():
    cfg = Config()
    dec = make_decoder("lda").fit(_epochs(6, 5, 6e-6, 7))
    data = _epochs(4, 5, 6e-6, 8)
    run = self_labelled_run(dec, split_characters(data), LAYOUT, cfg, seed=2, stream=True)
    onsets = np.concatenate([np.asarray(b.onsets) for b in run.labelled])
    assert len(onsets) == len(np.unique(onsets)) == sum(s.n_flashes for s in run.selections)
    assert [np.unique(b.trials).tolist() for b in run.labelled] == [[i] for i in range(len(run.labelled))]
    assert len({s.truth for s in run.selections}) > 1  # each selection spells a new symbol
