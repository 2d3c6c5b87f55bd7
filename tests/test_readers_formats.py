"""load_recording on every supported format, the real shared files, and bad files."""

import json
import shutil

import mne
import numpy as np
import pytest
from helpers.pre_signals import SAMPLE_FIF, SAMPLE_XDF, make_raw, write_brainvision

from neurospell.check import NeurospellError
from neurospell.markers import flash_to_annotation
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.readers import SUPPORTED_FORMATS
from neurospell.preprocessing.xdf import XdfStream, write_xdf


def _flashes(raw):
    return [(round(o * raw.info["sfreq"]), d) for o, d in
            zip(raw.annotations.onset - (raw.first_time if raw.annotations.orig_time else 0),
                raw.annotations.description, strict=True)]


# ------------------------------------------------------------------ real shared files


def test_gtec_files(gtec_files):
    for f in gtec_files:
        raw = load_recording(f)
        assert raw.info["sfreq"] == 250.0 and len(raw.ch_names) == 8
        assert set(raw.get_channel_types()) == {"eeg"}
        desc = list(raw.annotations.description)
        n_t, n_nt = desc.count(flash_to_annotation(0, True)), desc.count(flash_to_annotation(0, False))
        trials = sorted(d for d in desc if d.startswith("trial/"))
        # README: 5 characters x 15 sequences x 16 flashes, 2 targets per sequence
        assert (n_t, n_nt, len(trials)) == (150, 1050, 5)
        # volts: wet-electrode EEG is tens of µV, not tens of volts
        assert 1e-6 < np.median(np.abs(raw.get_data())) < 1e-3


def test_gtec_trial_split_generalises(tmp_path):
    """Trials come from the pauses, not from a fixed count: 3 characters of 7 flashes."""
    from scipy.io import savemat

    fs, n = 250, 250 * 30
    trig = np.zeros((n, 1), dtype=np.int16)
    on = []
    for c in range(3):
        for k in range(7):
            on.append(250 + c * 2500 + k * 44)
    trig[on, 0] = np.where(np.arange(21) % 3 == 0, 1, -1)
    y = np.random.default_rng(0).standard_normal((n, 8)) * 10
    savemat(tmp_path / "g.mat", {"fs": np.array([[fs]], dtype=np.uint8), "y": y, "trig": trig})
    raw = load_recording(tmp_path / "g.mat")
    from neurospell.preprocessing import flash_table

    onsets, codes, targets, trials, _ = flash_table(raw)
    np.testing.assert_array_equal(np.round(onsets * fs), on)
    np.testing.assert_array_equal(trials, np.repeat([0, 1, 2], 7))
    np.testing.assert_array_equal(targets, np.arange(21) % 3 == 0)
    np.testing.assert_allclose(raw.get_data(), y.T * 1e-6)


def test_gtec_mat_without_the_variables(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "other.mat", {"data": np.zeros((10, 2))})
    with pytest.raises(NeurospellError, match=r"other\.mat.*needs the variables fs, y, trig.*\['data'\]"):
        load_recording(tmp_path / "other.mat")


def test_eeglab_sample(shared_data):
    raw = load_recording(shared_data / "eeglab_sample" / "eeglab_data.set")
    assert len(raw.ch_names) == 32 and raw.info["sfreq"] == 128.0
    desc = list(raw.annotations.description)
    assert desc.count("square") == 80 and desc.count("rt") == 74
    assert raw.times[-1] == pytest.approx(238.3, abs=0.1)


# ------------------------------------------------------------------ formats written by MNE / by hand


def test_fif_roundtrip_with_stim_channel_codes(tmp_path):
    raw = make_raw(duration=4.0)
    raw.save(tmp_path / "a_raw.fif")
    back = load_recording(tmp_path / "a_raw.fif")
    assert _flashes(back) == _flashes(raw)
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=1e-6)  # float32 on disk
    # A FIF with a stim channel of integer codes (no annotations): codes per neurospell.markers
    stim = np.zeros((1, raw.n_times))
    stim[0, [100, 200, 300]] = [103, 4, 200]
    r2 = raw.copy().set_annotations(None).add_channels(
        [mne.io.RawArray(stim, mne.create_info(["STI"], raw.info["sfreq"], "stim"), verbose="error")])
    r2.save(tmp_path / "b_raw.fif")
    back = load_recording(tmp_path / "b_raw.fif")
    assert _flashes(back) == [(100, "flash/3/target"), (200, "flash/4"), (300, "trial/0")]


def test_edf_exported_by_mne(tmp_path):
    raw = make_raw(duration=4.0, ramp=False)
    out = tmp_path / "rec.edf"
    mne.export.export_raw(out, raw, verbose="error")
    back = load_recording(out)
    assert back.info["sfreq"] == raw.info["sfreq"]
    n = min(back.n_times, raw.n_times)
    tol = 2 * np.ptp(raw.get_data()) / 2**15  # 16-bit EDF quantisation of the physical range
    np.testing.assert_allclose(back.get_data()[:4, :n], raw.get_data()[:, :n], rtol=0, atol=tol)
    got = [(round(o * 250), d) for o, d in zip(back.annotations.onset, back.annotations.description, strict=True)]
    assert got == _flashes(raw)


def test_brainvision_integer_markers(tmp_path):
    raw = make_raw(duration=3.0, ramp=False)
    vhdr = write_brainvision(tmp_path / "bv.vhdr", raw, markers=[
        (100, "Stimulus", "S103"), (150, "Stimulus", "S  4"), (175, "Comment", "flash:5:nontarget"),
    ])
    back = load_recording(vhdr)
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=1e-6)
    got = [d for d in back.annotations.description if d.startswith("flash")]
    assert got == ["flash/3/target", "flash/4", "flash/5/nontarget"]
    onsets = {d: round(o * 250) for o, d in zip(back.annotations.onset, back.annotations.description, strict=True)}
    assert onsets["flash/3/target"] == 100 and onsets["flash/4"] == 150
    # a truncated binary file is an error, not a shorter recording
    eeg = tmp_path / "bv.eeg"
    eeg.write_bytes(eeg.read_bytes()[:-3])
    with pytest.raises(NeurospellError, match=r"bv\.vhdr.*truncated or corrupt"):
        load_recording(vhdr)


def test_xdf_sample_and_stream_selection(tmp_path):
    import pyxdf

    streams, header = pyxdf.load_xdf(str(SAMPLE_XDF))
    assert {s["info"]["type"][0] for s in streams} == {"EEG", "Markers"}
    raw = load_recording(SAMPLE_XDF)
    ref = load_recording(SAMPLE_FIF)
    # same simulated µV, stored as float32 µV (XDF) vs float32 V (FIF)
    np.testing.assert_allclose(raw.get_data(), ref.get_data(), rtol=1e-6, atol=1e-12)
    assert list(raw.annotations.description) == list(ref.annotations.description)
    # FIF stores annotation onsets as float32 (~3e-5 s at 600 s): compare sample positions
    np.testing.assert_array_equal(np.round(raw.annotations.onset * 250),
                                  np.round((ref.annotations.onset - ref.first_time) * 250))

    # two EEG-like streams + an integer marker stream, chosen by name / type
    n = 500
    ts = 20.0 + np.arange(n) / 100.0
    a = XdfStream("ampA", "EEG", np.ones((n, 2), np.float32), ts, 100.0, "float32",
                  [{"label": "C3", "type": "EEG", "unit": "microvolts"}, {"label": "C4", "type": "EEG", "unit": "microvolts"}])
    b = XdfStream("ampB", "EXG", np.full((n, 3), 2.0), ts + 0.5, 100.0, "double64",
                  [{"label": f"X{i}", "type": "EMG", "unit": "volts"} for i in range(3)])
    m = XdfStream("codes", "Markers", np.array([[103], [4], [200]], np.int32), np.array([21.0, 22.0, 23.005]), 0.0, "int32")
    s = XdfStream("text", "Markers", ["flash:7:target"], np.array([21.5]), 0.0, "string")
    path = write_xdf(tmp_path / "multi.xdf", [a, b, m, s])
    raw = load_recording(path)
    assert raw.ch_names == ["C3", "C4"] and raw.info["sfreq"] == 100.0
    np.testing.assert_allclose(raw.get_data(), 1e-6)  # microvolts -> volts
    assert sorted(zip(np.round(raw.annotations.onset * 100).astype(int), raw.annotations.description, strict=True)) == [
        (100, "flash/3/target"), (150, "flash/7/target"), (200, "flash/4"), (300, "trial/0")]
    raw = load_recording(path, eeg_stream="ampB", marker_stream="text")
    assert raw.ch_names == ["X0", "X1", "X2"] and set(raw.get_channel_types()) == {"emg"}
    np.testing.assert_allclose(raw.get_data(), 2.0)
    assert [round(o * 100) for o in raw.annotations.onset] == [100]  # 21.5 - 20.5
    with pytest.raises(NeurospellError, match=r"no sampled stream named or typed 'nope'.*'ampA'.*'ampB'"):
        load_recording(path, eeg_stream="nope")
    with pytest.raises(NeurospellError, match="no marker stream named or typed 'nope'"):
        load_recording(path, marker_stream="nope")


def test_brainflow_file(tmp_path):
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    bid = int(BoardIds.SYNTHETIC_BOARD)
    d = BoardShim.get_board_descr(bid)
    n = 600
    data = np.zeros((d["num_rows"], n))
    rng = np.random.default_rng(0)
    for ch in d["eeg_channels"]:
        data[ch] = rng.standard_normal(n) * 10  # µV
    data[d["marker_channel"], [50, 120, 300]] = [103, 7, 200]
    data[d["timestamp_channel"]] = 1e9 + np.arange(n) / d["sampling_rate"]
    f = tmp_path / "bf.csv"
    DataFilter.write_file(data, str(f), "w")
    with pytest.raises(NeurospellError, match="no board_id was given"):
        load_recording(f)
    raw = load_recording(f, board_id=bid)
    assert len(raw.ch_names) == len(d["eeg_channels"]) and raw.info["sfreq"] == d["sampling_rate"]
    # BrainFlow writes text with 6 decimals (of µV): 1e-12 V
    np.testing.assert_allclose(raw.get_data(), data[d["eeg_channels"]] * 1e-6, rtol=0, atol=1e-12)
    assert _flashes(raw) == [(50, "flash/3/target"), (120, "flash/7"), (300, "trial/0")]
    (tmp_path / "bf.csv.json").write_text(json.dumps({"board_id": bid}))
    assert _flashes(load_recording(f)) == _flashes(raw)
    with pytest.raises(NeurospellError, match="rows per sample"):
        load_recording(f, board_id=int(BoardIds.CYTON_BOARD))


def test_recorder_rawlog_and_fif_open_without_options(tmp_path):
    from neurospell.rawlog import RawLogWriter, rawlog_to_raw

    n, sf = 500, 250.0
    w = RawLogWriter(tmp_path / "rec.nsraw", ["Cz", "Pz"], ["eeg", "eeg"], sf, start_lsl=10.0)
    x = np.random.default_rng(0).standard_normal((2, n)) * 1e-5
    ts = 10.0 + np.arange(n) / sf
    w.write_samples(x, ts)
    w.write_event({"type": "marker", "t": 10.0 + 100 / sf, "code": 103, "label": "flash:3:target"})
    w.write_event({"type": "marker", "t": 10.0 + 50 / sf, "code": 200, "label": "trial:0:A"})
    w.close()
    raw = load_recording(tmp_path / "rec.nsraw")
    np.testing.assert_allclose(raw.get_data(), x.astype(np.float32))
    assert sorted(_flashes(raw)) == [(50, "trial/0/A"), (100, "flash/3/target")]
    rawlog_to_raw(tmp_path / "rec.nsraw").save(tmp_path / "rec_raw.fif")  # what Recorder.stop writes
    assert sorted(_flashes(load_recording(tmp_path / "rec_raw.fif"))) == sorted(_flashes(raw))


# ------------------------------------------------------------------ bad files and arguments


def test_bad_paths_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recording(tmp_path / "missing.fif")
    with pytest.raises(NeurospellError, match="must be a recording file, got the folder"):
        load_recording(tmp_path)
    (tmp_path / "empty.edf").write_bytes(b"")
    with pytest.raises(NeurospellError, match=r"empty\.edf.*as edf: the file is empty"):
        load_recording(tmp_path / "empty.edf")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NeurospellError, match=r"Cannot tell the format.*Supported formats: fif"):
        load_recording(tmp_path / "notes.txt")
    with pytest.raises(NeurospellError, match=r"'fmt' parameter. Allowed values are 'fif'"):
        load_recording(tmp_path / "notes.txt", fmt="csv")
    with pytest.raises(NeurospellError, match="board_id is only used for BrainFlow"):
        load_recording(SAMPLE_FIF, board_id=0)
    with pytest.raises(NeurospellError, match="only used for XDF"):
        load_recording(SAMPLE_FIF, eeg_stream="EEG")


def test_wrong_content_for_the_extension(tmp_path):
    for ext in SUPPORTED_FORMATS:
        if ext in ("rawlog", "brainflow", "brainvision", "bnci"):  # bnci: a .mat told from gtec by content
            continue
        f = tmp_path / f"junk{SUPPORTED_FORMATS[ext][0]}"
        f.write_bytes(b"this is not an EEG recording at all\n" * 20)
        with pytest.raises(NeurospellError, match=rf"Could not read '.*junk.*' as {ext}: .*"):
            load_recording(f)


def test_truncated_files_are_errors(tmp_path):
    raw = make_raw(duration=3.0, ramp=False)
    raw.save(tmp_path / "t_raw.fif")
    mne.export.export_raw(tmp_path / "t.edf", raw, verbose="error")
    shutil.copy(SAMPLE_XDF, tmp_path / "t.xdf")
    for name in ("t_raw.fif", "t.edf", "t.xdf"):
        f = tmp_path / name
        blob = f.read_bytes()
        f.write_bytes(blob[: int(len(blob) * 0.7)])
        with pytest.raises(NeurospellError, match=rf"Could not read '.*{name}'"):
            load_recording(f)


def test_bdf_written_by_hand(tmp_path):
    from helpers.pre_signals import write_bdf

    raw = make_raw(duration=4.0, ramp=False, offset_uv=0.0)
    f = write_bdf(tmp_path / "rec.bdf", raw)
    back = load_recording(f)
    assert back.ch_names == raw.ch_names and back.info["sfreq"] == 250.0 and back.n_times == 1000
    # 24-bit quantisation of a +-100 mV physical range: 200 mV / 2**24 ~ 12 nV
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=0, atol=2e-8)
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(NeurospellError, match=r"rec\.bdf' as bdf: the file is truncated: its header announces 4"):
        load_recording(f)
