"""`neurospell simulate`: real-epoch copy-spelling with and without the language model."""

import json

from neurospell.cli import main
from neurospell.session.copyspell import wilson_interval


def test_simulate_on_real_epochs(gtec_files, tmp_path, capsys):
    phrases = tmp_path / "p.txt"
    phrases.write_text("see you tomorrow!\nthank you\n")
    png, js = tmp_path / "sim.png", tmp_path / "sim.json"
    rc = main(["simulate", "--data", str(gtec_files[0]), "--decoder", "lda", "--phrases", str(phrases),
               "--lm", "ngram", "--plot", str(png), "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 phrases (25 characters)" in out and "(1 characters off the grid removed)" in out
    assert "95% CI" in out and "chars/min" in out and "ITR bits/min" in out
    rows = json.loads(js.read_text())["rows"]
    assert [(r["recording"], r["lm"]) for r in rows] == [
        ("S1.mat", "none"), ("S1.mat", "ngram"), ("all", "none"), ("all", "ngram")]
    none, lm = rows[0], rows[1]
    for r in rows:
        assert r["n_chars"] == 25 and r["ci95"][0] <= r["accuracy"] <= r["ci95"][1]
    assert none["accuracy"] >= 0.8  # S1: held-out AUC ~0.95
    # the language model saves flashes on English text
    assert lm["flashes_per_char"] < none["flashes_per_char"] and lm["alpha"] > 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_errors_name_the_flag(gtec_files, tmp_path, capsys):
    phrases = tmp_path / "p.txt"
    phrases.write_text("hello\n")
    assert main(["simulate", "--data", str(gtec_files[0]), "--decoder", "nope", "--phrases", str(phrases)]) == 2
    assert "--decoder" in capsys.readouterr().err
    assert main(["simulate", "--data", str(tmp_path / "none.mat"), "--decoder", "lda",
                 "--phrases", str(phrases)]) == 2
    assert "--data" in capsys.readouterr().err


def test_wilson_interval():
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and 0.92 < lo < 0.94
    lo, hi = wilson_interval(5, 10)
    assert abs((lo + hi) / 2 - 0.5) < 1e-12 and 0.23 < lo < 0.24
