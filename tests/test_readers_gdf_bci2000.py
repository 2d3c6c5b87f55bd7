"""GDF (BioSig/OpenViBE) and BCI2000 .dat files, written byte by byte from their specifications.

GDF values are checked against MNE's reader (mne.io.read_raw_gdf); BCI2000 values against
BCI2000Tools' own reader (bcistream, the BCI2000 project's Python tools; GPL, used here only
as an independent reference, never by neurospell itself).
"""

import mne
import numpy as np
import pytest
from helpers.pre_signals import SAMPLE_FIF
from helpers.reader_files import raw_to_p3speller_states, write_bci2000, write_gdf

from neurospell.check import NeurospellError
from neurospell.preprocessing import flash_table, load_recording
from neurospell.preprocessing.bci2000 import read_bci2000


def _ann(raw):
    return sorted((round(o * raw.info["sfreq"]), d)
                  for o, d in zip(raw.annotations.onset, raw.annotations.description, strict=True))


# ------------------------------------------------------------------ GDF


@pytest.mark.parametrize("dtype", ["<i2", "<i4", "<f4", "<f8"])
@pytest.mark.parametrize("event_mode", [1, 3])
def test_gdf_values_and_events_match_mne(tmp_path, dtype, event_mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1000)) * 40  # µV
    f = write_gdf(tmp_path / "ov.gdf", x, sfreq=250, ch_names=["Cz", "Pz", "Oz"], dtype=dtype,
                  events=[(100, 103), (300, 5), (400, 200), (500, 33285)], event_mode=event_mode)
    raw = load_recording(f)
    ref = mne.io.read_raw_gdf(f, preload=True, verbose="error")
    np.testing.assert_array_equal(raw.get_data(), ref.get_data())
    tol = 6553.5 / 2**16 * 1e-6 if dtype == "<i2" else (1e-12 if dtype == "<i4" else 1e-11)
    np.testing.assert_allclose(raw.get_data(), x * 1e-6, rtol=0, atol=max(tol, 1e-12) if dtype != "<f4" else 1e-11)
    assert raw.ch_names == ["Cz", "Pz", "Oz"] and raw.info["sfreq"] == 250
    # integer event types are neurospell codes where they fit; others keep their number
    assert _ann(raw) == [(100, "flash/3/target"), (300, "flash/5"), (400, "trial/0"), (500, "33285")]
    assert load_recording(f, fmt="gdf").n_times == 1000


def test_gdf_by_content_and_bad_files(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 500)) * 10
    f = write_gdf(tmp_path / "a.gdf", x, sfreq=100, ch_names=["C3", "C4"], events=[(10, 1), (20, 2)])
    blob = f.read_bytes()
    (tmp_path / "noext").write_bytes(blob)
    with pytest.raises(NeurospellError, match=r"noext' as gdf: .*only from a file named \*\.gdf: rename it"):
        load_recording(tmp_path / "noext")
    # cut inside the data records
    (tmp_path / "cut.gdf").write_bytes(blob[: len(blob) - 300])
    with pytest.raises(NeurospellError, match=r"cut\.gdf' as gdf: the file is truncated: its header "
                                              r"announces 5 data records"):
        load_recording(tmp_path / "cut.gdf")
    # cut inside the event table
    (tmp_path / "ev.gdf").write_bytes(blob[:-3])
    with pytest.raises(NeurospellError, match=r"ev\.gdf.*event table announces 2 events"):
        load_recording(tmp_path / "ev.gdf")
    # an unknown data type
    head = bytearray(blob)
    n_ch = 2
    off = 256 + 220 * n_ch
    head[off:off + 4] = (9).to_bytes(4, "little")
    (tmp_path / "typ.gdf").write_bytes(bytes(head))
    with pytest.raises(NeurospellError, match=r"typ\.gdf.*GDF data type\(s\) \[9\] cannot be decoded"):
        load_recording(tmp_path / "typ.gdf")
    (tmp_path / "junk.gdf").write_bytes(b"GDF X.YZ" + b"\0" * 600)
    with pytest.raises(NeurospellError, match=r"junk\.gdf' as gdf: it does not start with a GDF version"):
        load_recording(tmp_path / "junk.gdf")


# ------------------------------------------------------------------ BCI2000


@pytest.mark.parametrize(("data_format", "version"), [("int16", "1.0"), ("int16", "1.1"),
                                                      ("int32", "1.1"), ("float32", "1.1")])
def test_bci2000_values_match_bci2000tools(tmp_path, data_format, version):
    from BCI2000Tools.FileReader import bcistream

    rng = np.random.default_rng(4)
    n = 700
    x = rng.integers(-30000, 30000, (4, n))
    code = np.zeros(n, np.int64)
    code[100:110], code[140:150], code[180:190] = 4, 9, 12
    stype = np.zeros(n, np.int64)
    stype[140:150] = 1
    gains = [0.05, 0.1, 0.0298, 1.0]
    offsets = [0, 10, -3, 0]
    f = write_bci2000(tmp_path / "s.dat", x, sfreq=256, data_format=data_format, version=version,
                      gains=gains, offsets=offsets, ch_names=["Fz", "Cz", "P z", "Oz"],
                      states={"StimulusCode": (5, code), "StimulusType": (1, stype),
                              "SourceTime": (16, np.arange(n) % 65536)})
    rec = read_bci2000(f)
    assert rec.sfreq == 256 and rec.data_format == data_format
    if data_format != "int32":  # bcistream unpacks int32 with struct's native "l" (8 bytes on Linux)
        stream = bcistream(str(f))
        sig, states = stream.decode()
        np.testing.assert_allclose(rec.signal, np.asarray(sig) * 1e-6, rtol=1e-6)  # its gains: float32
        assert set(states) == set(rec.states)
        for name, vals in states.items():
            np.testing.assert_array_equal(rec.states[name], np.asarray(vals).ravel())
        assert stream.samplingrate() == 256
    raw = load_recording(f)
    assert raw.ch_names == ["Fz", "Cz", "P z", "Oz"]
    np.testing.assert_allclose(raw.get_data(), (x - np.c_[offsets]) * np.c_[gains] * 1e-6, rtol=1e-6)
    # BCI2000 codes 1-6 are columns, 7-12 rows; neurospell numbers rows first
    assert _ann(raw) == [(100, "flash/10/nontarget"), (100, "trial/0"), (140, "flash/3/target"),
                         (180, "flash/6/nontarget")]


def test_bci2000_gain_units_and_names(tmp_path):
    x = np.full((2, 10), 100)
    f = write_bci2000(tmp_path / "u.dat", x, sfreq=100, gains=[0.5, 2], gain_unit="muV")
    np.testing.assert_allclose(load_recording(f).get_data(), np.full((2, 10), [[50e-6], [200e-6]]))
    f = write_bci2000(tmp_path / "n.dat", x, sfreq=100, gains=[500, 2000], gain_unit="nV")
    np.testing.assert_allclose(load_recording(f).get_data(), np.full((2, 10), [[50e-6], [200e-6]]))
    (tmp_path / "n.bin").write_bytes(f.read_bytes())  # found by its first bytes
    assert load_recording(tmp_path / "n.bin").n_times == 10


def test_bci2000_bad_files(tmp_path):
    x = np.zeros((3, 50))
    f = write_bci2000(tmp_path / "b.dat", x, sfreq=100, states={"StimulusCode": (5, np.zeros(50, int))})
    blob = f.read_bytes()
    (tmp_path / "cut.dat").write_bytes(blob[:-4])
    with pytest.raises(NeurospellError, match=r"cut\.dat' as bci2000: its data .* not a whole number of "
                                              r"samples \(3 int16 channels \+ 1 state bytes = 7 bytes"):
        load_recording(tmp_path / "cut.dat")
    (tmp_path / "fmt.dat").write_bytes(blob.replace(b"DataFormat= int16", b"DataFormat= int64", 1))
    with pytest.raises(NeurospellError, match=r"fmt\.dat.*DataFormat=int64 cannot be decoded"):
        load_recording(tmp_path / "fmt.dat")
    (tmp_path / "hl.dat").write_bytes(blob.replace(b"HeaderLen=", b"HeaderLen= 99999999", 1))
    with pytest.raises(NeurospellError, match=r"hl\.dat.*HeaderLen"):
        load_recording(tmp_path / "hl.dat")
    (tmp_path / "txt.dat").write_bytes(b"some other .dat file\n" + bytes(100))
    with pytest.raises(NeurospellError, match=r"txt\.dat' as bci2000: its first line is not a BCI2000 header"
                                              r".*Supported formats: .*bci2000 \(\.dat\)"):
        load_recording(tmp_path / "txt.dat")
    bad_state = blob.replace(b"StimulusCode 5 0 0 1", b"StimulusCode 5 0 7 1", 1)
    (tmp_path / "st.dat").write_bytes(bad_state)
    with pytest.raises(NeurospellError, match=r"st\.dat.*state 'StimulusCode'.*does not fit"):
        load_recording(tmp_path / "st.dat")


@pytest.fixture(scope="module")
def p3speller_dat(tmp_path_factory):
    """The sample session as a BCI2000 P3Speller recording (float32 µV, 1.1)."""
    raw = mne.io.read_raw_fif(SAMPLE_FIF, preload=True, verbose="error")
    states = raw_to_p3speller_states(raw)
    text = "THE QUICK BROWN FOXHELLOYES"
    folder = tmp_path_factory.mktemp("bci")
    f = write_bci2000(folder / "p3speller.dat", raw.get_data() * 1e6, sfreq=raw.info["sfreq"],
                      ch_names=raw.ch_names, data_format="float32", states=states,
                      parameters=["Application:Speller%20Targets int NumMatrixRows= 6 6 0 % //",
                                  "Application:Speller%20Targets int NumMatrixColumns= 6 6 0 % //",
                                  "Application:Speller string TextToSpell= " + text.replace(" ", "%20")
                                  + " % % % // copy spelling"])
    return raw, f


def test_p3speller_states_become_flash_and_trial_markers(p3speller_dat, tmp_path):
    ref, f = p3speller_dat
    raw = load_recording(f)
    np.testing.assert_allclose(raw.get_data(), ref.get_data(), rtol=1e-6)
    on_r, codes_r, tg_r, tr_r, _ = flash_table(ref)
    on, codes, tg, tr, _ = flash_table(raw)
    np.testing.assert_array_equal(np.round(on * 250), np.round(on_r * 250))
    np.testing.assert_array_equal(codes, codes_r)
    np.testing.assert_array_equal(tg, tg_r)
    np.testing.assert_array_equal(tr, tr_r)
    trials = [d for d in raw.annotations.description if d.startswith("trial/")]
    assert trials == [d for d in ref.annotations.description if d.startswith("trial/")]
    # without TextToSpell the symbols come from the target row and column
    states = raw_to_p3speller_states(ref)
    g = write_bci2000(tmp_path / "free.dat", ref.get_data()[:, :40000] * 1e6, sfreq=250.0,
                      data_format="float32", states={k: (b, v[:40000]) for k, (b, v) in states.items()})
    sym = [d for d in load_recording(g).annotations.description if d.startswith("trial/")]
    assert sym == trials[: len(sym)] and len(sym) >= 3


def test_p3speller_session_decodes_with_replay(p3speller_dat, tmp_path):
    """`neurospell replay FILE.dat --decoder MODEL`: a BCI2000 P3Speller session spelled into text."""
    import subprocess
    import sys

    _, f = p3speller_dat
    model = tmp_path / "lda.pt"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "neurospell", *args], capture_output=True, text=True,
                              timeout=600)

    res = cli("train", str(SAMPLE_FIF), "--decoder", "lda", "--out", str(model))
    assert res.returncode == 0, res.stderr
    res = cli("replay", str(f), "--decoder", str(model), "--lm", "ngram", "--no-progress")
    assert res.returncode == 0, res.stderr
    decoded = "".join(ln.split("decoded:", 1)[1].split("intended:")[0].strip().strip("'")
                      for ln in res.stdout.splitlines() if ln.startswith("[none]") and "decoded:" in ln)
    intended = "THE QUICK BROWN FOXHELLOYES"
    assert len(decoded) == len(intended), res.stdout
    assert sum(a == b for a, b in zip(decoded, intended, strict=True)) >= len(intended) - 4, res.stdout
    assert "intended:" in res.stdout  # the trial symbols (TextToSpell) give the intended text


def test_p3speller_symbols_from_the_targets_matrix(tmp_path):
    """No TextToSpell: each trial's symbol is the cell of its target row and column in the
    Targets matrix (one row per cell, row by row; columns Display, Enter)."""
    grid = list("abcdefghijklmnopqrstuvwxyz123456789_")
    n = 2000
    code, stype, phase = (np.zeros(n, np.int64) for _ in range(3))
    targets = [(1, 1), (5, 0)]  # (row, column): 'h', '5'
    for t, (row, col) in enumerate(targets):
        start = 100 + t * 900
        phase[start:start + 50] = 1
        phase[start + 50:start + 800] = 2
        for k in range(12 * 3):  # 3 repetitions of the 12 groups
            c = k % 12 + 1
            s = start + 50 + k * 20
            code[s:s + 10] = c
            stype[s:s + 10] = int(c == col + 1 or c == 6 + row + 1)
        phase[start + 800:start + 900] = 3
    matrix = "Application:Speller%20Targets matrix Targets= 36 { Display Enter } " + " ".join(
        f"{g} {g}" for g in grid) + " // the speller matrix"
    f = write_bci2000(tmp_path / "m.dat", np.zeros((2, n)), sfreq=256,
                      states={"StimulusCode": (5, code), "StimulusType": (1, stype), "PhaseInSequence": (2, phase)},
                      parameters=[matrix, "Application:Speller string TextToSpell= ABCDE % % % // too long"])
    raw = load_recording(f)
    trials = [(round(o * 256), d) for o, d in zip(raw.annotations.onset, raw.annotations.description, strict=True)
              if d.startswith("trial/")]
    assert trials == [(100, "trial/0/h"), (1000, "trial/1/5")]
    _, codes, tg, tr, _ = flash_table(raw)
    # neurospell's codes: rows 1-6, columns 7-12
    assert sorted(set(codes[tg & (tr == 0)].tolist())) == [2, 8]
    assert sorted(set(codes[tg & (tr == 1)].tolist())) == [6, 7]
