"""Readers against the variants MNE's readers accept: files written as other tools write them
(BrainVision Analyzer, pybv, EDF recorders that never closed the file, EEGLAB with embedded
data), values checked against MNE's own reader."""

import contextlib
import logging

import mne
import numpy as np
import pytest
from helpers.reader_files import write_brainvision_variant

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.preprocessing import load_recording


@contextlib.contextmanager
def warnings_logged():
    """Collect the package logger's warnings."""
    records = []

    class _H(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    h = _H(level=logging.WARNING)
    logger.addHandler(h)
    try:
        yield records
    finally:
        logger.removeHandler(h)


def _mne(path, func=mne.io.read_raw_brainvision):
    return func(path, preload=True, verbose="error").get_data()


# ------------------------------------------------------------------ BrainVision


def test_brainvision_analyzer_export_with_short_data_file(tmp_path):
    """32 channels in nV, IEEE_FLOAT_32, multiplexed, DataPoints=64 but 2 samples in the .eeg."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal((32, 2)) * 5000  # nV
    names = [f"E{i + 1}" for i in range(32)]
    vhdr = write_brainvision_variant(tmp_path / "analyzer.vhdr", values, sfreq=500.0, ch_names=names,
                                     unit="nV", resolution=1.0, data_points=64)
    with warnings_logged() as logged:
        raw = load_recording(vhdr)
    assert raw.n_times == 2 and raw.ch_names == names
    np.testing.assert_allclose(raw.get_data(), _mne(vhdr), rtol=1e-7)
    np.testing.assert_allclose(raw.get_data(), values.astype(np.float32) * 1e-9, rtol=1e-6)
    assert any("announces 64 samples (DataPoints)" in m and "holds 2" in m for m in logged), logged


@pytest.mark.parametrize("binary_format", ["INT_16", "INT_32", "IEEE_FLOAT_32"])
@pytest.mark.parametrize("orientation", ["MULTIPLEXED", "VECTORIZED"])
@pytest.mark.parametrize(("unit", "resolution"), [("µV", 0.1), ("nV", 100.0), ("mV", 0.0005), ("V", 1e-7)])
def test_brainvision_formats_orientations_units(tmp_path, binary_format, orientation, unit, resolution):
    rng = np.random.default_rng(1)
    values = rng.integers(-20000, 20000, (3, 300))
    vhdr = write_brainvision_variant(tmp_path / "v.vhdr", values, sfreq=250.0, ch_names=["Fz", "Cz", "Pz"],
                                     binary_format=binary_format, orientation=orientation, unit=unit,
                                     resolution=resolution)
    raw = load_recording(vhdr)
    ref = _mne(vhdr)
    np.testing.assert_allclose(raw.get_data(), ref, rtol=1e-12)
    scale = {"µV": 1e-6, "nV": 1e-9, "mV": 1e-3, "V": 1.0}[unit]
    np.testing.assert_allclose(raw.get_data(), values * resolution * scale, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Encountered unsupported voltage units")  # pybv prefers µV
@pytest.mark.parametrize("fmt", ["binary_float32", "binary_int16"])
@pytest.mark.parametrize("unit", ["µV", "nV", "V"])
def test_brainvision_written_by_pybv(tmp_path, fmt, unit):
    from pybv import write_brainvision

    rng = np.random.default_rng(2)
    scale = {"µV": 1e-6, "nV": 1e-9, "V": 1.0}[unit]
    data = rng.standard_normal((4, 400)) * 1e-5  # volts
    res = 1e-8 / scale if fmt == "binary_int16" else 0.1
    events = np.array([[50, 3], [120, 103], [200, 200]])
    write_brainvision(data=data, sfreq=256.0, ch_names=["Fz", "Cz", "Pz", "Oz"], fname_base="pv",
                      folder_out=tmp_path, events=events, resolution=res, unit=unit, fmt=fmt)
    raw = load_recording(tmp_path / "pv.vhdr")
    np.testing.assert_allclose(raw.get_data(), _mne(tmp_path / "pv.vhdr"), rtol=1e-12)
    tol = 1e-8 if fmt == "binary_int16" else 1e-6 * np.abs(data).max()
    np.testing.assert_allclose(raw.get_data(), data, rtol=0, atol=tol)
    flashes = sorted((round(o * 256), d) for o, d in zip(raw.annotations.onset, raw.annotations.description,
                                                         strict=True) if not d.startswith("New Segment"))
    assert flashes == [(50, "flash/3"), (120, "flash/3/target"), (200, "trial/0")]


def test_brainvision_refusals(tmp_path):
    values = np.arange(30).reshape(3, 10)
    kw = dict(sfreq=100.0, ch_names=["A", "B", "C"])
    # not a whole number of samples
    vhdr = write_brainvision_variant(tmp_path / "cut.vhdr", values, **kw)
    eeg = tmp_path / "cut.eeg"
    eeg.write_bytes(eeg.read_bytes()[:-2])
    with pytest.raises(NeurospellError, match=r"cut\.vhdr.*cut\.eeg has 118 bytes, not a whole number of "
                                              r"3-channel IEEE_FLOAT_32 samples.*truncated or corrupt"):
        load_recording(vhdr)
    # a format no reader decodes
    vhdr = write_brainvision_variant(tmp_path / "u.vhdr", values, **kw, binary_format="INT_16")
    vhdr.write_bytes(vhdr.read_bytes().replace(b"BinaryFormat=INT_16", b"BinaryFormat=UINT_16"))
    with pytest.raises(NeurospellError, match=r"u\.vhdr.*BinaryFormat=UINT_16 cannot be decoded.*INT_16, "
                                              r"INT_32, IEEE_FLOAT_32"):
        load_recording(vhdr)
    # VECTORIZED with a DataPoints the data file contradicts: channels cannot be told apart
    vhdr = write_brainvision_variant(tmp_path / "vec.vhdr", values, **kw, orientation="VECTORIZED",
                                     data_points=12)
    with pytest.raises(NeurospellError, match=r"vec\.vhdr.*announces 12 samples.*holds 10.*VECTORIZED"):
        load_recording(vhdr)
    # the data file named by the header is missing
    vhdr = write_brainvision_variant(tmp_path / "gone.vhdr", values, **kw)
    (tmp_path / "gone.eeg").unlink()
    with pytest.raises(FileNotFoundError, match=r"gone\.eeg.*named by gone\.vhdr"):
        load_recording(vhdr)


# ------------------------------------------------------------------ EDF / BDF


def _edf_set_records(path, n_records):
    blob = bytearray(path.read_bytes())
    blob[236:244] = str(n_records).ljust(8).encode()
    path.write_bytes(bytes(blob))


def test_edf_record_count_variants(tmp_path):
    from helpers.pre_signals import make_raw, write_bdf

    raw = make_raw(duration=4.0, ramp=False, trials=False, flash_onsets=[])
    raw.set_annotations(None)
    for fmt in ("edf", "bdf"):
        f = tmp_path / f"r.{fmt}"
        if fmt == "edf":
            mne.export.export_raw(f, raw, verbose="error")
            func = mne.io.read_raw_edf
        else:
            write_bdf(f, raw)
            func = mne.io.read_raw_bdf
        full = load_recording(f).get_data()
        n_rec = int(f.read_bytes()[236:244].decode())
        # -1: a recorder that never closed the file (allowed by the EDF spec): read with a warning
        _edf_set_records(f, -1)
        with warnings_logged() as logged:
            back = load_recording(f)
        np.testing.assert_array_equal(back.get_data(), full)
        np.testing.assert_array_equal(back.get_data(), _mne(f, func))
        assert any("does not state the number of data records" in m for m in logged), logged
        # fewer records announced than stored: read all, as MNE does, with a warning
        _edf_set_records(f, n_rec - 1)
        with warnings_logged() as logged:
            back = load_recording(f)
        np.testing.assert_array_equal(back.get_data(), full)
        assert any(f"announces {n_rec - 1} data records but the file holds {n_rec}" in m for m in logged)
        # a partial record at the end: not a whole number of records
        _edf_set_records(f, -1)
        f.write_bytes(f.read_bytes()[:-7])
        with pytest.raises(NeurospellError, match=rf"r\.{fmt}.*not a whole number of .*data records"):
            load_recording(f)


# ------------------------------------------------------------------ EEGLAB


def test_eeglab_embedded_data_and_cut_fdt(tmp_path, shared_data):
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    data = (rng.standard_normal((3, 256)) * 20).astype(np.float32)  # µV
    chanlocs = np.array([(n,) for n in ("Fz", "Cz", "Pz")], dtype=[("labels", object)])
    events = np.array([("flash:3:target", 11.0, 0.0), ("trial:0:A", 2.0, 0.0)],
                      dtype=[("type", object), ("latency", float), ("duration", float)])
    eeg = dict(setname="t", nbchan=3, pnts=256, trials=1, srate=128.0, xmin=0.0, xmax=255 / 128,
               data=data, chanlocs=chanlocs, event=events, icawinv=np.array([]),
               icasphere=np.array([]), icaweights=np.array([]), ref="common")
    savemat(tmp_path / "emb.set", {"EEG": eeg}, appendmat=False)
    raw = load_recording(tmp_path / "emb.set")
    np.testing.assert_allclose(raw.get_data(), _mne(tmp_path / "emb.set", mne.io.read_raw_eeglab))
    np.testing.assert_allclose(raw.get_data(), data * 1e-6, rtol=1e-6)
    got = sorted((round(o * 128), d) for o, d in zip(raw.annotations.onset, raw.annotations.description,
                                                     strict=True))
    assert got == [(1, "trial/0/A"), (10, "flash/3/target")]
    # .set + .fdt (the shared sample) with the .fdt cut short
    for ext in ("set", "fdt"):
        (tmp_path / f"cut.{ext}").write_bytes((shared_data / "eeglab_sample" / f"eeglab_data.{ext}").read_bytes())
    # the .set names its data file: point it at cut.fdt
    blob = (tmp_path / "cut.set").read_bytes().replace(b"eeglab_data.fdt", b"cut.fdt\x00\x00\x00\x00\x00\x00\x00\x00")
    (tmp_path / "cut.set").write_bytes(blob)
    fdt = tmp_path / "cut.fdt"
    fdt.write_bytes(fdt.read_bytes()[:100000])
    with pytest.raises(NeurospellError, match=r"cut\.set.*data file cut\.fdt \(100000 bytes\).*truncated"):
        load_recording(tmp_path / "cut.set")


# ------------------------------------------------------------------ FIF


def test_fif_split_files_and_gzip(tmp_path):
    from helpers.pre_signals import make_raw

    raw = make_raw(duration=150.0, n_eeg=8, ramp=False)
    raw.save(tmp_path / "big_raw.fif", split_size="2MB", fmt="double", verbose="error")
    assert (tmp_path / "big_raw-1.fif").exists()  # MNE wrote more than one part
    back = load_recording(tmp_path / "big_raw.fif")
    np.testing.assert_array_equal(back.get_data(), _mne(tmp_path / "big_raw.fif", mne.io.read_raw_fif))
    assert back.n_times == raw.n_times
    raw.save(tmp_path / "z_raw.fif.gz", verbose="error")
    back = load_recording(tmp_path / "z_raw.fif.gz")
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=1e-6)
    assert sorted(back.annotations.description) == sorted(raw.annotations.description)


def test_brainvision_ansi_codepage_header(tmp_path):
    """Recorder/Analyzer on Windows write Codepage=ANSI headers (µ and umlauts as one byte)."""
    values = np.arange(40).reshape(4, 10) - 20
    vhdr = write_brainvision_variant(tmp_path / "x.vhdr", values, sfreq=100.0, ch_names=["Fz", "Cz", "Pz", "Oz"],
                                     binary_format="INT_16", resolution=0.5)
    text = vhdr.read_bytes().decode("utf-8").replace("Codepage=UTF-8", "Codepage=ANSI")
    text = text.replace("; exported for a test", "; exportiert von Müller")
    vhdr.write_bytes(text.encode("cp1252"))
    assert b"\xb5V" in vhdr.read_bytes()  # µ as one byte
    raw = load_recording(vhdr)
    np.testing.assert_allclose(raw.get_data(), _mne(vhdr))
    np.testing.assert_allclose(raw.get_data(), values * 0.5e-6)
