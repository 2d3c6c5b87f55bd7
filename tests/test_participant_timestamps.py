"""Flash-onset timestamps on markers: the outlet, LslSource.insert_marker and BrainFlow (real LSL, real board)."""

import time
import uuid

import numpy as np
import pytest

from neurospell.acquisition import BrainFlowSource, LslEegOutlet, LslMarkerOutlet, LslSource
from neurospell.check import NeurospellError
from neurospell.lsl import get_pylsl


def _pull_all(inlet, n, timeout=10.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        value, ts = inlet.pull_sample(timeout=0.2)
        if value is not None:
            got.append((value[0], ts))
    return got


def test_marker_outlet_sends_explicit_past_timestamps():
    pylsl = get_pylsl()
    name = f"ts-{uuid.uuid4().hex[:8]}"
    with LslMarkerOutlet(name) as mk:
        info = pylsl.resolve_bypred(f"name='{name}'", 1, 10.0)
        assert info
        inlet = pylsl.StreamInlet(info[0], recover=False)  # no post-processing: the sender's stamps
        inlet.open_stream(5.0)
        assert mk.wait_for_consumers(10)
        now = pylsl.local_clock()
        stamps = [now - 2.5, now - 1.0, now - 0.0123456]
        for k, t in enumerate(stamps):
            mk.push(f"flash:{k + 1}", timestamp=t)
        mk.push("flash:9")  # no timestamp: now
        got = _pull_all(inlet, 4)
        inlet.close_stream()
    assert [g[0] for g in got] == ["flash:1", "flash:2", "flash:3", "flash:9"]
    assert [g[1] for g in got[:3]] == stamps
    assert now <= got[3][1] <= pylsl.local_clock()
    with pytest.raises(NeurospellError, match="timestamp"):
        LslMarkerOutlet(name + "-x").push("flash:1", timestamp=float("nan"))


def test_lsl_source_insert_marker_with_a_timestamp_comes_back_with_it():
    pylsl = get_pylsl()
    uid = uuid.uuid4().hex[:8]
    with LslEegOutlet(f"eeg-{uid}", ["Cz"], ["eeg"], 100.0) as eeg, LslMarkerOutlet(f"mk-{uid}") as mk:
        src = LslSource(name=f"eeg-{uid}", marker_name=f"mk-{uid}", timeout=10.0)
        src.marker_outlet = mk
        with src:
            reader = src.reader()
            assert mk.wait_for_consumers(10) and eeg.wait_for_consumers(10)
            onset = pylsl.local_clock() - 0.75
            src.insert_marker("flash:4:target", timestamp=onset)
            src.insert_marker(7)
            events = []
            deadline = time.monotonic() + 10
            while len(events) < 2 and time.monotonic() < deadline:
                reader.wait(0.2)
                events += reader.read()[1]
            with pytest.raises(NeurospellError, match="timestamp"):
                src.insert_marker("flash:1", timestamp=float("inf"))
    assert [e.label for e in events] == ["flash:4:target", "flash:7"]
    assert abs(events[0].timestamp - onset) < 1e-3  # clock-synchronised on loopback: offset ~0
    assert events[1].timestamp > onset + 0.7


def test_brainflow_insert_marker_reports_the_given_onset():
    pylsl = get_pylsl()
    with BrainFlowSource("synthetic") as src:
        reader = src.reader()
        deadline = time.monotonic() + 10
        while src.last_timestamp is None and time.monotonic() < deadline:
            reader.wait(0.1)
        onset = pylsl.local_clock() - 0.3
        src.insert_marker("flash:5:target", timestamp=onset)
        src.insert_marker("flash:5:nontarget")  # same code, no timestamp: the sample it landed on
        src.insert_marker("flash:6", timestamp=onset + 0.01)
        events = []
        while len(events) < 3 and time.monotonic() < deadline:
            reader.wait(0.2)
            events += reader.read()[1]
    assert [e.label for e in events] == ["flash:5:target", "flash:5:nontarget", "flash:6"]
    assert events[0].timestamp == onset and events[2].timestamp == onset + 0.01
    assert events[1].timestamp > onset + 0.2
    assert np.isfinite(events[1].timestamp)
