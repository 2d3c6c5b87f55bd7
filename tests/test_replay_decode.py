"""`neurospell replay FILE --decoder MODEL --lm NAME`: a recording decoded into text."""

import subprocess
import sys

import pytest

from neurospell.session.demo import SAMPLE_RECORDING


def _cli(*args, env_config=None, timeout=600):
    cmd = [sys.executable, "-m", "neurospell"]
    if env_config is not None:
        cmd += ["--config", str(env_config)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def lda_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "lda.pt"
    res = _cli("train", str(SAMPLE_RECORDING), "--decoder", "lda", "--out", str(out))
    assert res.returncode == 0, res.stderr
    return out


def test_replay_decodes_text_with_and_without_lm(lda_model):
    res = _cli("replay", str(SAMPLE_RECORDING), "--decoder", str(lda_model), "--lm", "ngram", "--no-progress")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    decoded = {ln.split("]")[0][1:]: ln.split("decoded:", 1)[1].strip().strip("'")
               for ln in lines if "decoded:" in ln}
    assert set(decoded) == {"none", "ngram"}
    intended = "THE QUICK BROWN FOXHELLOYES"  # the sample session's phrases, back to back
    for text in decoded.values():
        assert len(text) == len(intended)
        hits = sum(a == b for a, b in zip(text, intended, strict=True))
        assert hits >= len(intended) - 4  # trained on this file: nearly every character right


def test_replay_refuses_a_model_for_another_pipeline(lda_model, tmp_path):
    cfg = tmp_path / "other.toml"
    cfg.write_text("[preprocessing]\nh_freq = 12.0\n")
    res = _cli("replay", str(SAMPLE_RECORDING), "--decoder", str(lda_model), "--no-progress",
               env_config=cfg)
    assert res.returncode == 2
    assert "h_freq" in res.stderr or "band" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_replay_lm_without_decoder_is_an_error():
    res = _cli("replay", str(SAMPLE_RECORDING), "--lm", "ngram", "--no-progress")
    assert res.returncode == 2 and "--decoder" in res.stderr
