"""Flash-group strategies (row/column, checkerboard, adaptive), evidence over arbitrary groups,
the stopping rule in flashes, the members coding of markers, and every driver answering them."""

import dataclasses
import time

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config, SpellerConfig
from neurospell.decoder import CharacterEvidence, ScoreModel, make_decoder
from neurospell.markers import (
    annotation_to_label,
    flash_to_annotation,
    flash_to_int,
    flash_to_str,
    marker_to_annotation,
    parse_flash,
)
from neurospell.session import ScoreSampler, SpellerEngine, StreamDriver, copy_spell
from neurospell.session.engine import RowColumnFlashes as EngineRowColumn
from neurospell.session.flashgroups import (
    AdaptiveFlashes,
    CheckerboardFlashes,
    RowColumnFlashes,
    SymbolGroup,
    group_members,
    make_flash_strategy,
)
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live.flashes import FlashScheduler
from neurospell.session.simulator import synthetic_erp_epochs
from neurospell.session.simulator.intention import Intention
from neurospell.types import CharDistribution, EpochBatch, MarkerEvent, SampleChunk, SpellerLayout

LAYOUT = SpellerLayout.row_column()


def _score_model(d=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t, n = rng.normal(d, 1, 300), rng.normal(0, 1, 3000)
    sm = ScoreModel().fit(np.r_[t, n], np.r_[np.ones(300, bool), np.zeros(3000, bool)])
    return sm, t, n


def _edge_neighbours(i, j, n_cols=6):
    (ri, ci), (rj, cj) = divmod(i, n_cols), divmod(j, n_cols)
    return abs(ri - rj) + abs(ci - cj) == 1


def test_row_column_moved_and_reexported():
    assert EngineRowColumn is RowColumnFlashes
    a, b = RowColumnFlashes(12, 3).next_repetition(), RowColumnFlashes(12, 3).next_repetition()
    assert a == b and sorted(a) == list(range(12))


def test_checkerboard_groups_keep_neighbours_apart_and_never_repeat_a_symbol():
    cb = CheckerboardFlashes(LAYOUT, 7)
    seqs = [cb.next_repetition() for _ in range(30)]
    flat = [g for s in seqs for g in s]
    for s in seqs:
        assert all(isinstance(g, SymbolGroup) for g in s)
        counts = np.bincount([i for g in s for i in g], minlength=36)
        assert (counts == 2).all()  # every symbol twice per sequence
        # each symbol identified by its two groups
        codes = {tuple(k for k, g in enumerate(s) if i in g) for i in range(36)}
        assert len(codes) == 36
    for g in flat:
        assert not any(_edge_neighbours(i, j) for i in g for j in g if i < j), g
    for a, b in zip(flat, flat[1:], strict=False):
        assert not set(a) & set(b), (a, b)
    assert len({s for s in seqs}) == 30  # re-drawn per sequence
    again = CheckerboardFlashes(LAYOUT, 7)
    assert [again.next_repetition() for _ in range(30)] == seqs  # seeded


def test_adaptive_follows_the_posterior():
    ad = AdaptiveFlashes(LAYOUT, 0)
    flat = ad.next_repetition(None)
    assert len(flat) == 1 and len(flat[0]) == 6  # a row's worth with a flat posterior
    assert not any(_edge_neighbours(i, j) for i in flat[0] for j in flat[0] if i < j)
    p = np.full(36, 0.3 / 35)
    p[4] = 0.7
    post = CharDistribution(LAYOUT.symbols, np.log(p))
    g1 = ad.next_repetition(post)[0]
    g2 = ad.next_repetition(post)[0]
    g3 = ad.next_repetition(post)[0]
    assert g1 == SymbolGroup([4])  # the favourite alone
    assert 4 not in g2 and 1 <= len(g2) <= 6 and sum(p[list(g2)]) <= 0.5  # the rest, no repeat
    assert g3 == SymbolGroup([4])
    with pytest.raises(NeurospellError, match="max_size"):
        AdaptiveFlashes(LAYOUT, max_size=0)


def test_evidence_of_members_equals_evidence_of_the_layout_group():
    sm, t, n = _score_model()
    a, b = CharacterEvidence(LAYOUT, sm), CharacterEvidence(LAYOUT, sm)
    rng = np.random.default_rng(1)
    for _ in range(40):
        g, s = int(rng.integers(12)), float(rng.normal())
        a.add_flash(g, s)
        b.add_members(group_members(LAYOUT, g), s)
    np.testing.assert_array_equal(a.loglik, b.loglik)
    assert b.n_flashes == 40 and b.flash_counts.sum() == 0
    with pytest.raises(NeurospellError, match="members"):
        b.add_members([36], 0.0)
    with pytest.raises(NeurospellError, match="finite"):
        b.add_members([1], float("nan"))


def test_default_config_keeps_row_column_decisions_bit_for_bit():
    sm, t, n = _score_model(1.0)
    cfg = Config()
    runs = []
    for eng in (SpellerEngine.from_config(LAYOUT, sm, None, cfg, seed=3),
                SpellerEngine(LAYOUT, sm, None, flash_groups=RowColumnFlashes(12, 3),
                              min_repetitions=cfg.speller.min_repetitions,
                              max_repetitions=cfg.speller.max_repetitions),
                SpellerEngine(LAYOUT, sm, None, seed=3, min_flashes=12, max_flashes=120)):
        decs = copy_spell(eng, "HELLO WORLD", ScoreSampler(t, n, 5))
        runs.append([(d.decision.symbol, d.n_flashes, d.posterior.logp.tobytes()) for d in decs])
    assert runs[0] == runs[1] == runs[2]
    assert all(nf >= 12 for _, nf, _ in runs[0])


@pytest.mark.parametrize("name", ["checkerboard", "adaptive"])
def test_strategies_spell_through_the_engine_in_fewer_flashes_than_a_repetition(name):
    sm, t, n = _score_model(3.0)
    cfg = Config()
    cfg = dataclasses.replace(cfg, speller=dataclasses.replace(cfg.speller, flash_strategy=name, min_flashes=1))
    eng = SpellerEngine.from_config(LAYOUT, sm, None, cfg, seed=0)
    assert isinstance(eng.flash_groups, CheckerboardFlashes if name == "checkerboard" else AdaptiveFlashes)
    phrase = "THE QUICK BROWN FOX"
    decs = copy_spell(eng, phrase, ScoreSampler(t, n, 2))
    acc = np.mean([d.decision.symbol == c for d, c in zip(decs, phrase, strict=True)])
    assert acc >= 0.9
    assert min(d.n_flashes for d in decs) < 12  # the rule may fire before a row/column repetition
    if name == "adaptive":
        assert np.mean([d.n_flashes for d in decs]) < 12


def test_max_flashes_forces_the_decision():
    sm, t, n = _score_model(0.0)
    eng = SpellerEngine(LAYOUT, sm, None, flash_groups=AdaptiveFlashes(LAYOUT, 0), min_flashes=0,
                        max_flashes=5, stop_threshold=1.0, beam_width=0, n_completions=0)
    dec = copy_spell(eng, "A", ScoreSampler(t, n, 0))[0]
    assert dec.n_flashes == 5
    with pytest.raises(NeurospellError, match="min_flashes"):
        SpellerEngine(LAYOUT, sm, None, min_flashes=10, max_flashes=5)


def test_config_validates_the_strategy_and_flash_counts():
    with pytest.raises(NeurospellError, match=r"flash_strategy.*checkerboard"):
        SpellerConfig(flash_strategy="diagonal")
    with pytest.raises(NeurospellError, match="min_flashes"):
        SpellerConfig(min_flashes=-1)
    with pytest.raises(NeurospellError, match="min_flashes"):
        SpellerConfig(min_flashes=50, max_flashes=20)
    assert SpellerConfig(flash_strategy="adaptive", min_flashes=2, max_flashes=60).min_flashes == 2
    with pytest.raises(NeurospellError, match="flash_strategy"):
        make_flash_strategy("rows", LAYOUT)


def test_members_marker_coding_round_trips():
    s = flash_to_str(0, None, (15, 3, 9))
    assert s == "flash:0:members=3.9.15"
    assert parse_flash(s).members == (3, 9, 15) and parse_flash(s).code == 0
    t = flash_to_str(0, True, [2])
    assert t == "flash:0:target:members=2" and parse_flash(t).target is True
    ann = marker_to_annotation(t)
    assert ann == "flash/0/target/members=2" == flash_to_annotation(0, True, [2])
    assert parse_flash(ann) == parse_flash(t)
    assert annotation_to_label(ann) == (flash_to_int(0, True), t)
    assert parse_flash("flash:3:target").members is None
    with pytest.raises(NeurospellError, match="code 0"):
        flash_to_str(3, None, (1, 2))
    with pytest.raises(NeurospellError, match="members"):
        flash_to_str(0, None, ())


def test_score_sampler_answers_groups_of_members():
    who = ScoreSampler([10.0], [-10.0], 0)
    h = LAYOUT.symbols.index("H")
    groups = [SymbolGroup([h]), SymbolGroup([0, 1]), 1, SymbolGroup([h, 30])]
    assert who.respond_flashes(LAYOUT, "H", groups).tolist() == [10.0, -10.0, 10.0, 10.0]


def test_the_participant_answers_members_from_the_marker():
    who = Intention("HI", LAYOUT)
    info = parse_flash(flash_to_str(0, None, [LAYOUT.symbols.index("H"), 20]))
    assert who.is_target(info.code, info.target, info.members)
    info = parse_flash(flash_to_str(0, None, [LAYOUT.symbols.index("I")]))
    assert not who.is_target(info.code, info.target, info.members)
    who.on_marker("select:H")
    assert who.is_target(info.code, info.target, info.members)


def test_stream_driver_reads_members_from_the_markers():
    cfg = Config()
    sf, names = 128.0, tuple(f"EEG{i + 1:02d}" for i in range(8))
    b = synthetic_erp_epochs(6, 3, n_channels=8, sfreq=sf, tmax=cfg.preprocessing.tmax, rng=0)
    b = EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, names, b.targets, b.trials)
    dec = make_decoder("lda").fit(b, cfg.preprocessing)
    eng = SpellerEngine(LAYOUT, dec.score_model_, None, min_flashes=100, max_flashes=200, beam_width=0,
                        n_completions=0)
    scored = []
    drv = StreamDriver(eng, dec, cfg.preprocessing, sf, names, ["eeg"] * 8,
                       on_score=lambda onset, g, s, tr: scored.append((g, s)))
    rng = np.random.default_rng(0)
    n = int(6 * sf)
    ts = 100.0 + np.arange(n) / sf
    groups = [SymbolGroup([0, 7, 14]), 3, SymbolGroup([35])]
    marks = [MarkerEvent(101.0 + 0.2 * k, 0 if isinstance(g, tuple) else g + 1,
                         flash_to_str(0, None, g) if isinstance(g, tuple) else flash_to_str(g + 1))
             for k, g in enumerate(groups)]
    drv.push(SampleChunk(rng.normal(0, 1e-5, (8, n)), ts, names, ("eeg",) * 8, sf), marks)
    drv.finish(decide=False)
    assert [g for g, _ in scored] == groups
    ref = CharacterEvidence(LAYOUT, dec.score_model_)
    for g, s in scored:
        ref.add_members(group_members(LAYOUT, g), s)
    assert eng.n_flashes == 3
    np.testing.assert_allclose(eng._evidence.loglik, ref.loglik, rtol=0, atol=1e-12)
    assert not drv._members


def test_headless_display_and_scheduler_carry_members_into_the_marker():
    disp = HeadlessDisplay(0.02)
    sched = FlashScheduler(disp, LAYOUT)
    disp.on_onset(sched.on_onset)
    sent = []
    try:
        g = SymbolGroup([LAYOUT.symbols.index("A"), 8])
        sched.show([g, 2], ("calibration", 0, "A"))
        deadline = time.monotonic() + 10
        while len(sent) < 2 and time.monotonic() < deadline:
            sched.send_shown(lambda label, onset: sent.append(label))
            time.sleep(0.005)
    finally:
        disp.close()
    assert sent == ["flash:0:target:members=0.8", "flash:3:nontarget"]


def test_unset_min_flashes_is_two_with_other_strategies_and_a_repetition_with_rows_and_columns():
    sm, _, _ = _score_model()
    cfg = Config()
    assert SpellerEngine.from_config(LAYOUT, sm, None, cfg)._min_flashes == 12
    for name in ("checkerboard", "adaptive"):
        c = dataclasses.replace(cfg, speller=dataclasses.replace(cfg.speller, flash_strategy=name))
        assert SpellerEngine.from_config(LAYOUT, sm, None, c)._min_flashes == 2
    c = dataclasses.replace(cfg, speller=dataclasses.replace(cfg.speller, min_flashes=5, max_flashes=40))
    eng = SpellerEngine.from_config(LAYOUT, sm, None, c)
    assert (eng._min_flashes, eng.max_flashes) == (5, 40)


def test_the_qt_grid_lights_exactly_the_members(qtbot):
    from neurospell.gui.grid import SpellerGrid

    grid = SpellerGrid(flash_frames=2, gap_frames=2)
    qtbot.addWidget(grid)
    grid.resize(grid.sizeHint())
    grid.show()
    qtbot.waitExposed(grid)
    flash = grid._theme.qcolor("flash").rgb()
    seen = {}

    def on_shown(group, onset):
        img = grid.grab().toImage()
        dpr = img.devicePixelRatio()
        seen[group] = {i for i in range(36) if img.pixel(grid.probe_point(i) * dpr) == flash}

    grid.flashShown.connect(on_shown)
    groups = [SymbolGroup([0, 14, 35]), SymbolGroup([7]), 2]
    with qtbot.waitSignal(grid.scheduleFinished, timeout=20000):
        grid.show_flashes(groups)
    assert seen == {groups[0]: {0, 14, 35}, groups[1]: {7}, 2: set(LAYOUT.flash_groups[2])}
    with pytest.raises(NeurospellError, match="symbol indices"):
        grid.show_flashes([SymbolGroup([36])])


def test_simulate_with_the_adaptive_strategy(gtec_files, tmp_path, capsys):
    import json

    from neurospell.cli import main

    phrases = tmp_path / "p.txt"
    phrases.write_text("good night\nthank you\n")
    js = tmp_path / "sim.json"
    rc = main(["simulate", "--data", str(gtec_files[0]), "--decoder", "lda", "--phrases", str(phrases),
               "--lm", "ngram", "--strategy", "adaptive", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "flash groups adaptive" in out
    res = json.loads(js.read_text())
    assert res["flash_strategy"] == "adaptive" and res["min_flashes"] is None
    none, lm = res["rows"][0], res["rows"][1]
    assert none["accuracy"] >= 0.8 and lm["accuracy"] >= 0.8
    assert lm["flashes_per_char"] < 12  # fewer than one row/column repetition
    assert main(["simulate", "--data", str(gtec_files[0]), "--decoder", "lda", "--phrases", str(phrases),
                 "--min-flashes", "-1"]) == 2
    assert "--min-flashes" in capsys.readouterr().err
    assert main(["simulate", "--data", str(gtec_files[0]), "--decoder", "lda", "--phrases", str(phrases),
                 "--strategy", "diagonal"]) == 2
    assert "--strategy" in capsys.readouterr().err


def test_the_real_epoch_participant_answers_groups_of_members(gtec_files):
    """Over the marker path (the LSL participant's handler), a flash of members is answered with
    a real target epoch when the members hold the wanted symbol, a real non-target one otherwise."""
    from neurospell.preprocessing import load_recording
    from neurospell.session.simulator import RealEpochGenerator, StreamingParticipant

    gen = RealEpochGenerator(load_recording(gtec_files[0]), exclude_first_chars=3, seed=1)
    person = Intention("HI", LAYOUT)
    sim = StreamingParticipant(gen, person, lookahead=0.5)
    t0, h, i = 1000.0, LAYOUT.symbols.index("H"), LAYOUT.symbols.index("I")
    labels = [flash_to_str(0, None, [h, 20]), flash_to_str(0, None, [i]), flash_to_str(0, None, [h]),
              "select:H", flash_to_str(0, None, [i, 3])]
    for k, label in enumerate(labels):
        sim._handle(label, t0 + 1.0 + 0.175 * k, t0, pushed=0)
    assert [f.target for f in sim.flashes] == [True, False, True, True]
    assert sim.n_targets == 3 and person.typed == "H"
    x_t = gen.synthesize(0, int(3 * gen.sfreq), sim.flashes)
    x_n = gen.synthesize(0, int(3 * gen.sfreq), [dataclasses.replace(f, target=False) for f in sim.flashes])
    assert not np.allclose(x_t, x_n)  # target flashes play real target epochs


def test_a_synthetic_board_session_refuses_groups_its_marker_channel_cannot_record(tmp_path, capsys):
    from neurospell.cli import main

    toml = tmp_path / "c.toml"
    toml.write_text('[speller]\nflash_strategy = "checkerboard"\n')
    assert main(["--config", str(toml), "spell", "--headless", "--source", "synthetic", "--lm", "uniform",
                 "--copy", "A"]) == 2
    err = capsys.readouterr().err
    assert "flash_strategy" in err and "row-column" in err and "marker channel" in err
