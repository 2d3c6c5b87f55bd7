"""Replay over LSL: a consumer on loopback reconstructs every sample and every marker
position of the file exactly (the player runs in a subprocess, as `neurospell replay`)."""

import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from helpers.pre_signals import make_raw

from neurospell.check import StreamError
from neurospell.lsl import get_pylsl
from neurospell.markers import flash_to_str
from neurospell.preprocessing import load_recording


def _resolve(pylsl, name, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, 1, 1.0)
        if found:
            return found[0]
    raise AssertionError(f"LSL stream {name!r} not found within {timeout} s")


def test_replay_as_lsl_is_faithful(tmp_path):
    pylsl = get_pylsl()
    sf, speed = 250.0, 4.0
    raw = make_raw(duration=6.0, sfreq=sf)  # EEG + sample-index ramp channel, off-grid flashes
    fname = tmp_path / "rec_raw.fif"
    raw.save(fname)
    ref = load_recording(fname)
    x = ref.get_data()
    name = f"ns-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurospell", "replay", str(fname), "--as-lsl", "--speed", str(speed),
         "--wait", "60", "--name", name, "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        eeg = pylsl.StreamInlet(_resolve(pylsl, name), max_buflen=60, processing_flags=0)
        mk = pylsl.StreamInlet(_resolve(pylsl, name + "-markers"), max_buflen=60, processing_flags=0)
        eeg.open_stream(timeout=10)
        mk.open_stream(timeout=10)
        info = eeg.info()
        assert info.nominal_srate() == sf and info.channel_count() == len(raw.ch_names)
        samples, stamps, labels, mstamps = [], [], [], []
        n_markers = len(raw.annotations)
        deadline = time.monotonic() + 60
        while (sum(len(s) for s in samples) < x.shape[1] or len(labels) < n_markers) and time.monotonic() < deadline:
            d, t = eeg.pull_chunk(timeout=0.2, max_samples=4096)
            if t:
                samples.append(np.asarray(d))
                stamps.extend(t)
            m, mt = mk.pull_chunk(timeout=0.0)
            labels.extend(v[0] for v in m)
            mstamps.extend(mt)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    data = np.concatenate(samples).T
    ts = np.asarray(stamps)
    assert data.shape == x.shape
    np.testing.assert_array_equal(data, x)  # float64 on the wire: every sample exact
    np.testing.assert_array_equal(data[-1], np.arange(x.shape[1]))  # the ramp channel
    # timestamps: sample i at t0 + i / (sfreq * speed); 1e-9 s for float64 sums near the clock value
    np.testing.assert_allclose(ts - ts[0], np.arange(ts.size) / (sf * speed), rtol=0, atol=1e-9)
    expect = [flash_to_str(int(d.split("/")[1]), d.endswith("/target")) if d.startswith("flash")
              else d.replace("/", ":") for d in raw.annotations.description]
    assert labels == expect
    # every marker sits at its exact (fractional) sample position of the file
    pos = (np.asarray(mstamps) - ts[0]) * sf * speed
    np.testing.assert_allclose(pos, raw.annotations.onset * sf, rtol=0, atol=1e-5)
    assert "replayed" in out


def test_replay_without_consumer_is_a_clear_error():
    from neurospell.session.replay import replay_lsl

    raw = make_raw(duration=3.0)
    with pytest.raises(StreamError, match="no consumer connected .* within 0.3 s"):
        replay_lsl(raw, name=f"ns-lonely-{uuid.uuid4().hex[:6]}", wait_for_consumers=0.3)


def test_replay_stop_callback_ends_early():
    from neurospell.session.replay import replay_lsl

    raw = make_raw(duration=30.0)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 5

    t0 = time.monotonic()
    out = replay_lsl(raw, name=f"ns-stop-{uuid.uuid4().hex[:6]}", wait_for_consumers=None, stop=stop)
    assert out["stopped"] and 0 < out["n_samples"] < raw.n_times
    assert time.monotonic() - t0 < 5.0  # 30 s of recording, stopped after 5 chunks
