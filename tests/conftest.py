"""Shared test set-up: one torch thread, offscreen Qt, loopback-only LSL, shared data."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import signal  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from neurospell.lsl import configure_lsl  # noqa: E402

# Before any LSL call in this process (and, through $LSLAPICFG, in its subprocesses).
configure_lsl()

# A shell without job control starts background jobs with SIGINT ignored, and an ignored
# signal stays ignored in every process started from them: Python then installs no Ctrl-C
# handler and the tests of Ctrl-C would see nothing. Handled here, and default in the
# processes the tests start (a handled signal is reset to the default on exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

try:  # one torch thread in tests and CI
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$NEUROSPELL_SHARED_DATA``); fails clearly when absent."""
    from neurospell.check import shared_data_dir

    path = shared_data_dir()
    if path is None:
        pytest.fail(
            "The shared real recordings were not found: set NEUROSPELL_SHARED_DATA or put "
            "shared/data beside the project (../shared/data)."
        )
    return path


@pytest.fixture(scope="session")
def gtec_files(shared_data) -> list[Path]:
    files = sorted((shared_data / "gtec_p300").glob("S*.mat"))
    if not files:
        pytest.fail(f"No g.tec P300 files S*.mat under {shared_data / 'gtec_p300'}.")
    return files


@pytest.fixture
def restore_app_look(qapp):
    """The Qt application (pytest-qt's ``qapp``); its palette, font, style sheet and the GUI's
    current theme are restored after the test (a test that applies a theme changes them)."""
    from PySide6 import QtGui  # (Qt only for the GUI tests that use this fixture)

    from neurospell.gui import theme as theme_mod

    palette, font, sheet = QtGui.QPalette(qapp.palette()), QtGui.QFont(qapp.font()), qapp.styleSheet()
    yield qapp
    qapp.setPalette(palette)
    qapp.setFont(font)
    qapp.setStyleSheet(sheet)
    theme_mod._current = theme_mod.HIGH_CONTRAST


@pytest.fixture
def fast_config(tmp_path):
    """``(path, Config)`` of the fast grid schedule the window tests share (``helpers.gui_config.FAST``)."""
    from helpers.gui_config import FAST

    from neurospell.config import load_config

    path = tmp_path / "fast.toml"
    path.write_text(FAST)
    return path, load_config(path)
