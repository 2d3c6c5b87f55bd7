"""A stream at another rate than its model's: epochs resampled per epoch to the model's rate
(:mod:`neurospell.session.modelrate`), live and in the replay, as the offline path does.

Real data: BNCI 003-2015 participant s6 (256 Hz) and the shipped generic model (250 Hz).
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config
from neurospell.decoder import load_decoder
from neurospell.decoder.generic import generic_model_path
from neurospell.preprocessing import load_recording
from neurospell.session.drivers import StreamDriver
from neurospell.session.evaluation import auc, load_epochs
from neurospell.session.modelrate import ModelRate
from neurospell.session.pooling import conform_batch
from neurospell.session.replay import RecordingReader
from neurospell.session.sessionfolder import SessionFolder
from neurospell.session.sessionmodels import make_engine


@pytest.fixture(scope="module")
def s6(shared_data):
    path = shared_data / "bnci003" / "s6.mat"
    if not path.is_file():
        pytest.fail(f"{path} is missing (BNCI 003-2015, see ../shared/data/README).")
    return path


def test_stream_epochs_at_256_hz_are_scored_at_the_models_250_hz_as_offline(s6, caplog):
    cfg = Config()
    dec = load_decoder(generic_model_path(), preprocess=cfg.preprocessing)
    prov = dec.provenance_
    raw = load_recording(s6)
    assert raw.info["sfreq"] == 256.0 and prov["sfreq"] == 250.0
    # the offline path (`neurospell evaluate generic s6.mat`): epochs resampled to the model's rate
    off = load_epochs([s6], cfg.preprocessing, sfreq=prov["sfreq"])
    off = conform_batch(off, prov["ch_names"], prov["sfreq"], prov["n_times"])
    dec.align_to(off)  # one fixed alignment: the paths differ only in how they filter and resample
    s_off = dec.decision_function(off)
    scores = {}
    driver = StreamDriver.for_recording(make_engine(cfg, dec), dec, cfg.preprocessing, raw,
                                        on_score=lambda onset, _g, s, _t: scores.__setitem__(float(onset), s))
    with caplog.at_level(logging.INFO, logger="neurospell"):
        live = driver.read_from(RecordingReader(raw, chunk_seconds=0.1))
    said = [r.getMessage() for r in caplog.records if "resampling epochs" in r.getMessage()]
    assert len(said) == 1 and "256 -> 250 Hz for the model" in said[0], said  # logged once
    assert (live.sfreq, live.n_times, len(live)) == (250.0, prov["n_times"], len(off))
    order = np.argsort(live.onsets)
    np.testing.assert_array_equal(live.onsets[order], off.onsets)
    # the live epochs (causal filter at 256 Hz, each epoch resampled) are the offline ones exactly
    np.testing.assert_array_equal(live.data[order], off.data)
    s_live = np.array([scores[float(o)] for o in off.onsets])
    # (the same epochs: scores equal but for the last bits BLAS gives batches of other shapes)
    np.testing.assert_allclose(s_live, s_off, rtol=0, atol=1e-12 * np.abs(s_off).max())
    assert auc(off.targets, s_live) == pytest.approx(auc(off.targets, s_off), abs=1e-9)
    assert auc(off.targets, s_off) > 0.6
    # without the rule the model refuses the stream's own epochs, naming the rate
    native = load_epochs([s6], cfg.preprocessing)
    assert native.sfreq == 256.0
    with pytest.raises(NeurospellError, match="sampling rate"):
        dec.check_compatible(native)


def test_epochs_at_the_models_rate_pass_untouched():
    """A stream at the model's rate (every session recorded so far): the same object, no log."""
    cfg = Config()
    dec = load_decoder(generic_model_path(), preprocess=cfg.preprocessing)
    prov = dec.provenance_
    from neurospell.types import EpochBatch

    rng = np.random.default_rng(0)
    batch = EpochBatch(rng.standard_normal((3, len(prov["ch_names"]), prov["n_times"])).astype(np.float32),
                       np.array([1, 2, 3]), np.array([1.0, 1.1, 1.2]), prov["tmin"], prov["sfreq"],
                       tuple(prov["ch_names"]))
    rate = ModelRate(dec)
    assert rate(batch) is batch and not rate.logged
    fast = EpochBatch(rng.standard_normal((2, len(prov["ch_names"]), 300)).astype(np.float32),
                      np.array([1, 2]), np.array([1.0, 1.1]), prov["tmin"], 2 * prov["sfreq"], tuple(prov["ch_names"]))
    out = rate(fast)
    assert out.sfreq == prov["sfreq"] and out.n_times == min(prov["n_times"], 150) and rate.logged
    np.testing.assert_array_equal(rate(fast).data, out.data)  # deterministic


def test_a_live_256_hz_session_with_the_generic_model_spells_and_replays(s6, tmp_path):
    """`spell --source simulated --participant-data s6.mat --model generic --no-calibration`: refused
    before (the model's compatibility error); now it spells and its replay reproduces every decision."""
    out = tmp_path / "sess"
    run = subprocess.run([sys.executable, "-m", "neurospell", "--verbose", "info", "spell", "--headless",
                          "--source", "simulated", "--participant-data", str(s6), "--copy", "WATER",
                          "--model", "generic", "--no-calibration", "--max-selections", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    said = (run.stdout + run.stderr).count("resampling epochs 256 -> 250 Hz for the model")
    assert said == 1, run.stderr[-3000:]
    decisions = [r for r in SessionFolder.open(out).read_log() if r["type"] == "decision"]
    assert len(decisions) == 1
    rep = subprocess.run([sys.executable, "-m", "neurospell", "replay", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    m = re.search(r"(\d+)/(\d+) decisions reproduced", rep.stdout)
    assert m and m.group(1) == m.group(2) == "1", rep.stdout


def test_the_models_channels_are_taken_by_name_and_a_missing_one_is_named():
    """The parametric simulated participant streams Pz Cz Fz ...; the generic model takes Fz Cz P3 ...:
    matched by name (as offline); a stream without one of the model's channels is a clear error."""
    from neurospell.types import EpochBatch

    cfg = Config()
    dec = load_decoder(generic_model_path(), preprocess=cfg.preprocessing)
    prov = dec.provenance_
    names = list(prov["ch_names"])
    stream = names[::-1] + ["EOG"]
    rng = np.random.default_rng(1)
    data = rng.standard_normal((2, len(stream), prov["n_times"])).astype(np.float32)
    batch = EpochBatch(data, np.array([1, 2]), np.array([1.0, 1.1]), prov["tmin"], prov["sfreq"], tuple(stream))
    rate = ModelRate(dec)
    for _ in range(2):  # (the first call matches them, the next ones reuse it)
        out = rate(batch)
        assert out.ch_names == tuple(names)
        np.testing.assert_array_equal(out.data, data[:, [stream.index(c) for c in names]])
    dec.check_compatible(out)
    lacking = EpochBatch(data[:, 1:], np.array([1, 2]), np.array([1.0, 1.1]), prov["tmin"], prov["sfreq"],
                         tuple(stream[1:]))
    with pytest.raises(NeurospellError, match=f"lacks {stream[0]}"):
        ModelRate(dec)(lacking)
