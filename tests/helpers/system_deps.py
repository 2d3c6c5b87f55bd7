"""Test helper: skip or fail a test that needs system packages this machine lacks.

A developer's fresh machine may lack Xvfb (or the X/xcb libraries Qt's ``xcb`` platform plugin
loads, or ALSA's library): the tests that need them are skipped there, and the skip reason
names what is missing and the one command that installs it (``make test`` shows skip reasons in
its summary: ``-ra`` in ``pyproject.toml``). CI (``.ci/run``) installs them as root and sets
``NEUROSPELL_REQUIRE_SYSTEM_PACKAGES=1``: there a missing package fails the test, so CI never
skips one silently.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Set (to ``1``) by ``.ci/run``: a missing system package fails the test instead of skipping it.
REQUIRE_ENV = "NEUROSPELL_REQUIRE_SYSTEM_PACKAGES"

#: Debian packages of the X server the real-window tests run under and of the libraries Qt's
#: xcb platform plugin needs (``libxcb-cursor0`` is loaded at run time, the others are linked).
XVFB_PACKAGES = ("xvfb", "xauth", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                 "libxcb-render-util0", "libxcb-xkb1", "libxkbcommon-x11-0")
#: Debian package of ALSA's library (sound output on Linux).
ALSA_PACKAGES = ("libasound2",)


def install_command(packages) -> str:
    return "apt-get install -y " + " ".join(packages)


def decide(missing: list[str], what: str, packages, *, required: bool | None = None) -> None:
    """Skip (or, when ``required``, fail) the calling test when ``missing`` is not empty.

    Parameters
    ----------
    missing : list of str
        The programs and libraries not found (empty: the test runs).
    what : str
        What the test needs them for.
    packages : sequence of str
        The Debian packages that provide them.
    required : bool | None
        ``None``: from ``$NEUROSPELL_REQUIRE_SYSTEM_PACKAGES``.

    Raises
    ------
    pytest.skip.Exception, pytest.fail.Exception
        When something is missing.
    """
    if not missing:
        return
    if required is None:
        required = os.environ.get(REQUIRE_ENV, "") not in ("", "0")
    missing = list(dict.fromkeys(missing))
    msg = f"{what} needs {', '.join(missing)} (not found here); install as root: {install_command(packages)}"
    if required:
        pytest.fail(f"{msg} ({REQUIRE_ENV} is set: CI must run this test)", pytrace=False)
    pytest.skip(msg)


def _qt_xcb_plugin() -> Path | None:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def missing_for_xvfb() -> list[str]:
    """What the real-window tests under ``xvfb-run`` lack here: programs, then libraries."""
    missing = [prog for prog in ("xvfb-run", "Xvfb", "xauth") if shutil.which(prog) is None]
    if not sys.platform.startswith("linux"):
        return missing
    plugin = _qt_xcb_plugin()
    if plugin is not None and shutil.which("ldd"):
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout
        missing += [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]
    if ctypes.util.find_library("xcb-cursor") is None:
        missing.append("libxcb-cursor.so.0")
    return missing


def require_xvfb() -> str:
    """The path of ``xvfb-run`` (the test is skipped, or fails in CI, when it cannot run)."""
    decide(missing_for_xvfb(), "A real window under Xvfb", XVFB_PACKAGES)
    return shutil.which("xvfb-run")


def require_alsa() -> None:
    """ALSA's library (sound output on Linux)."""
    missing = [] if ctypes.util.find_library("asound") else ["libasound.so.2"]
    decide(missing, "Sound output through ALSA", ALSA_PACKAGES)
