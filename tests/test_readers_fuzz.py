"""Property tests on the readers' edge cases: cut and corrupted files.

Properties:
- a file cut at any byte either raises a NeurospellError naming the file, or (when only
  trailing bookkeeping was cut) gives back exactly the original data: never partial data.
  Two exceptions, both reading a whole number of samples: a BrainVision data file holding
  fewer samples than its header's DataPoints reads what it holds with a warning naming the
  difference (as MNE does; BrainVision Analyzer exports do this), and a BCI2000 file states
  no sample count, so a cut between samples is a shorter recording;
- a file with corrupted bytes raises a NeurospellError naming the file or reads as a
  recording of finite values: never another exception from deep inside a parser.
"""

import shutil

import mne
import numpy as np
import pytest
from helpers.pre_signals import make_raw, write_brainvision
from helpers.reader_files import write_bci2000, write_gdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurospell.check import NeurospellError
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.xdf import XdfStream, write_xdf

FORMATS = ("fif", "edf", "xdf", "gtec", "brainvision", "gdf", "bci2000")
#: formats in which a cut between whole samples reads as a shorter recording (see above)
PREFIX_FORMATS = ("brainvision", "bci2000")


def _make(fmt, folder):
    raw = make_raw(duration=1.0, sfreq=100.0, n_eeg=3, ramp=False, trials=False,
                   flash_onsets=[0.2, 0.4, 0.6])
    if fmt == "fif":
        f = folder / "s_raw.fif"
        raw.save(f, overwrite=True, verbose="error")
    elif fmt == "edf":
        f = folder / "s.edf"
        mne.export.export_raw(f, raw, overwrite=True, verbose="error")
    elif fmt == "xdf":
        f = folder / "s.xdf"
        n = raw.n_times
        eeg = XdfStream("eeg", "EEG", (raw.get_data().T * 1e6).astype(np.float32), 5.0 + np.arange(n) / 100.0,
                        100.0, "float32", [{"label": c, "type": "EEG", "unit": "microvolts"} for c in raw.ch_names],
                        chunk_size=25)
        mk = XdfStream("mk", "Markers", ["flash:1:target", "flash:2:nontarget"], np.array([5.2, 5.4]), 0.0, "string")
        write_xdf(f, [eeg, mk], overwrite=True)
    elif fmt == "gtec":
        from scipy.io import savemat

        f = folder / "s.mat"
        trig = np.zeros((raw.n_times, 1), np.int16)
        trig[[20, 40, 60], 0] = [1, -1, -1]
        savemat(f, {"fs": np.array([[100]], np.uint8), "y": raw.get_data().T * 1e6, "trig": trig})
    elif fmt == "gdf":
        f = write_gdf(folder / "s.gdf", raw.get_data() * 1e6, sfreq=100, ch_names=raw.ch_names,
                      record_samples=25, events=[(20, 101), (40, 2), (60, 2)])
    elif fmt == "bci2000":
        code = np.zeros(raw.n_times, np.int64)
        code[[20, 21, 40, 41, 60, 61]] = [7, 7, 8, 8, 1, 1]
        f = write_bci2000(folder / "s.dat", np.round(raw.get_data() * 1e7), sfreq=100, gains=[0.1] * 3,
                          states={"StimulusCode": (5, code), "StimulusType": (1, (code == 7).astype(int))})
    else:
        f = write_brainvision(folder / "s.vhdr", raw, markers=[(20, "Stimulus", "S101")])
        return f, load_recording(f).get_data(), folder / "s.eeg"
    return f, load_recording(f).get_data(), f


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_orig")
    out = {}
    for fmt in FORMATS:
        sub = folder / fmt
        sub.mkdir()
        f, data, target = _make(fmt, sub)
        out[fmt] = (sub, f.name, data, target.name, target.read_bytes())
    return out


def _copy(originals, fmt, tmp_path, blob):
    sub, name, data, target, _ = originals[fmt]
    dst = tmp_path / fmt
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(sub, dst)
    (dst / target).write_bytes(blob)
    return dst / name, data


SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(frac=st.floats(0.0, 0.999))
def test_cut_file_is_an_error_or_complete(originals, tmp_path, fmt, frac):
    blob = originals[fmt][4]
    cut = blob[: int(len(blob) * frac)]
    path, data = _copy(originals, fmt, tmp_path, cut)
    try:
        raw = load_recording(path)
    except NeurospellError as err:
        assert path.name in str(err)
        return
    got = raw.get_data()
    if fmt in PREFIX_FORMATS and got.shape[1] < data.shape[1]:
        np.testing.assert_array_equal(got, data[:, : got.shape[1]])  # the samples it holds, exactly
        return
    # what reads must be the whole recording (only trailing bookkeeping was cut)
    np.testing.assert_array_equal(got, data)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_corrupt_bytes_never_escape_as_other_errors(originals, tmp_path, fmt, data):
    blob = bytearray(originals[fmt][4])
    n_flips = data.draw(st.integers(1, 8))
    for _ in range(n_flips):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    path, _ = _copy(originals, fmt, tmp_path, bytes(blob))
    try:
        raw = load_recording(path)
    except NeurospellError as err:
        assert path.name in str(err)
        return
    assert np.all(np.isfinite(raw.get_data())) and raw.n_times > 0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(code=st.integers(0, 99), target=st.sampled_from([None, True, False]),
       trial=st.integers(0, 500), symbol=st.sampled_from(list("AZ9 _<")))
def test_marker_forms_map_to_one_annotation(code, target, trial, symbol):
    from neurospell.markers import (
        flash_to_annotation,
        flash_to_int,
        flash_to_str,
        trial_to_annotation,
    )
    from neurospell.preprocessing.readers import _marker_to_description

    ann = flash_to_annotation(code, target)
    assert _marker_to_description(flash_to_str(code, target)) == ann
    assert _marker_to_description(ann) == ann
    if target is not False and (code or target):  # the integer form cannot say "non-target"
        assert _marker_to_description(flash_to_int(code, target)) == ann
        assert _marker_to_description(str(flash_to_int(code, target))) == ann
    # one coding: a space symbol is written "_" in annotations (a trailing space does not survive
    # every file format)
    assert _marker_to_description(f"trial:{trial}:{symbol}") == trial_to_annotation(trial, symbol)
    assert trial_to_annotation(trial, symbol) == f"trial/{trial}/{'_' if symbol == ' ' else symbol}"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(gaps=st.lists(st.floats(0.1, 0.3), min_size=1, max_size=60),
       pauses=st.lists(st.integers(1, 59), max_size=5, unique=True))
def test_split_trials_cuts_exactly_at_the_long_pauses(gaps, pauses):
    from neurospell.preprocessing import split_trials

    gaps = np.asarray(gaps)
    # the rule assumes most intervals are flash-to-flash (a character has many flashes)
    pauses = sorted(p for p in pauses if p < len(gaps))[: len(gaps) // 4]
    gaps[pauses] = 3.0  # a pause between characters
    onsets = np.concatenate([[0.0], np.cumsum(gaps)])
    trials = split_trials(onsets)
    assert trials[0] == 0 and np.all(np.diff(trials) >= 0)
    np.testing.assert_array_equal(np.flatnonzero(np.diff(trials)), pauses)
