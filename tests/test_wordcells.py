"""Word cells: the live word grid, the word cells' prior, the engine choosing words like any
symbol, the simulated person intending a word cell, the words marker, and replay of decisions
made with word cells."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config, load_config
from neurospell.decoder import ScoreModel
from neurospell.lm_fusion import complete_words, lm_prior, make_model
from neurospell.markers import annotation_to_label, format_words, marker_to_annotation, parse_words
from neurospell.session.drivers import copy_spell_words, run_trials
from neurospell.session.engine import Completion, SpellerEngine
from neurospell.session.simulator.intention import Intention
from neurospell.session.simulator.scores import ScoreSampler
from neurospell.session.wordcells import (
    EMPTY_CELL_P,
    WordCells,
    apply_word,
    intended,
    word_prior,
)
from neurospell.types import DEFAULT_SYMBOLS, WORD_CELL_SYMBOLS, SpellerLayout

LIVE = Config().speller.live()
LAYOUT = LIVE.layout()
TOKENS = WORD_CELL_SYMBOLS[:6]


@pytest.fixture(scope="module")
def ngram():
    return make_model("ngram")


@pytest.fixture(scope="module")
def score_model():
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(2.0, 1.0, 400), rng.normal(0.0, 1.0, 2000)]
    return ScoreModel().fit(s, np.r_[np.ones(400, bool), np.zeros(2000, bool)])


def _sampler(seed=1, d=2.0):
    rng = np.random.default_rng(seed)
    return ScoreSampler(rng.normal(d, 1.0, 400), rng.normal(0.0, 1.0, 2000), rng=seed)


# -- the layout and the config --------------------------------------------------------------
def test_live_word_grid_and_recorded_grids_unchanged():
    assert LAYOUT.n_rows == LAYOUT.n_cols == 6 and LAYOUT.n_groups == 12  # as many flashes as the 6x6
    assert "".join(LAYOUT.symbols[:30]) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ <.?"
    assert LAYOUT.symbols[30:] == TOKENS  # the last row: six word cells
    # an unset word_cells keeps the grid of the symbols everywhere but the live commands
    assert Config().speller.word_cells is None and Config().speller.layout().symbols == DEFAULT_SYMBOLS
    assert load_config().speller.layout() == SpellerLayout.row_column()
    classic = dataclasses.replace(Config().speller, word_cells=0)
    assert classic.layout().symbols == DEFAULT_SYMBOLS and classic.live() is classic
    four = dataclasses.replace(Config().speller, word_cells=4)
    assert four.layout().symbols[-5:] == ("!",) + WORD_CELL_SYMBOLS[:4] and len(four.symbols) == 32
    custom = dataclasses.replace(Config().speller, symbols="ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789<")
    assert custom.live() is custom  # a grid the config chose stays


def test_word_cells_config_errors():
    with pytest.raises(NeurospellError, match=r"word_cells must be in \[0, 10\], got 11"):
        dataclasses.replace(Config().speller, word_cells=11)
    with pytest.raises(NeurospellError, match="symbols has 36 characters and word_cells is 2"):
        dataclasses.replace(Config().speller, symbols="ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789<", word_cells=2)


# -- the prior --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "HOW ", "I WANT TO SL", "TH"])
def test_word_prior_gives_each_cell_its_completion_probability(ngram, text):
    comps = complete_words(ngram, text, 6)
    words, logp = [c.text for c in comps], [c.score for c in comps]
    prior = word_prior(ngram, text, LAYOUT.symbols, TOKENS, words, logp, backspace_p=0.05)
    p = dict(zip(LAYOUT.symbols, prior.probs, strict=True))
    assert math.isclose(sum(p.values()), 1.0, rel_tol=1e-9)
    base = lm_prior(ngram, text, LAYOUT.symbols[:30], backspace_p=0.05)
    p_bs = 0.05 if text else 1e-6
    prefix = text[text.rfind(" ") + 1:]
    removed = {}
    for w, lp in zip(words, logp, strict=True):
        q = (1 - p_bs) * math.exp(lp)
        first = (w[len(prefix):] + " ")[0]
        removed[first] = removed.get(first, 0.0) + q
    total = sum(math.exp(lp) for lp in logp)
    assert 0 < total < 1
    # unnormalised: cells q_i, letters base - their cells' q (floored), backspace p_bs
    def letter(c):  # a letter that lost mass to its cells keeps at least 1e-6
        b = base.probs[base.alphabet.index(c)]
        return max(b - removed[c], 1e-6) if c in removed else b

    z = sum(letter(c) for c in base.alphabet) + (1 - p_bs) * total + EMPTY_CELL_P * (6 - len(words))
    for tok, lp in zip(TOKENS, logp, strict=False):
        assert math.isclose(p[tok], (1 - p_bs) * math.exp(lp) / z, rel_tol=1e-6)
    for c in base.alphabet:
        assert math.isclose(p[c], letter(c) / z, rel_tol=1e-6), c
    for tok in TOKENS[len(words):]:
        assert p[tok] < 1e-8  # an empty cell: ~0


def test_word_prior_uniform_without_lm():
    prior = word_prior(None, "HE", LAYOUT.symbols, TOKENS, (), (), backspace_p=0.05)
    assert np.allclose(prior.probs, 1 / 36)


# -- the engine --------------------------------------------------------------------------------
def test_engine_word_cells_and_select(ngram, score_model):
    e = SpellerEngine(LAYOUT, score_model, ngram, seed=0)
    cells = e.word_cells
    assert len(cells) == 6 and cells[0] == complete_words(ngram, "", 6)[0].text
    assert e.snapshot(completions=False).word_cells == cells
    assert e.posterior()[TOKENS[0]] > e.posterior()["Q"]  # the LM's best word beats an unlikely letter
    e.reset("HOW AR")
    w = e.word_cells[0]
    assert w.startswith("AR")
    events = e.select(TOKENS[0])  # a click on the first word cell
    assert e.text == f"HOW {w} " and events[0].text == e.text
    assert all(not any(t in c.text for t in WORD_CELL_SYMBOLS) for c in e.candidates)
    # backspace right after a word takes the whole word back (one selection undoes one)
    assert e.text_after("<") == "HOW AR"
    assert e.select("<") and e.text == "HOW AR"
    assert e.candidates[0].text == "HOW AR"  # the candidates restart from the text taken back
    assert e.select("<") and e.text == "HOW A"  # then letter by letter, as ever
    assert e.select(Completion("ARE")) and e.text == "HOW ARE "
    assert e.select("X") and e.select("<") and e.text == "HOW ARE "  # after a letter: the letter only
    assert e.select("<") and e.text == "HOW ARE"


def test_a_decided_backspace_takes_a_decided_word_back(ngram, score_model):
    """A word cell chosen by mistake costs one backspace, whether both are decided by flashes."""
    from neurospell.session.drivers import spell_symbol

    e = SpellerEngine(LAYOUT, score_model, ngram, seed=0, text="I WANT TO ")
    word = e.word_cells[1]
    who = _sampler()
    assert spell_symbol(e, TOKENS[1], who).text == f"I WANT TO {word} "
    dec = spell_symbol(e, "<", who)
    assert dec.decision.symbol == "<" and dec.text == "I WANT TO " == e.text
    assert e.candidates[0].text == e.text


def test_engine_empty_word_cell_types_nothing(score_model):
    e = SpellerEngine(LAYOUT, score_model, None, text="AB")
    assert e.word_cells == ("",) * 6  # no language model: no words
    assert e.select(TOKENS[2]) == () and e.text == "AB"


def test_engine_decides_a_word_cell_by_flashes(ngram, score_model):
    e = SpellerEngine(LAYOUT, score_model, ngram, seed=0, text="I WANT TO ")
    word = e.word_cells[1]
    who = _sampler()
    from neurospell.session.drivers import spell_symbol

    dec = spell_symbol(e, TOKENS[1], who)
    assert dec.decision.symbol == TOKENS[1] and dec.text == f"I WANT TO {word} " == e.text
    assert e.candidates[0].text == e.text  # the beam restarts from the typed word
    with pytest.raises(NeurospellError, match="not on the speller layout"):
        spell_symbol(SpellerEngine(SpellerLayout.row_column(), score_model), TOKENS[0], who)


# -- the person ----------------------------------------------------------------------------------
def test_intended_symbol_with_word_cells():
    words = ("HELLO", "HELP", "", "", "", "")
    assert intended("HELLO WORLD", "HE", LAYOUT, words) == TOKENS[0]
    assert intended("HELP ME", "HE", LAYOUT, words) == TOKENS[1]
    assert intended("HEAT", "HE", LAYOUT, words) == "A"  # not offered: the next letter
    assert intended("HELLO", "HE", LAYOUT, words) == TOKENS[0]  # the last word: a final space is fine
    assert intended("HELLO", "HELLO ", LAYOUT, words) is None  # done
    assert intended("HELLO", "HX", LAYOUT, words) == "<"  # off the phrase: backspace
    assert intended("HELLO", "HELP ", LAYOUT, words) == "<"


def test_participant_follows_word_markers():
    person = Intention("HOW ARE YOU", LAYOUT)
    assert person.symbol == "H"
    assert person.on_marker(format_words(["HOW", "HI"])) and person.words == ("HOW", "HI")
    assert person.symbol == TOKENS[0]
    g = LAYOUT.groups_containing(TOKENS[0])
    assert person.is_target(g[0] + 1) and person.is_target(g[1] + 1)
    assert not person.is_target(LAYOUT.groups_containing("H")[0] + 1)
    assert person.on_marker("select:" + TOKENS[0]) and person.typed == "HOW "
    assert person.on_marker("words:") and person.words == () and person.symbol == "A"
    person.on_marker("select:" + TOKENS[3])  # an empty cell: nothing typed
    assert person.typed == "HOW "


def test_words_marker_forms():
    assert format_words(("HELLO", "HELP")) == "words:HELLO HELP" and format_words(()) == "words:"
    assert parse_words("words:HELLO HELP") == ("HELLO", "HELP") == parse_words("words/HELLO HELP")
    assert parse_words("words:") == () and parse_words("text:HELLO") is None and parse_words(3) is None
    assert marker_to_annotation("words:HELLO HELP") == "words/HELLO HELP"
    assert annotation_to_label("words/HELLO HELP") == (None, "words:HELLO HELP")
    with pytest.raises(NeurospellError, match="without spaces"):
        format_words(["TWO WORDS"])


# -- copy spelling and replay ------------------------------------------------------------------------
def test_copy_spell_words_saves_selections_and_replays(ngram, score_model):
    phrase = "I WANT TO SLEEP NOW"
    e = SpellerEngine(LAYOUT, score_model, ngram, seed=3)
    recorded = []
    on_flash = e.on_flash

    def record(group, score):  # every flash the engine used, with its score
        recorded.append((group, score))
        return on_flash(group, score)

    e.on_flash = record
    pairs = copy_spell_words(e, phrase, _sampler(seed=4, d=3.0))
    assert e.text in (phrase, phrase + " ")
    assert any(d.decision.symbol in TOKENS for d, _ in pairs)
    assert len(pairs) < len(phrase)  # word cells save selections
    # replay: the recorded flashes of each selection give the same decisions, cells and texts
    trials = np.repeat(np.arange(len(pairs)), [d.n_flashes for d, _ in pairs])
    assert len(recorded) == len(trials)
    groups = np.array([g for g, _ in recorded])
    scores = np.array([s for _, s in recorded])
    e2 = SpellerEngine(LAYOUT, score_model, ngram, seed=3)
    cells = []
    out = run_trials(e2, groups, scores, trials, on_decision=lambda d: cells.append(e2.word_cells))
    assert [d.decision.symbol for d in out] == [d.decision.symbol for d, _ in pairs]
    assert [d.text for d in out] == [d.text for d, _ in pairs] and e2.text == e.text
    assert cells[-1] == e.word_cells


def test_word_cells_of_layout():
    assert WordCells.of(SpellerLayout.row_column()) is None
    cells = WordCells(LAYOUT)
    assert cells.n_cells == 6 and cells.shown == ("",) * 6 and len(cells.chars) == 30
    assert apply_word("HOW AR", "ARE") == "HOW ARE " and apply_word("", "I") == "I "
    with pytest.raises(NeurospellError, match="no word cells"):
        WordCells(SpellerLayout.row_column())


def test_stream_driver_replays_a_clicked_word_cell(ngram, score_model):
    """A word cell chosen directly (key, click) is logged as its symbol; the replay applies it
    to the same words (the completions of the same text)."""
    from neurospell.config import PreprocessConfig
    from neurospell.decoder import make_decoder
    from neurospell.session.drivers import StreamDriver
    from neurospell.session.simulator import synthetic_erp_epochs

    e = SpellerEngine(LAYOUT, score_model, ngram, seed=0, text="HOW AR")
    live_word = e.word_cells[0]
    live_text = e.select(TOKENS[0])[0].text
    batch = synthetic_erp_epochs(2, 2, LAYOUT, rng=0)
    dec = make_decoder("lda").fit(batch, PreprocessConfig())
    e2 = SpellerEngine(LAYOUT, score_model, ngram, seed=0, text="HOW AR")
    drv = StreamDriver(e2, dec, PreprocessConfig(), 128.0, batch.ch_names)
    drv.select_logged(TOKENS[0], live_text)
    assert e2.text == live_text == f"HOW {live_word} " and drv.select_mismatch is None


@pytest.mark.timeout(600)  # a live session, calibration included (minutes on a loaded machine)
def test_live_session_on_the_word_grid_replays_every_decision(tmp_path):
    """End to end: `neurospell spell` (the live word grid by default) with the simulated
    participant over LSL: the words markers tell the participant what the cells show, the person
    intends the word cell that offers its word, and `replay SESSION_DIR` reproduces every decision."""
    import subprocess
    import sys

    from neurospell.session.sessiondir import SessionFolder, replay_session

    lm = make_model("ngram")
    first = complete_words(lm, "", 6)[0].text  # the word the first cell offers on an empty text
    out = tmp_path / "live"
    res = subprocess.run(
        [sys.executable, "-m", "neurospell", "spell", "--source", "simulated", "--headless", "--calibrate", "AB",
         "--copy", f"{first} A", "--out", str(out), "--soa", "0.05", "--inter-trial", "0.2",
         "--calibration-repetitions", "5", "--max-repetitions", "4", "--max-selections", "3", "--decoder", "lda",
         "--lm", "ngram", "--amplitude", "30"], capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr
    folder = SessionFolder.open(out)
    log = [r for r in folder.read_log() if r["type"] == "decision" and r.get("task") == "spelling"]
    assert 1 <= len(log) <= 3
    assert log[0]["intended"] == TOKENS[0], log[0]  # the person wanted the first word cell
    # the summary counts the copy phrase's characters typed per minute (a word cell: all its letters)
    assert any(line.startswith("text chars/min") for line in res.stdout.splitlines()), res.stdout
    raw = folder.read_raw("spelling", 1)
    words = [d for d in raw.annotations.description if d.startswith("words/")]
    assert words and words[0].split("/", 1)[1].split()[0] == first  # what the cells showed, recorded
    rep = replay_session(folder)
    assert rep.reproduced and rep.n_decisions == len(log), rep.first_difference


def test_text_chars_typed_counts_what_a_word_cell_delivers():
    from neurospell.session.spelling import text_chars_typed

    assert text_chars_typed("HELLO ", "HELLO") == 5  # a word cell's final space costs nothing
    assert text_chars_typed("HELLP", "HELLO") == 4
    assert text_chars_typed("HELLO WO", "HELLO WORLD") == 8
    assert text_chars_typed("", "HI") == 0 and text_chars_typed("XYZXYZ", "HI") == 0
