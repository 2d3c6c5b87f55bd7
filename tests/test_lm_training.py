"""Training recipe of the character transformer: text-file sources with mixing weights,
checkpoints and exact resume, warm start (fine-tuning), devices, command-line checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurospell.check import NeurospellError
from neurospell.cli import main
from neurospell.lm_fusion import TransformerLM
from neurospell.lm_fusion.text import CHAR_TO_ID
from neurospell.lm_fusion.training import load_weights, token_stream, train_char_transformer

TINY = dict(n_layer=1, d_model=32, n_head=2, seq_len=32, batch_size=4, warmup=2)

CHAT = ["hello, how are you?", "i'm fine thanks. and you?", "where are my keys", "can you open the door",
        "i would like some water please", "what time is it?", "see you tomorrow!", "turn on the light"]
WIKI = ["The city lies on the river.", "It has a population of 20,000 people.", "The church was built in 1850.",
        "He was born in London and studied law."]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    d = tmp_path_factory.mktemp("texts")
    files = {}
    for name, lines, reps in (("chat", CHAT, 12), ("wiki", WIKI, 20)):
        (d / f"{name}.train.txt").write_text("\n".join(lines * reps) + "\n", encoding="utf-8")
        (d / f"{name}.valid.txt").write_text("\n".join(lines[::-1] * 3) + "\n", encoding="utf-8")
        files[name] = (d / f"{name}.train.txt", d / f"{name}.valid.txt")
    return files


def _run(out, texts, **kw):
    args = dict(sources=[(texts["chat"][0], 3.0), (texts["wiki"][0], 1.0)],
                valid=[texts["chat"][1], texts["wiki"][1]], max_minutes=60.0, steps=6, checkpoint_every=4,
                threads=1, device="cpu", **TINY)
    args.update(kw)
    return train_char_transformer(out, **args)


def _weights(path):
    return {k: v.clone() for k, v in torch.load(path, weights_only=True)["state_dict"].items()}


def test_token_stream_bos_and_punctuation():
    msgs = ["HELLO, HOW ARE YOU?", "FINE. THANKS", "OK"]
    s = token_stream(msgs)
    assert s.dtype == np.uint8 and s[0] == CHAR_TO_ID["\x02"]
    assert (s == 0).sum() == 3 and len(s) == sum(map(len, msgs)) + 3
    dropped = token_stream(msgs, np.random.default_rng(0), punct_drop=1.0)
    inv = {i: c for c, i in CHAR_TO_ID.items()}
    assert "".join(inv[int(i)] for i in dropped) == "\x02HELLO HOW ARE YOU\x02FINE THANKS\x02OK"


def test_file_sources_weights_report_and_loading(tmp_path, texts):
    rep = _run(tmp_path, texts)
    assert rep["steps"] == 6 and rep["device"] == "cpu" and rep["amp"] is None and rep["threads"] == 1
    src = rep["data"]["sources"]
    assert [round(s["weight"], 3) for s in src] == [0.75, 0.25]
    assert all(len(s["sha256"]) == 64 and s["tokens"] > 0 for s in src)
    per = rep["valid_bits_per_char_per_source"]
    assert set(per) == {str(texts["chat"][1]), str(texts["wiki"][1])}
    assert rep["valid_bits_per_char_windows"] == pytest.approx(np.mean(list(per.values())), abs=1e-3)
    saved = json.loads((tmp_path / "char_transformer_report.json").read_text())
    assert saved["steps"] == 6
    lm = TransformerLM(tmp_path / "char_transformer.pt")
    assert abs(np.logaddexp.reduce(lm.next_logp("HI"))) < 1e-9


def test_resume_continues_exactly(tmp_path, texts):
    """A run paused at step 3 and resumed ends with the same weights as one uninterrupted run."""
    whole = _run(tmp_path / "whole", texts)
    first = _run(tmp_path / "parts", texts, pause_at_step=3)
    assert first["paused"] and first["steps"] == 3 and (tmp_path / "parts" / "checkpoint.pt").exists()
    second = _run(tmp_path / "parts", texts)
    assert second["resumed_from_step"] == 3 and second["steps"] == 6 and not second["paused"]
    a = _weights(tmp_path / "whole" / "char_transformer.pt")
    b = _weights(tmp_path / "parts" / "char_transformer.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert second["valid_bits_per_char_windows"] == whole["valid_bits_per_char_windows"]
    # a checkpoint of another shape is refused, not silently mixed
    with pytest.raises(NeurospellError, match="checkpoint .* is of another network"):
        _run(tmp_path / "parts", texts, steps=8, d_model=64)


def test_warm_start(tmp_path, texts):
    base = _run(tmp_path / "base", texts)
    init = tmp_path / "base" / "char_transformer.pt"
    # a learning rate of ~0: fine-tuning keeps the initial weights (shape taken from the file)
    rep = train_char_transformer(tmp_path / "ft", sources=[(texts["wiki"][0], 1.0)], valid=[texts["wiki"][1]],
                                 init=init, steps=1, lr=1e-12, max_minutes=60.0, threads=1, device="cpu",
                                 seq_len=32, batch_size=4)
    assert rep["init"]["sha256"] and rep["architecture"] == base["architecture"]
    a, b = _weights(init), _weights(tmp_path / "ft" / "char_transformer.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-3, msg=k)
    # fine-tuning for real moves them and improves the validation text it is tuned for
    before = rep["valid_bits_per_char_windows"]
    tuned = train_char_transformer(tmp_path / "ft2", sources=[(texts["wiki"][0], 1.0)], valid=[texts["wiki"][1]],
                                   init=init, steps=30, lr=3e-3, max_minutes=60.0, threads=1, device="cpu",
                                   seq_len=32, batch_size=4, warmup=2, checkpoint_every=10)
    assert tuned["valid_bits_per_char_windows"] < before
    with pytest.raises(NeurospellError, match="its d_model is 32, but 64 was asked for"):
        train_char_transformer(tmp_path / "bad", sources=[(texts["wiki"][0], 1.0)], valid=[texts["wiki"][1]],
                               init=init, d_model=64, steps=1, device="cpu")
    bogus = tmp_path / "bogus.pt"
    torch.save({"something": 1}, bogus)
    with pytest.raises(NeurospellError, match="not a character-transformer weights file"):
        load_weights(bogus)


def test_device_and_source_errors(tmp_path, texts):
    if not torch.cuda.is_available():
        with pytest.raises(NeurospellError, match="no CUDA GPU is available"):
            _run(tmp_path, texts, device="cuda")
    with pytest.raises(NeurospellError, match="needs validation text"):
        train_char_transformer(tmp_path, sources=[(texts["chat"][0], 1.0)], device="cpu")
    with pytest.raises(NeurospellError, match="must be a positive number"):
        _run(tmp_path, texts, sources=[(texts["chat"][0], 0.0)])
    empty = tmp_path / "empty.txt"
    empty.write_text("~~~\n\n")
    with pytest.raises(NeurospellError, match="holds no message"):
        _run(tmp_path, texts, sources=[(empty, 1.0)])


def test_cli_train_on_files(tmp_path, texts, capsys):
    out = tmp_path / "cli"
    argv = ["lm", "train", "--out", str(out), "--text", f"{texts['chat'][0]}:2", "--text", str(texts["wiki"][0]),
            "--valid", str(texts["chat"][1]), "--steps", "2", "--layers", "1", "--d-model", "32", "--heads", "2",
            "--threads", "1", "--device", "cpu"]
    assert main(argv) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    rep = json.loads((out / "char_transformer_report.json").read_text())
    assert [round(s["weight"], 3) for s in rep["data"]["sources"]] == [0.667, 0.333]
    # fine-tune from it: the shape comes from --init
    assert main(["lm", "train", "--out", str(tmp_path / "ft"), "--text", str(texts["wiki"][0]), "--valid",
                 str(texts["wiki"][1]), "--init", str(out / "char_transformer.pt"), "--steps", "1",
                 "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["lm", "train", "--out", str(out), "--text", str(texts["chat"][0])]) == 2
    assert "--valid: training on text files needs validation text" in capsys.readouterr().err
    assert main(["lm", "train", "--out", str(out), "--text", f"{texts['chat'][0]}:-1", "--valid", "chitchat"]) == 2
    assert "--text: the mixing weight" in capsys.readouterr().err
    assert main(["lm", "train", "--out", str(out), "--text", str(tmp_path / "nope.txt"), "--valid", "x"]) == 2
    assert "--text" in capsys.readouterr().err
    assert main(["lm", "train", "--out", str(out), "--device", "tpu"]) == 2
    assert "--device: must be cpu, cuda or cuda:N" in capsys.readouterr().err
    assert main(["lm", "train", "--out", str(out), "--init", str(tmp_path / "nope.pt")]) == 2
    assert "--init" in capsys.readouterr().err
