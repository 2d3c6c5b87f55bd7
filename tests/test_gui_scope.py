"""Scope: 32-channel display buffer, quality flags, stream-lost state, selection and scale."""

import numpy as np
import pytest
from PySide6 import QtCore

from neurospell.check import NeurospellError
from neurospell.gui.scope import Scope
from neurospell.types import SampleChunk

NAMES = [f"EEG{i:02d}" for i in range(32)]


def _scope(qtbot, sfreq=250.0, names=NAMES, **kwargs):
    scope = Scope(names, sfreq, **kwargs)
    qtbot.addWidget(scope)
    scope.resize(1000, 700)
    scope.show()
    qtbot.waitExposed(scope)
    return scope


def _eeg(n_ch, n, sfreq, start=0, seed=0):
    rng = np.random.default_rng(seed + start)
    data = rng.standard_normal((n_ch, n)) * 10e-6 + 5e-3  # 10 µV noise on a 5 mV electrode offset
    ts = 1000.0 + (start + np.arange(n)) / sfreq
    return data, ts


def test_push_32_channels_fills_the_display_and_redraws(qtbot):
    scope = _scope(qtbot, window=4.0)
    assert scope.decimation == 1 and scope.n_points == 1000  # 4 s at 250 Hz, every sample drawn
    sent = 0
    for _ in range(10):  # 10 chunks of 40 ms
        data, ts = _eeg(32, 10, 250.0, start=sent)
        scope.push(data, ts)
        sent += 10
    assert scope.n_samples_pushed == 100 and scope.last_timestamp == pytest.approx(ts[-1])
    buf = scope.display_buffer
    assert buf.shape == (32, 1000) and not buf.flags.writeable
    full = np.concatenate([_eeg(32, 10, 250.0, start=s)[0] for s in range(0, 100, 10)], axis=1)
    np.testing.assert_array_equal(buf[:, -100:], full)
    redraws = scope.n_redraws
    qtbot.waitUntil(lambda: scope.n_redraws > redraws and scope.n_paints > 0, timeout=5000)
    # Each curve holds its channel, centred on its recent median (the 5 mV offset removed),
    # scaled to its lane, first channel on top.
    assert np.all(np.abs(scope._center - 5e-3) < 50e-6)
    x, y = scope.curves[0].getData()
    assert x[0] == pytest.approx(-4.0) and x[-1] == pytest.approx(0.0)
    expected = np.clip((buf[0, -100:] - scope._center[0]) / scope.scale, -1.5, 1.5) + 31
    np.testing.assert_allclose(y[-100:], expected, rtol=0, atol=1e-9)
    assert np.all(np.abs(scope.curves[31].getData()[1][-100:]) <= 1.5)


def test_quality_flags_flat_railed_and_noisy_channels(qtbot):
    scope = _scope(qtbot)
    changes = []
    scope.qualityChanged.connect(changes.append)
    data, ts = _eeg(32, 500, 250.0)
    data[3] = 5e-3  # flat: a constant electrode offset
    data[8] = 0.3  # railed: saturated amplifier
    data[17] += np.random.default_rng(1).standard_normal(500) * 300e-6  # noisy: 300 µV of noise
    scope.push(data, ts)
    q = scope.quality
    assert q[3] == "flat" and q[8] == "railed" and q[17] == "noisy"
    assert all(s == "ok" for i, s in enumerate(q) if i not in (3, 8, 17))
    assert changes and changes[-1] == q
    assert scope.channel_list.item(3).text() == "EEG03: flat"
    assert scope.channel_list.item(8).text() == "EEG08: railed"
    assert scope.channel_list.item(17).text() == "EEG17: noisy"
    assert scope.channel_list.item(0).text() == "EEG00: ok"
    assert scope.channel_list.item(8).foreground().color().name() == scope._theme.bad
    assert scope.curves[17].opts["pen"].color().name() == scope._theme.warn


def test_stream_lost_state_shows_and_clears(qtbot):
    scope = _scope(qtbot)
    scope.push(*_eeg(32, 250, 250.0))
    assert not scope.status.isVisible() and not scope.stream_lost
    scope.set_stream_lost(True, "no samples for 2.0 s")
    assert scope.stream_lost and scope.status.isVisible()
    assert scope.status.text() == "Stream lost: no samples for 2.0 s"
    assert scope.status.accessibleDescription() == "Stream lost: no samples for 2.0 s"
    # The banner is drawn in the "bad" colour above the traces.
    img = scope.grab().toImage()
    p = scope.status.geometry().topLeft() + QtCore.QPoint(2, 2)
    assert img.pixelColor(p).name() == scope._theme.bad
    assert all(c.opts["pen"].color().name() == scope._theme.grid_line for c in scope.curves)
    scope.set_stream_lost(False)
    assert not scope.stream_lost and not scope.status.isVisible()
    assert scope.curves[0].opts["pen"].color().name() == scope._theme.text


def test_peak_decimation_keeps_a_one_sample_spike_at_1000_hz(qtbot):
    scope = _scope(qtbot, sfreq=1000.0, names=NAMES[:8])
    assert scope.decimation == 10 and scope.n_points == 1000  # 5000 samples -> 500 min/max pairs
    data, ts = _eeg(8, 1003, 1000.0)
    data[2, 517] += 400e-6
    scope.push(data[:, :333], ts[:333])  # chunks that do not line up with the bins
    scope.push(data[:, 333:], ts[333:])
    buf = scope.display_buffer
    assert scope._carry.shape == (8, 3)  # 1003 = 100 bins + 3 waiting for the next push
    np.testing.assert_array_equal(buf[:, -200:][:, 1::2], data[:, :1000].reshape(8, 100, 10).max(axis=2))
    np.testing.assert_array_equal(buf[:, -200:][:, 0::2], data[:, :1000].reshape(8, 100, 10).min(axis=2))
    assert buf[2].max() == data[2].max()


def test_channel_selection_and_scale(qtbot):
    scope = _scope(qtbot)
    scope.set_visible_channels(["EEG05", 0, "EEG31"])
    assert scope.visible_channels == ["EEG00", "EEG05", "EEG31"]
    assert [c.isVisible() for c in scope.curves].count(True) == 3
    assert scope._offsets[0] == 2 and scope._offsets[5] == 1 and scope._offsets[31] == 0
    # Unchecking a channel in the list hides its curve.
    scope.channel_list.item(5).setCheckState(QtCore.Qt.CheckState.Unchecked)
    assert scope.visible_channels == ["EEG00", "EEG31"] and not scope.curves[5].isVisible()
    scope.scale_box.setCurrentIndex(scope.scale_box.findText("20 µV"))
    assert scope.scale == pytest.approx(20e-6)
    scope.set_scale(1e-3)
    assert scope.scale_box.currentText() == "1 mV"
    with pytest.raises(NeurospellError, match="unknown channel 'Cz'"):
        scope.set_visible_channels(["Cz"])
    with pytest.raises(NeurospellError, match=r"indices in \[0, 31\]"):
        scope.set_visible_channels([32])


def test_push_and_constructor_validate_their_arguments(qtbot):
    scope = _scope(qtbot, names=NAMES[:4])
    with pytest.raises(NeurospellError, match=r"data must have shape \(4, n_samples\).*got \(3, 10\)"):
        scope.push(np.zeros((3, 10)), np.arange(10.0))
    with pytest.raises(NeurospellError, match=r"timestamps must have shape \(10,\)"):
        scope.push(np.zeros((4, 10)), np.arange(9.0))
    for kwargs, name in (({"window": 0.1}, "window"), ({"scale": 0}, "scale"),
                         ({"max_points": 10}, "max_points"), ({"redraw_hz": 0}, "redraw_hz")):
        with pytest.raises(NeurospellError, match=name):
            Scope(NAMES[:4], 250.0, **kwargs)
    with pytest.raises(NeurospellError, match="sfreq"):
        Scope(NAMES[:4], -1.0)
    with pytest.raises(NeurospellError, match="ch_names"):
        Scope([], 250.0)


def test_scope_postpones_redraws_that_would_delay_a_flash(qtbot):
    until_flash = {"s": 0.005}
    scope = _scope(qtbot, names=NAMES[:8], yield_to=lambda: until_flash["s"], frame_budget=0.02)
    scope.push(*_eeg(8, 50, 250.0))
    qtbot.waitUntil(lambda: scope.n_yielded >= 2, timeout=5000)
    assert scope.n_redraws == 0
    until_flash["s"] = float("inf")  # no flash running
    qtbot.waitUntil(lambda: scope.n_redraws >= 1, timeout=5000)
    with pytest.raises(NeurospellError, match="yield_to must be callable"):
        Scope(NAMES[:8], 250.0, yield_to=3.0)


def test_push_chunk_and_missing_samples(qtbot):
    scope = _scope(qtbot, names=NAMES[:4], window=2.0)
    data, ts = _eeg(4, 100, 250.0)
    data[1, 10:20] = np.nan
    scope.push_chunk(SampleChunk(data, ts, NAMES[:4], ("eeg",) * 4, 250.0))
    buf = scope.display_buffer
    assert np.isfinite(buf).all() and np.all(buf[1, -90:-80] == 0.0)
    np.testing.assert_array_equal(buf[0, -100:], data[0])
    with pytest.raises(NeurospellError, match="differ from the scope's"):
        scope.push_chunk(SampleChunk(data, ts, ["a", "b", "c", "d"], ("eeg",) * 4, 250.0))
