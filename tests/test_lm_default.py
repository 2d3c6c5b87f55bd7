"""The shipped default language model ("everyday", issue 13): loads offline from the package
files the report describes (SHA-256 checked against the report and the docs) and beats a real
character 12-gram trained on the same text on the held-out samples shipped in tests/data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurospell.config import Config
from neurospell.fileio import file_sha256
from neurospell.lm_fusion import NgramLM, evaluate_lm, make_model, read_lines

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "lm_fusion" / "data"
SAMPLES = ("chitchat", "requests", "wordnet")


def _report():
    return json.loads((DATA / "everyday.json").read_text())




def test_default_is_everyday():
    assert Config().lm.name == "everyday"
    rep = _report()
    assert rep["components"] and len(rep["weights"]) == len(rep["components"]) and rep["mode"] in ("linear",
                                                                                                     "loglinear")


def test_default_files_match_report_and_docs():
    rep = _report()
    docs = (ROOT / "docs" / "lm_results.md").read_text()
    total = 0
    for kind, f in rep["files"].items():
        path = DATA / f["file"]
        assert path.stat().st_size == f["bytes"], kind
        assert file_sha256(path) == f["sha256"], f"{path.name} is not the file the report describes"
        assert f["sha256"] in docs, f"docs/lm_results.md does not give the SHA-256 of {path.name}"
        total += f["bytes"]
    assert total <= 30e6  # the whole default stays small


def test_default_loads_offline():
    """In a fresh process where any network connection raises, the default loads and predicts."""
    code = (
        "import socket\n"
        "def _no_net(*a, **k):\n"
        "    raise OSError('network access attempted')\n"
        "socket.socket.connect = _no_net\n"
        "socket.create_connection = _no_net\n"
        "from neurospell.lm_fusion import make_model\n"
        "lm = make_model('everyday')\n"
        "d = lm.distribution('WHERE ARE MY KE', tuple('ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789 '))\n"
        "print(d.argmax())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Y"


@pytest.fixture(scope="module")
def default_lm():
    return make_model("everyday")


@pytest.mark.parametrize("sample", SAMPLES)
def test_default_beats_the_12gram_on_heldout_samples(sample, default_lm):
    """Each line from an empty context, on the default grid: the default has fewer bits per
    character than the interpolated Kneser-Ney 12-gram built on the same training text.

    ``tests/data/lm_heldout_ngram12.npz`` is that real 12-gram, restricted to the entries these
    samples look up (``restrict_ngram``: identical probabilities along these lines, see
    ``test_lm_word.test_ngram_slice_is_exact``); tests/data/README.md gives its provenance.
    """
    alphabet = tuple(Config().speller.symbols)
    lines, _ = read_lines(ROOT / "tests" / "data" / f"lm_heldout_{sample}.txt", alphabet)
    lines = lines[::2]  # 100 lines a sample (the transformer makes scoring ~1 ms a character)
    ngram12 = NgramLM.load(ROOT / "tests" / "data" / "lm_heldout_ngram12.npz")
    assert ngram12.order == 12
    base = evaluate_lm(ngram12, lines, alphabet)["bits_per_char"]
    ours = evaluate_lm(default_lm, lines, alphabet)["bits_per_char"]
    print(f"{sample}: default {ours:.4f} bits/char, 12-gram {base:.4f}")
    assert ours < base - 0.05, (sample, ours, base)
