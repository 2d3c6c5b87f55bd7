"""``neurospell lm ...`` commands."""

from __future__ import annotations

import json
import math

from neurospell.cli import main


def test_lm_list(capsys):
    assert main(["lm", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("uniform", "ngram", "transformer", "mixture", "word", "everyday", "hf", "smollm2"):
        assert name in out
    assert "* everyday" in out  # the configured default is marked


def test_lm_eval_on_a_text_file(tmp_path, capsys):
    text = tmp_path / "phrases.txt"
    text.write_text("how are you doing\nI'm fine, thanks!\n\nsee you tomorrow\n")
    res = tmp_path / "res.json"
    assert main(["lm", "eval", "--text", str(text), "--lm", "uniform", "--lm", "ngram", "--json", str(res)]) == 0
    out = capsys.readouterr().out
    assert "3 lines" in out and "removed" in out  # apostrophe, comma and "!" are not on the grid
    rows = {r["model"]: r for r in json.loads(res.read_text())}
    assert abs(rows["uniform"]["bits_per_char"] - math.log2(36)) < 1e-9
    assert rows["ngram"]["bits_per_char"] < 3.0
    assert rows["ngram"]["top3"] > rows["uniform"]["top3"]


def test_lm_predict(capsys):
    assert main(["lm", "predict", "hello how ar", "--lm", "ngram", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].strip().startswith("E")
    assert "ARE" in out


def test_lm_errors(tmp_path, capsys):
    assert main(["lm", "eval", "--text", str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("~~~\n")
    assert main(["lm", "eval", "--text", str(empty), "--lm", "ngram"]) == 2
    assert "holds no text on the speller alphabet" in capsys.readouterr().err
    assert main(["lm", "eval", "--text", str(empty), "--lm", "gpt9"]) == 2
    assert main(["lm", "predict", "hi", "--lm", "gpt9"]) == 2
    err = capsys.readouterr().err
    assert "argument --lm: unknown language model 'gpt9'. Allowed: everyday, hf, mixture" in err
