"""One parser/formatter for phrase, trial and flash markers on every path."""

import pytest

from neurospell.check import NeurospellError
from neurospell.markers import (
    TRIAL_START,
    PhraseInfo,
    annotation_to_label,
    decode_symbol,
    flash_to_int,
    parse_phrase,
    parse_trial,
    phrase_to_annotation,
    phrase_to_str,
    trial_to_annotation,
)


@pytest.mark.parametrize("kind, text", [("calibration", "THE QUICK BROWN FOX"), ("test", "HELLO"),
                                        ("test", "A:B/C")])
def test_phrase_round_trip_both_forms(kind, text):
    assert parse_phrase(phrase_to_str(kind, text)) == PhraseInfo(kind, text)
    assert parse_phrase(phrase_to_annotation(kind, text)) == PhraseInfo(kind, text)


def test_not_a_phrase_and_bad_kind():
    for m in ("flash:3", "trial/2/A", "phrase:other:X", "phrase/test", "", 7):
        assert parse_phrase(m) is None
    with pytest.raises(NeurospellError, match="phrase kind"):
        phrase_to_str("practice", "X")


def test_trial_annotation_and_space():
    assert trial_to_annotation(3, " ") == "trial/3/_"
    idx, sym = parse_trial(trial_to_annotation(3, " "))
    assert idx == 3 and decode_symbol(sym) == " " and decode_symbol("Q") == "Q"
    assert trial_to_annotation(4) == "trial/4"


@pytest.mark.parametrize("desc, code, label", [
    ("flash/3/target", flash_to_int(3, True), "flash:3:target"),
    ("flash/12/nontarget", 12, "flash:12:nontarget"),
    ("flash/5", 5, "flash:5"),
    ("trial/2/K", TRIAL_START, "trial:2:K"),
    ("trial/7", TRIAL_START, "trial:7"),
    ("phrase/test/HELLO WORLD", None, "phrase:test:HELLO WORLD"),
    ("Stimulus/S 1", None, "Stimulus:S 1"),
])
def test_annotation_to_lsl_label(desc, code, label):
    assert annotation_to_label(desc) == (code, label)
