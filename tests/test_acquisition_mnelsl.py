"""Interoperability with MNE-LSL, both ways.

MNE-LSL's PlayerLSL (in a subprocess) into neurospell's recorder and online path; neurospell's
outlets into MNE-LSL's StreamLSL / StreamInlet. MNE-LSL bundles its own liblsl; both read
neurospell's loopback-only configuration through $LSLAPICFG (set by the conftest before any
LSL call, and by the player helper before it imports MNE-LSL).
"""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from neurospell.acquisition import LslEegOutlet, LslMarkerOutlet, open_source
from neurospell.cli import main
from neurospell.config import PreprocessConfig
from neurospell.lsl import get_pylsl, local_clock
from neurospell.preprocessing import OnlineEpocher, load_recording
from neurospell.types import SampleChunk

HELPERS = Path(__file__).parent / "helpers"
SAMPLE = Path(__file__).parents[1] / "sample_data" / "neurospell_sample_raw.fif"
TMIN, TMAX = 1.9, 40.0


@pytest.fixture
def player():
    name, sid = f"mnelsl-{uuid.uuid4().hex[:8]}", f"mnelsl-src-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "acq_mnelsl_player.py"), "--name", name,
                             "--source-id", sid, "--tmin", str(TMIN), "--tmax", str(TMAX)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == "READY", proc.stderr.read() if proc.poll() is not None else line
        yield name
    finally:
        proc.kill()
        proc.wait(10)


def _source_segment():
    raw = mne.io.read_raw_fif(SAMPLE, preload=True, verbose=False).crop(TMIN, TMAX)
    onsets = np.asarray(raw.annotations.onset) - raw.first_time
    return raw, onsets, list(raw.annotations.description)


def _offset(src_data, first_sample):
    """Where the first received sample sits in the source (the player was already running)."""
    k = np.flatnonzero(np.all(src_data == first_sample[:, None], axis=0))
    assert k.size == 1, "the received samples are not the player's"
    return int(k[0])


def test_player_into_record_eeg_and_annotations(player, tmp_path, capsys):
    out = tmp_path / "mnelsl_raw.fif"
    # `lsl:NAME` finds MNE-LSL's stream of type 'eeg' and its NAME-annotations stream
    assert main(["record", "--board", f"lsl:{player}", "--duration", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Markers: from '{player}-annotations'" in printed, printed
    src, s_on, s_desc = _source_segment()
    got = load_recording(out)
    sfreq = got.info["sfreq"]
    data = got.get_data()
    k = _offset(src.get_data(), data[:, 0])
    np.testing.assert_array_equal(data, src.get_data()[:, k:k + got.n_times])  # float64, bit-exact
    g_on = np.asarray(got.annotations.onset) - got.first_time + k / sfreq
    g_desc = list(got.annotations.description)
    assert len(g_desc) >= 5, g_desc
    # each annotation received is the source's, at its sample (MNE-LSL stamps annotations from
    # the chunk's clock, so allow a sample)
    for on, d in zip(g_on, g_desc, strict=True):
        j = int(np.argmin(np.abs(s_on - on) + 1e3 * (np.asarray(s_desc) != d)))
        assert s_desc[j] == d and abs(s_on[j] - on) <= 1.5 / sfreq, (on, d)
    # and none was lost in the recorded stretch (the last half second may still be in flight)
    inside = (s_on >= k / sfreq) & (s_on < (k + got.n_times) / sfreq - 0.5)
    assert sorted(np.asarray(s_desc)[inside]) == sorted(d for d, on in zip(g_desc, g_on, strict=True)
                                                          if on < (k + got.n_times) / sfreq - 0.5)


def test_player_into_online_path(player):
    cfg = PreprocessConfig()
    src = open_source(f"lsl:{player}")
    with src:
        assert src.stype == "EEG" and src.marker_stream == f"{player}-annotations"
        epocher = OnlineEpocher(cfg, src.sfreq, src.ch_names, src.ch_types)
        rd = src.reader(from_start=True)
        chunks, batches, deadline = [], [], time.monotonic() + 30
        markers = []
        while sum(len(b) for b in batches) < 12 and time.monotonic() < deadline:
            rd.wait(0.2)
            chunk, events = rd.read()
            markers += events
            epocher.push_markers(events)
            b = epocher.update(chunk)
            if chunk is not None:
                chunks.append(chunk)
            if len(b):
                batches.append(b)
    live = type(batches[0]).concatenate(batches)
    assert len(live) >= 12
    # the same samples and markers through the same online path offline give the same epochs
    whole = chunks[0].concatenate(chunks)
    raw, _, _ = _source_segment()
    k = _offset(raw.get_data(), whole.data[:, 0])
    assert np.array_equal(whole.data, raw.get_data()[:, k:k + whole.n_samples])
    ref = OnlineEpocher(cfg, src.sfreq, src.ch_names, src.ch_types)
    ref.push_markers(markers)
    offline = ref.update(SampleChunk(whole.data, whole.timestamps, whole.ch_names, whole.ch_types, whole.sfreq,
                                     first_index=0))
    n = len(live)
    np.testing.assert_array_equal(offline.codes[:n], live.codes)
    np.testing.assert_array_equal(offline.targets[:n], live.targets)
    np.testing.assert_allclose(offline.data[:n], live.data, rtol=1e-5, atol=1e-12)
    assert set(live.codes) <= set(range(1, 13)) and live.targets.any() and not live.targets.all()


def test_neurospell_outlets_into_mnelsl_stream():
    get_pylsl()  # configure LSL before MNE-LSL's liblsl reads $LSLAPICFG
    from mne_lsl.lsl import StreamInlet, resolve_streams
    from mne_lsl.stream import StreamLSL

    name = f"ns2mne-{uuid.uuid4().hex[:8]}"
    sfreq, n = 250.0, 500
    ch = ["Fz", "Cz", "Pz"]
    with LslEegOutlet(name, ch, ["eeg"] * 3, sfreq) as eeg, LslMarkerOutlet(name + "-markers") as mk:
        stream = StreamLSL(bufsize=4.0, name=name, stype="EEG").connect(acquisition_delay=0.01, timeout=10)
        sinfo = [s for s in resolve_streams(timeout=5, name=name + "-markers") if s.source_id == mk.source_id][0]
        minlet = StreamInlet(sinfo)
        minlet.open_stream(timeout=10)
        try:
            assert stream.ch_names == ch and stream.info["sfreq"] == sfreq
            assert stream.get_channel_types() == ["eeg"] * 3
            deadline = time.monotonic() + 10
            while not (eeg.have_consumers() and mk.have_consumers()) and time.monotonic() < deadline:
                time.sleep(0.01)
            x = (1e-5 * np.random.default_rng(0).standard_normal((3, n))).astype(np.float32)
            ts = local_clock() + np.arange(n) / sfreq
            eeg.push(x, ts)
            mk.push("flash:7:target", float(ts[100]))
            mk.push("phrase:test:HELLO", float(ts[200]))
            while stream.n_new_samples < n and time.monotonic() < deadline:
                time.sleep(0.02)
            data, times = stream.get_data(winsize=n / sfreq)
            np.testing.assert_array_equal(data, x.astype(np.float64))  # volts declared, volts read
            labels = []
            while len(labels) < 2 and time.monotonic() < deadline:
                values, mts = minlet.pull_chunk(timeout=0.2)
                labels += [v[0] for v in values]
            assert labels == ["flash:7:target", "phrase:test:HELLO"]
        finally:
            stream.disconnect()
            minlet.close_stream()
