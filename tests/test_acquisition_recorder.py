"""Recorder and the crash-safe rawlog format: kill -9 mid-recording, clean stop to FIF."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from neurospell.acquisition import (
    BrainFlowSource,
    LslEegOutlet,
    LslMarkerOutlet,
    LslSource,
    Recorder,
)
from neurospell.lsl import local_clock
from neurospell.rawlog import RawLogWriter, rawlog_to_raw, read_rawlog

HELPERS = Path(__file__).parent / "helpers"
# BrainFlow imports pkg_resources when it loads its library
pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")


def test_kill_9_loses_at_most_one_second(tmp_path):
    name = f"acqrec-{uuid.uuid4().hex[:8]}"
    sfreq = 500.0
    t0 = local_clock()
    outlet = subprocess.Popen(
        [sys.executable, str(HELPERS / "acq_outlet.py"), "--name", name, "--t0", repr(t0),
         "--sfreq", str(sfreq), "--n-channels", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    out = tmp_path / "crash_raw.fif"
    rec = subprocess.Popen(
        [sys.executable, str(HELPERS / "acq_record.py"), "--name", name, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert rec.stdout.readline().strip() == "RECORDING", rec.stderr.read()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # record until >= 2 s of samples have been written
            line = rec.stdout.readline()
            if line.startswith("N ") and int(line.split()[1]) >= 2 * sfreq:
                break
        t_kill = local_clock()
        os.kill(rec.pid, signal.SIGKILL)
        rec.wait(10)
    finally:
        for p in (rec, outlet):
            if p.poll() is None:
                p.kill()
            p.wait(10)
    log = read_rawlog(tmp_path / "crash_raw.nsraw")
    idx = log.data[0]
    assert idx.size >= 2 * sfreq - sfreq  # at least what was confirmed written minus 1 s
    np.testing.assert_array_equal(idx, np.arange(idx[0], idx[0] + idx.size))  # contiguous, in order
    np.testing.assert_allclose(log.timestamps, t0 + idx / sfreq, atol=0.5 / sfreq, rtol=0)
    # everything pushed up to 1 s before the kill is on disk
    pushed_at_kill = (t_kill - t0) * sfreq
    assert idx[-1] >= pushed_at_kill - sfreq
    # and the partial recording converts (FIF-ready)
    raw = rawlog_to_raw(log)
    assert raw.n_times == idx.size and raw.ch_names[0] == "index"


def test_clean_stop_fif_equals_stream(tmp_path):
    name = f"acqfif-{uuid.uuid4().hex[:8]}"
    sfreq, n = 200.0, 600
    ch_names, ch_types = ["index", "Cz", "Pz"], ["misc", "eeg", "eeg"]
    rng = np.random.default_rng(0)
    data = np.vstack([np.arange(n), 1e-5 * rng.standard_normal((2, n))]).astype(np.float32)
    with LslEegOutlet(name, ch_names, ch_types, sfreq) as out, LslMarkerOutlet(name + "-mk") as mk:
        src = LslSource(name, marker_name=name + "-mk", timeout=10.0)
        rec = Recorder(src, tmp_path / "clean_raw.fif", flush_interval=0.2, export=("edf",))
        rec.start()
        assert out.wait_for_consumers(10) and mk.wait_for_consumers(10)
        t0 = local_clock()
        ts = t0 + np.arange(n) / sfreq
        labels = {100: "flash:3:target", 250: "trial:1:A", 400: "flash:12", 500: "hello"}
        for i in range(0, n, 20):
            out.push(data[:, i : i + 20], ts[i : i + 20])
            for j in range(i, i + 20):
                if j in labels:
                    mk.push(labels[j], ts[j])
        deadline = time.monotonic() + 15
        while (rec.n_samples < n or rec.n_markers < len(labels)) and time.monotonic() < deadline:
            time.sleep(0.05)
        path = rec.stop(stop_source=True)
    assert path == tmp_path / "clean_raw.fif" and path.exists()
    assert not (tmp_path / "clean_raw.nsraw").exists()
    raw = mne.io.read_raw_fif(path, preload=True, verbose=False)
    assert raw.ch_names == ch_names and raw.info["sfreq"] == sfreq
    assert raw.get_channel_types() == ch_types
    # FIF stores float32 and the stream carried float32: equal bit for bit
    np.testing.assert_array_equal(raw.get_data(), data.astype(np.float64))
    ann = raw.annotations
    assert list(ann.description) == ["flash/3/target", "trial/1/A", "flash/12", "hello"]
    # onsets on the samples the markers were pushed with (FIF stores onsets as float32 seconds)
    np.testing.assert_allclose(ann.onset, np.array(sorted(labels)) / sfreq, atol=1e-4)
    edf = mne.io.read_raw_edf(tmp_path / "clean_raw.edf", preload=True, verbose=False)
    assert edf.n_times == n and list(edf.annotations.description) == list(ann.description)


def test_rawlog_reader_tolerates_truncated_records(tmp_path):
    w = RawLogWriter(tmp_path / "t.nsraw", ["a", "b"], ["eeg", "misc"], 100.0, start_lsl=10.0)
    x = np.arange(20, dtype=float).reshape(2, 10)
    w.write_samples(x, 10.0 + np.arange(10) / 100)
    w.write_event({"type": "marker", "t": 10.05, "code": 2, "label": "flash:2"})
    w.close()
    with open(tmp_path / "t.nsraw" / "samples.bin", "ab") as f:
        f.write(b"\x00" * 7)  # half a record, as a kill mid-write leaves it
    with open(tmp_path / "t.nsraw" / "events.jsonl", "a") as f:
        f.write('{"type": "marker", "t": 1')
    log = read_rawlog(tmp_path / "t.nsraw")
    np.testing.assert_array_equal(log.data, x)
    assert log.header["truncated"] and log.header["ch_names"] == ["a", "b"]
    assert [m["label"] for m in log.markers] == ["flash:2"]
    raw = rawlog_to_raw(log)
    assert raw.annotations.description[0] == "flash/2" and raw.annotations.onset[0] == pytest.approx(0.05)


def test_recorder_bad_output_paths(tmp_path):
    src = BrainFlowSource()
    with pytest.raises(PermissionError, match="cannot write in the folder '/proc'"):
        Recorder(src, "/proc/neurospell_raw.fif")
    with pytest.raises(FileNotFoundError, match="does not exist. Create it first"):
        Recorder(src, tmp_path / "missing" / "x_raw.fif")
    (tmp_path / "there_raw.fif").write_bytes(b"")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        Recorder(src, tmp_path / "there_raw.fif")
    with pytest.raises(Exception, match="flush_interval must be a finite number > 0"):
        Recorder(src, tmp_path / "y_raw.fif", flush_interval=-1)


def test_recorder_export_needs_its_writer(tmp_path):
    import importlib.util

    src = BrainFlowSource()
    with pytest.raises(Exception, match="Invalid value for the 'export' parameter"):
        Recorder(src, tmp_path / "z_raw.fif", export=("mat",))
    if importlib.util.find_spec("pybv") is None:  # BrainVision needs pybv: a clear error up front
        with pytest.raises(Exception, match="pip install pybv"):
            Recorder(src, tmp_path / "z_raw.fif", export=("brainvision",))
    else:
        assert Recorder(src, tmp_path / "z_raw.fif", export=("brainvision",)).export == ("brainvision",)


def test_recording_a_playback_file_keeps_gaps_and_inserted_markers(tmp_path):
    import warnings

    from helpers.acq_boards import synthetic_board_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from brainflow.data_filter import DataFilter

    data = synthetic_board_data(400)
    data = np.ascontiguousarray(np.delete(data, np.arange(200, 225), axis=1))  # 25 samples dropped
    DataFilter.write_file(data, str(tmp_path / "pb.csv"), "w")
    src = BrainFlowSource("playback", {"file": str(tmp_path / "pb.csv"), "master_board": "synthetic"})
    rec = Recorder(src, tmp_path / "pb_raw.fif", flush_interval=0.1, keep_rawlog=True).start()
    deadline = time.monotonic() + 10
    while rec.n_samples < 100 and time.monotonic() < deadline:
        time.sleep(0.02)
    src.insert_marker("flash:4:nontarget")
    while rec.n_samples < data.shape[1] and time.monotonic() < deadline:
        time.sleep(0.05)
    path = rec.stop(stop_source=True)
    raw = mne.io.read_raw_fif(path, verbose=False)
    assert raw.n_times == data.shape[1]
    desc = list(raw.annotations.description)
    assert desc.count("flash/4/nontarget") == 1 and desc.count("BAD_gap") == 1
    skip = raw.annotations.onset[desc.index("BAD_gap")]
    assert skip == pytest.approx(200 / 250.0, abs=1e-4)  # at the first sample after the hole
    # the FIF holds the samples as streamed (nothing zeroed around the gap)
    # (tolerance: the CSV file stores microvolts with 6 decimals, i.e. 1e-12 V; FIF float32 ~ 1e-7 rel.)
    np.testing.assert_allclose(raw.get_data()[:, 195:205], data[1:17, 195:205] * 1e-6, rtol=1e-6, atol=1e-12)
    log = read_rawlog(tmp_path / "pb_raw.nsraw")  # kept on request
    assert log.header["gaps"][0]["n_samples"] == 25 and log.data.shape == (16, data.shape[1])
