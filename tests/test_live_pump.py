"""The live session's stream pump (no LSL): what it reads goes, indexed and in order, to its
consumer; a silent or dead source is noticed on the injected clock, and started again."""

import numpy as np

from neurospell.check import StreamError
from neurospell.session.live.markerwatch import MarkerWatch
from neurospell.session.live.pause import PauseState
from neurospell.session.live.pump import StreamPump
from neurospell.session.live.recorder import PhaseRecorder
from neurospell.types import MarkerEvent, SampleChunk

SFREQ = 100.0


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _chunk(t0, n, first_index):
    ts = t0 + np.arange(n) / SFREQ
    return SampleChunk(np.vstack([ts, -ts]), ts, ("C3", "C4"), ("eeg", "eeg"), SFREQ, first_index)


class Reader:
    """Hands out what the test queued (a reader of the source protocol: wait, read)."""

    def __init__(self, items):
        self.items = items

    def wait(self, timeout):
        pass

    def read(self):
        item = self.items.pop(0) if self.items else (None, [])
        if isinstance(item, Exception):
            raise item
        return item


class Source:
    gap_tolerance = 0.05
    error = None

    def __init__(self, items):
        self.items = items
        self.n_starts = 0

    def reader(self):
        return Reader(self.items)

    def start(self):
        self.n_starts += 1

    def stop(self):
        pass

    def __str__(self):
        return "TestSource"


def _pump(items):
    clock, source = Clock(), Source(items)
    pause = PauseState(clock)
    watch = MarkerWatch(None, pause, timeout=1.0, phase=lambda: "free", clock=clock)
    events = {"log": [], "lost": [], "back": 0, "fed": []}

    def lost(why):
        pause.source_lost(why)
        events["lost"].append(why)

    def back():
        pause.source_back()
        events["back"] += 1

    pump = StreamPump(source, pause=pause, watch=watch, recorder=PhaseRecorder(None, source), pause_after=1.0,
                      log=events["log"].append, on_source_lost=lost, on_source_back=back, clock=clock)
    pump.consumer = lambda chunk, markers: events["fed"].append((chunk, list(markers)))
    pump.open()
    return pump, clock, source, events


def test_chunks_are_indexed_across_a_gap_and_markers_go_with_the_first_piece():
    m = MarkerEvent(0.5, 3, "flash:3")
    # 50 samples, then 50 more after 0.2 s of nothing (20 samples missing), with a marker
    items = [(_chunk(0.0, 50, 0), []), (_chunk(0.7, 50, 50), [m])]
    pump, clock, source, events = _pump(items)
    assert not pump.flowing
    pump.pump()
    assert pump.flowing
    pump.pump()
    assert len(pump.gaps) == 1 and pump.gaps[0]["n_samples"] == 20
    assert events["log"] == [{"type": "gap", **pump.gaps[0]}]
    firsts = [(c.first_index, c.data.shape[1]) for c, _m in events["fed"]]
    assert firsts == [(0, 50), (70, 50)]  # the second chunk indexed after the missing samples
    assert events["fed"][1][1] == [m]
    pump.new_segment()
    assert not pump.flowing


def test_what_is_read_while_holding_goes_first_into_the_next_run():
    items = [(_chunk(0.0, 10, 0), []), (_chunk(0.1, 10, 10), [MarkerEvent(0.15, 1, "flash:1")]),
             (_chunk(0.2, 10, 20), [])]
    pump, clock, source, events = _pump(items)
    pump.pump(hold=True)
    pump.pump(hold=True)
    assert events["fed"] == []  # kept for the next run
    pump.pump()
    ts = np.concatenate([c.timestamps for c, _m in events["fed"]])
    np.testing.assert_allclose(ts, np.arange(30) / SFREQ)  # in order, nothing lost
    assert [m.label for _c, ms in events["fed"] for m in ms] == ["flash:1"]


def test_a_silent_source_is_lost_after_pause_after_and_back_with_the_next_samples():
    items = [(_chunk(0.0, 10, 0), [])]
    pump, clock, source, events = _pump(items)
    pump.pump()
    clock.t = 0.9
    pump.pump()
    assert events["lost"] == []
    clock.t = 1.2
    pump.pump()
    assert len(events["lost"]) == 1 and "no samples from TestSource for 1.2 s" in events["lost"][0]
    pump.pump()
    assert len(events["lost"]) == 1  # one pause, not one per read
    source.items.append((_chunk(1.2, 10, 10), []))
    pump.pump()
    assert events["back"] == 1 and pump.pause.source_problem is None


def test_a_dead_reader_is_lost_and_the_source_started_again_once_a_second():
    items = [StreamError("the acquisition thread died")]
    pump, clock, source, events = _pump(items)
    pump.pump()
    assert events["lost"] and "acquisition thread stopped" in events["lost"][0]
    clock.t = 0.5
    pump.pump(0.0)
    assert source.n_starts == 0  # not within a second of the last try
    clock.t = 5.0
    pump.pump(0.0)  # starts it again, reads nothing yet
    assert source.n_starts == 1
    pump.pump(0.0)
    assert source.n_starts == 1  # (a reader again: no restart)
    source.items.append((_chunk(5.0, 10, 0), []))
    pump.pump(0.0)
    assert events["back"] == 1
