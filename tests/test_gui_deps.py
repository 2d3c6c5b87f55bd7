"""The pinned Qt binding and pyqtgraph draw a 32-channel scope for many frames and exit cleanly.

PySide6 6.12.0 (with pyqtgraph 0.14.0 or 0.13.7) aborts the interpreter ("Fatal Python
error: none_dealloc: ... refcount error in a C extension", during ``GraphicsView.paintEvent``)
within the first frames of this test; pyproject.toml pins a pair it has verified (PySide6
6.11.3, pyqtgraph 0.14.0). It runs in a subprocess because the failure is an abort, not an
exception.
"""

import os
import subprocess
import sys
from importlib.metadata import version

SCRIPT = r"""
import numpy as np
from PySide6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
from neurospell.gui.scope import Scope

N_FRAMES = 150
scope = Scope([f"EEG{i:02d}" for i in range(32)], 250.0)
scope.resize(1000, 800)
scope.show()
rng = np.random.default_rng(0)
state = {"frames": 0, "t": 0}

def frame():
    data = rng.standard_normal((32, 10)) * 20e-6
    scope.push(data, (state["t"] + np.arange(10)) / 250.0)
    state["t"] += 10
    scope._redraw()       # the scope's redraw, then a full render of the widget
    scope.grab()
    state["frames"] += 1
    if state["frames"] >= N_FRAMES:
        app.quit()

timer = QtCore.QTimer()
timer.timeout.connect(frame)
timer.start(0)
app.exec()
print("frames", state["frames"], "redraws", scope.n_redraws, "paints", scope.n_paints)
"""


def test_pinned_qt_binding_draws_32_channel_scope_and_exits_cleanly():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=240)
    versions = f"PySide6 {version('PySide6-Essentials')}, shiboken6 {version('shiboken6')}, pyqtgraph {version('pyqtgraph')}"
    assert res.returncode == 0, f"{versions}: exit code {res.returncode}\n{res.stderr[-3000:]}"
    assert "refcount" not in res.stderr and "Fatal Python error" not in res.stderr, res.stderr[-3000:]
    counts = res.stdout.split()
    assert counts[:2] == ["frames", "150"] and int(counts[3]) >= 150 and int(counts[5]) >= 150, res.stdout
