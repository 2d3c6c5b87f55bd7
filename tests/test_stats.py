"""One statistics type (session/stats.py) behind every result: same names, same formulas,
undefined figures are None."""

import json
import math

import pytest

from neurospell.session.copyspell import CopySpellResult
from neurospell.session.live.results import DecisionRecord, LiveResult
from neurospell.session.spelling import SpellingResult
from neurospell.session.stats import SpellingStats, itr_bits
from neurospell.types import Decision


def test_figures_and_undefined_ones():
    s = SpellingStats(n_selections=10, n_flashes=240, seconds=120.0, n_symbols=36, n_correct=8, n_judged=10)
    assert s.accuracy == 0.8 and s.chars_per_minute == 5.0 and s.flashes_per_char == 24.0
    assert s.itr == pytest.approx(itr_bits(36, 0.8) * 5.0)
    assert 0 < itr_bits(36, 0.8) < math.log2(36) == itr_bits(36, 1.0) and itr_bits(36, 1 / 36) == 0.0
    none = SpellingStats(0, 0, 0.0, 36)
    assert (none.accuracy, none.chars_per_minute, none.flashes_per_char, none.itr) == (None, None, None, None)
    free = SpellingStats(4, 48, 30.0, 36)  # nothing intended: a rate, no accuracy, no ITR
    assert free.accuracy is None and free.itr is None and free.chars_per_minute == 8.0


def _decisions(symbols, n_flashes):
    return tuple(Decision(s, 0.9, n // 12) for s, n in zip(symbols, n_flashes, strict=True))


def test_the_three_results_give_the_same_figures_for_the_same_run():
    n_fl = (24, 36, 12, 24)
    seconds = sum(n_fl) * 0.2 + 4 * 1.0
    spelled = SpellingResult("HELP", "HELO", "HELP", _decisions("HELP", n_fl), n_fl, "none", seconds, 36)
    copied = CopySpellResult("rec", "none", 0.0, correct=3, n_chars=4, flashes=sum(n_fl), seconds=seconds,
                             edits=1, n_symbols=36)
    live = LiveResult("HELP", "HELO", tuple(DecisionRecord("copy", s, i, 0.9, n, "", 0.0, 0.01)
                                           for s, i, n in zip("HELP", "HELO", n_fl, strict=True)),
                      "done", seconds, sum(n_fl), sum(n_fl), 0, n_symbols=36)
    assert spelled.stats == copied.stats == live.stats
    for r in (spelled, copied, live):
        assert (r.accuracy, r.chars_per_minute, r.flashes_per_char, r.itr, r.n_selections) == (
            0.75, r.stats.chars_per_minute, 24.0, r.stats.itr, 4)
    # the summaries keep their keys (the CLI and --summary-json read them)
    assert {"accuracy", "chars_per_minute", "itr_bits_per_min", "flashes_per_char"} <= set(spelled.summary())
    assert {"accuracy", "chars_per_min", "itr_bits_per_min", "flashes_per_char"} <= set(copied.summary())
    assert {"n_selections", "accuracy", "chars_per_min", "itr_bits_per_min", "flashes_per_char"} <= set(live.summary())
    assert live.summary()["chars_per_min"] == spelled.summary()["chars_per_minute"] == copied.summary()["chars_per_min"]


def test_undefined_figures_are_none_in_every_result_and_valid_json():
    spelled = SpellingResult("", None, "", (), (), "none", 0.0, 36)
    copied = CopySpellResult("rec", "none", 0.0)
    live = LiveResult("", None, (), "stopped", 0.0, 0, 0, 0)
    for r in (spelled, copied, live):
        assert (r.accuracy, r.chars_per_minute, r.flashes_per_char, r.itr) == (None, None, None, None)
        json.loads(json.dumps(r.summary(), allow_nan=False))  # no NaN: strict JSON
