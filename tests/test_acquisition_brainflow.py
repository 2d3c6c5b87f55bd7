"""BrainFlow sources with BrainFlow's real synthetic and playback-file boards."""

import time
import warnings

import numpy as np
import pytest
from helpers.acq_boards import synthetic_board_data

from neurospell.acquisition import BrainFlowSource, open_source
from neurospell.check import NeurospellError, StreamError
from neurospell.config import AcquisitionConfig
from neurospell.lsl import local_clock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

# BrainFlow imports pkg_resources when it loads its library
pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")


def _read_until(rd, n, timeout=10.0):
    chunks, events = [], []
    deadline = time.monotonic() + timeout
    while sum(c.n_samples for c in chunks) < n and time.monotonic() < deadline:
        rd.wait(0.2)
        c, ev = rd.read()
        if c is not None:
            chunks.append(c)
        events.extend(ev)
    assert chunks, "no samples arrived"
    return chunks[0].concatenate(chunks), events, chunks


def test_synthetic_board_shapes_rate_timestamps_marker():
    src = BrainFlowSource()  # synthetic is the default
    assert src.sfreq == 250.0 and len(src.ch_names) == 16 and set(src.ch_types) == {"eeg"}
    with src:
        rd = src.reader()
        whole, _, chunks = _read_until(rd, 250)
        for c in chunks:
            assert c.data.shape == (16, c.timestamps.size) and c.sfreq == 250.0
        # consecutive chunks continue each other's sample count
        for a, b in zip(chunks[:-1], chunks[1:], strict=True):
            assert b.first_index == a.first_index + a.n_samples
        ts = whole.timestamps
        assert np.all(np.diff(ts) >= 0)
        # on the LSL clock: the newest sample is recent (poll every 5 ms; 0.5 s allows a loaded CI box)
        assert 0 <= local_clock() - ts[-1] < 0.5
        # real-time rate within 10 % over >= 1 s (BrainFlow's synthetic thread paces itself)
        assert whole.n_samples / (ts[-1] - ts[0]) == pytest.approx(250.0, rel=0.1)
        # EEG in volts: the synthetic board's signals are tens of microvolts, not tens of volts
        assert 1e-7 < np.median(np.abs(whole.data)) < 1e-3

        before = local_clock()
        src.insert_marker("flash:7:target")
        after = local_clock()
        got, events, _ = _read_until(rd, 50)
    assert len(events) == 1
    ev = events[0]
    assert ev.code == 107 and ev.label == "flash:7:target"
    # aligned to a sample: its timestamp is one of the sample timestamps ...
    assert np.min(np.abs(got.timestamps - ev.timestamp)) == 0.0
    # ... the first one acquired after the call (timestamps jitter by ~2 ms around the 4 ms period)
    assert before - 2 / 250 <= ev.timestamp <= after + 3 / 250


def test_playback_board_replays_file_exactly_and_reports_gap(tmp_path):
    data = synthetic_board_data(int(250 * 1.2))
    marker_row = BoardShim.get_marker_channel(BoardIds.SYNTHETIC_BOARD.value)
    data[marker_row] = 0
    data[marker_row, 50] = 3
    data = np.ascontiguousarray(np.delete(data, np.arange(100, 110), axis=1))  # 10 samples missing
    fname = tmp_path / "synthetic.csv"
    DataFilter.write_file(data, str(fname), "w")
    written = DataFilter.read_file(str(fname))
    src = open_source(f"playback:{fname}", AcquisitionConfig())
    with src:
        rd = src.reader(from_start=True)
        whole, events, _ = _read_until(rd, written.shape[1])
    eeg = BoardShim.get_eeg_channels(BoardIds.SYNTHETIC_BOARD.value)
    np.testing.assert_array_equal(whole.data[:, : written.shape[1]], written[eeg] * 1e-6)
    assert [(g.n_samples, g.sample_index, g.kind) for g in src.gaps] == [(10, 100, "missing")]
    # BrainFlow's playback board does not replay the file's marker channel (it carries only
    # markers inserted during playback), so the marker written into the file must not come back
    # as a spurious event either
    assert events == []


def test_readers_independent_and_slow_reader_overrun():
    with BrainFlowSource(buffer_seconds=0.2) as src:
        fast, slow = src.reader(), src.reader()
        got = []
        deadline = time.monotonic() + 10
        while sum(c.n_samples for c in got) < 200 and time.monotonic() < deadline:
            fast.wait(0.2)
            c, _ = fast.read()
            if c is not None:
                got.append(c)
        chunk, _ = slow.read()  # 0.8 s of samples through a 0.2 s buffer: the oldest are gone
    assert slow.n_overrun > 0
    assert chunk.n_samples == 50  # the buffer length, 0.2 s at 250 Hz
    assert chunk.first_index == slow.n_overrun + got[0].first_index
    assert fast.n_overrun == 0


def test_error_in_thread_reaches_reader():
    src = BrainFlowSource()
    src.start()
    try:
        rd = src.reader()
        src._board.release_session()  # the device goes away under the acquisition thread
        deadline = time.monotonic() + 5
        with pytest.raises(StreamError, match="acquisition thread .* failed") as exc:
            while time.monotonic() < deadline:
                rd.read()
                time.sleep(0.02)
        assert exc.value.__cause__ is not None
    finally:
        src.stop()


@pytest.mark.parametrize(
    "board, params, match",
    [
        (9999, None, r"Unknown BrainFlow board id 9999.*neurospell devices"),
        ("NOT_A_BOARD", None, r"Unknown BrainFlow board 'NOT_A_BOARD'.*neurospell devices"),
        ("synthetic", {"port": "x"}, r"Unknown BrainFlow input parameter 'port'.*serial_port"),
        ("playback", {"master_board": "synthetic"}, r"needs params\['file'\]"),
        ("playback", {"file": "x.csv"}, r"needs params\['master_board'\]"),
    ],
)
def test_bad_board_input(board, params, match):
    with pytest.raises(NeurospellError, match=match):
        BrainFlowSource(board, params)


def test_bad_marker_and_not_started():
    src = BrainFlowSource()
    with pytest.raises(StreamError, match="not running"):
        src.insert_marker(3)
    with pytest.raises(StreamError, match="call start"):
        src.reader()
    with src:
        with pytest.raises(NeurospellError, match="marker code 0"):
            src.insert_marker(0)
        with pytest.raises(NeurospellError, match="int code or a str"):
            src.insert_marker([1])
