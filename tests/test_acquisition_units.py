"""One unit table and one rule: a stream read live (LSL) and from its XDF file gives the same volts."""

import time
import uuid

import numpy as np
import pytest

from neurospell.acquisition import LslSource
from neurospell.lsl import get_pylsl, local_clock
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.xdf import XdfStream, write_xdf
from neurospell.units import UNIT_SCALE, is_declared, unit_scale

# (label, type, declared unit, factor to volts)
CHANNELS = [
    ("Fz", "EEG", "", 1.0),              # no unit: taken as volts (neurospell.units)
    ("Cz", "EEG", "microvolts", 1e-6),
    ("Pz", "EEG", "\u00b5V", 1e-6),      # MICRO SIGN
    ("Oz", "EEG", "\u03bcV", 1e-6),      # GREEK MU
    ("C3", "EEG", "mV", 1e-3),
    ("C4", "EEG", "volts", 1.0),
    ("P3", "EEG", "0", 1.0),             # MNE-LSL's unit multiplier notation (10^0)
    ("EOG", "EOG", "uV", 1e-6),
    ("aux", "MISC", "none", 1.0),
]


def test_unit_table_and_rule():
    assert unit_scale(None) == unit_scale("") == unit_scale("none") == 1.0
    assert unit_scale(" Microvolts ") == unit_scale("uV") == unit_scale("\u00b5V") == 1e-6
    assert unit_scale("nV") == 1e-9 and unit_scale("degrees") == 1.0
    assert not is_declared(" None") and is_declared("mV")
    assert all(k == k.strip().lower() for k in UNIT_SCALE)


def _values(n):
    i = np.arange(n)
    return np.array([(k + 1) * 10.0 * np.sin(2 * np.pi * 3 * i / 250.0) for k in range(len(CHANNELS))],
                    dtype=np.float32)


def test_same_stream_live_and_through_xdf_gives_the_same_volts(tmp_path):
    pylsl = get_pylsl()
    name = f"units-{uuid.uuid4().hex[:8]}"
    sfreq, n = 250.0, 500
    info = pylsl.StreamInfo(name, "EEG", len(CHANNELS), sfreq, pylsl.cf_float32, f"units-{name}")
    chans = info.desc().append_child("channels")
    for label, kind, unit, _ in CHANNELS:
        c = chans.append_child("channel")
        c.append_child_value("label", label)
        c.append_child_value("type", kind)
        if unit:
            c.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    values = _values(n)
    ts = local_clock() + np.arange(n) / sfreq
    src = LslSource(name, timeout=10.0)
    with src:
        deadline = time.monotonic() + 10
        while not outlet.have_consumers() and time.monotonic() < deadline:
            time.sleep(0.01)
        outlet.push_chunk(np.ascontiguousarray(values.T), ts.tolist())
        rd = src.reader(from_start=True)
        chunks = []
        while sum(c.n_samples for c in chunks) < n and time.monotonic() < deadline:
            rd.wait(0.2)
            c, _ = rd.read()
            if c is not None:
                chunks.append(c)
    del outlet
    live = chunks[0].concatenate(chunks).data
    assert live.shape == (len(CHANNELS), n)

    fname = tmp_path / "same.xdf"
    write_xdf(fname, [XdfStream(name, "EEG", values.T, ts, sfreq, "float32",
                                [{"label": lab, "type": kind, **({"unit": u} if u else {})}
                                 for lab, kind, u, _ in CHANNELS])])
    from_file = load_recording(fname).get_data()

    factors = np.array([f for *_, f in CHANNELS])[:, None]
    np.testing.assert_allclose(live, values.astype(np.float64) * factors, rtol=1e-12)
    np.testing.assert_allclose(from_file, live, rtol=1e-12, atol=0)


@pytest.mark.parametrize("unit, scale", [("", 1.0), ("microvolts", 1e-6)])
def test_xdf_reader_follows_the_rule(tmp_path, unit, scale):
    x = np.ones((10, 1), dtype=np.float32) * 5.0
    fname = tmp_path / "one.xdf"
    write_xdf(fname, [XdfStream("e", "EEG", x, np.arange(10) / 100.0, 100.0, "float32",
                                [{"label": "Cz", "type": "EEG", **({"unit": unit} if unit else {})}])])
    np.testing.assert_allclose(load_recording(fname).get_data(), 5.0 * scale)
