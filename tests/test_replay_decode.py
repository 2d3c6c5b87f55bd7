"""`neurospell replay FILE --decoder MODEL --lm NAME`: a recording decoded into text."""

import re
import subprocess
import sys

import numpy as np
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


def test_replay_decodes_each_phrase_on_its_own_line(lda_model):
    """Several phrases: each decoded from its own empty LM context and reported on its line."""
    res = _cli("replay", str(SAMPLE_RECORDING), "--decoder", str(lda_model), "--lm", "ngram", "--no-progress")
    assert res.returncode == 0, res.stderr
    rows = {}
    for ln in res.stdout.splitlines():
        m = re.match(r"\[(\w+)\] phrase (\d) \((\w+)\) decoded: '([^']*)'  intended: '([^']*)'", ln)
        if m:
            rows[(m[1], int(m[2]))] = (m[3], m[4], m[5])
    phrases = [("calibration", "THE QUICK BROWN FOX"), ("test", "HELLO"), ("test", "YES")]
    assert set(rows) == {(lm, i) for lm in ("none", "ngram") for i in (1, 2, 3)}, res.stdout
    for (_lm, i), (kind, decoded, intended) in rows.items():
        assert (kind, intended) == phrases[i - 1]
        assert len(decoded) == len(intended)
        hits = sum(a == b for a, b in zip(decoded, intended, strict=True))
        assert hits >= len(intended) - 2  # trained on this file: nearly every character right
    # the flash-by-flash progress lines come from the stream driver as it decides
    assert res.stdout.count("repetitions -> ") == 27


def test_each_phrase_starts_from_an_empty_context(lda_model):
    """The stream driver's per-phrase decisions equal decoding each phrase alone."""
    from neurospell.config import Config
    from neurospell.decoder import load_decoder
    from neurospell.lm_fusion import make_model
    from neurospell.preprocessing import epochs_from_raw, load_recording
    from neurospell.session import SpellerEngine, StreamDriver, model_alpha
    from neurospell.session.demo import split_phrases
    from neurospell.session.replay import replay_batch
    from neurospell.session.spelling import decode_batch

    cfg = Config()
    dec = load_decoder(lda_model, preprocess=cfg.preprocessing)
    lm = make_model("ngram", cfg.lm)
    raw = load_recording(SAMPLE_RECORDING)
    layout = cfg.speller.layout()
    eng = SpellerEngine.from_config(layout, dec.score_model_, lm, cfg, model_alpha=model_alpha(dec, "ngram"))
    driver = StreamDriver.for_recording(eng, dec, cfg.preprocessing, raw)
    replay_batch(raw, cfg.preprocessing, progress=False, driver=driver)
    _, batch = epochs_from_raw(raw, cfg.preprocessing)
    scores = dec.decision_function(batch)
    phrases = split_phrases(raw, batch)
    assert [p.text for p in driver.phrases] == [p.text for p in phrases]
    for run, ph in zip(driver.phrases, phrases, strict=True):
        m = np.isin(batch.trials, ph.trials)
        alone = decode_batch(batch.subset(m), scores[m], dec.score_model_, layout, lm, cfg,
                             alpha=model_alpha(dec, "ngram"))
        assert [d.decision.symbol for d in run.decisions[0]] == [d.symbol for d in alone.decisions]
        assert run.decisions[0][-1].text == alone.decoded


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
