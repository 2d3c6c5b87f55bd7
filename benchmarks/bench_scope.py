"""Live scope frame rate: 8, 32 and 64 channels at 250 and 1000 Hz, data arriving in real time.

Shows a :class:`~neurospell.gui.scope.Scope` (1280x800) on the current Qt platform
(``offscreen`` unless ``QT_QPA_PLATFORM`` says otherwise) and feeds it synthetic EEG in real
time: a feed timer at ``--feed-hz`` pushes the samples due since the start, as a session's
snapshot feed would. Reports, per configuration, the frames rendered per second (paints of
the plot), the redraws per second (curve updates), the time one redraw + paint takes, and
the CPU share of this process (process CPU time / wall time; 100 % is one core).
Target (issue 12): >= 30 frames/s with 32 channels at 250 Hz.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_scope.py [--seconds 5] [--feed-hz 60]``;
in a real window under Xvfb: ``QT_QPA_PLATFORM=xcb xvfb-run -a python benchmarks/bench_scope.py``
(the X server's own CPU time is not counted).
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from neurospell.gui.scope import Scope  # noqa: E402
from neurospell.gui.theme import apply_theme  # noqa: E402


def run_one(app, n_ch, sfreq, seconds, feed_hz, seed=0):
    rng = np.random.default_rng(seed)
    scope = Scope([f"EEG{i:02d}" for i in range(n_ch)], sfreq)
    scope.resize(1280, 800)
    scope.show()
    app.processEvents()
    # One pre-generated second of noise, cycled: the feed costs (almost) nothing.
    noise = rng.standard_normal((n_ch, int(sfreq))) * 20e-6
    state = {"sent": 0}
    t_start = time.perf_counter()

    def feed():
        due = int((time.perf_counter() - t_start) * sfreq)
        m = due - state["sent"]
        if m <= 0:
            return
        idx = (state["sent"] + np.arange(m)) % noise.shape[1]
        ts = (state["sent"] + np.arange(m)) / sfreq
        scope.push(noise[:, idx], ts)
        state["sent"] = due

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(feed)
    timer.start(max(1, round(1000 / feed_hz)))
    # Warm-up (first paints, caches), then measure, in a real (blocking) event loop.
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(500, loop.quit)
    loop.exec()
    paints0, redraws0 = scope.n_paints, scope.n_redraws
    cpu0, wall0 = time.process_time(), time.perf_counter()
    QtCore.QTimer.singleShot(int(1000 * seconds), loop.quit)
    loop.exec()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    timer.stop()
    paints, redraws = scope.n_paints - paints0, scope.n_redraws - redraws0
    samples = state["sent"]
    scope.close()
    scope.deleteLater()
    app.processEvents()
    return {
        "fps": paints / wall,
        "redraws_per_s": redraws / wall,
        "ms_per_frame": 1000 * cpu / max(1, paints),
        "cpu_pct": 100 * cpu / wall,
        "realtime": samples / (wall + 0.5) / sfreq,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measurement per configuration (s)")
    ap.add_argument("--feed-hz", type=float, default=60.0, help="how often new samples are pushed (Hz)")
    args = ap.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    apply_theme(app, "high-contrast")
    print(f"platform {app.platformName()}, {args.seconds:g} s per configuration, feed {args.feed_hz:g} Hz, "
          "redraw timer 40 Hz, window 1280x800")
    print(f"{'channels':>8} {'sfreq':>6} {'frames/s':>9} {'redraws/s':>10} {'CPU ms/frame':>13} {'CPU %':>6}")
    ok = True
    for sfreq in (250.0, 1000.0):
        for n_ch in (8, 32, 64):
            r = run_one(app, n_ch, sfreq, args.seconds, args.feed_hz)
            print(f"{n_ch:>8} {sfreq:>6g} {r['fps']:>9.1f} {r['redraws_per_s']:>10.1f} "
                  f"{r['ms_per_frame']:>13.2f} {r['cpu_pct']:>6.0f}", flush=True)
            if n_ch == 32 and sfreq == 250.0 and r["fps"] < 30:
                ok = False
    print("target >= 30 frames/s at 32 ch, 250 Hz:", "met" if ok else "NOT met on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
