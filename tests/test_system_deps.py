"""The tests that need system packages (Xvfb, Qt's xcb libraries, ALSA) skip with what is
missing and the command that installs it, and fail instead where CI requires them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.system_deps import ALSA_PACKAGES, REQUIRE_ENV, XVFB_PACKAGES, decide, missing_for_xvfb

CI_RUN = Path(__file__).resolve().parent.parent / ".ci" / "run"


def test_nothing_missing_runs_the_test():
    assert decide([], "A real window", XVFB_PACKAGES, required=True) is None


def test_missing_skips_with_what_and_how_unless_required(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        decide(["xvfb-run", "xauth", "xvfb-run"], "A real window under Xvfb", ("xvfb", "xauth"))
    assert str(skipped.value) == ("A real window under Xvfb needs xvfb-run, xauth (not found here); "
                                  "install as root: apt-get install -y xvfb xauth")
    monkeypatch.setenv(REQUIRE_ENV, "0")
    with pytest.raises(pytest.skip.Exception):
        decide(["xvfb-run"], "A real window", ("xvfb",))
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"xvfb-run.*apt-get install -y xvfb.*{REQUIRE_ENV} is set"):
        decide(["xvfb-run"], "A real window", ("xvfb",))
    with pytest.raises(pytest.skip.Exception):  # an explicit answer wins over the environment
        decide(["xvfb-run"], "A real window", ("xvfb",), required=False)


def test_missing_programs_are_found_on_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: none of the programs
    assert missing_for_xvfb()[:3] == ["xvfb-run", "Xvfb", "xauth"]


def test_ci_installs_every_package_and_requires_them():
    text = CI_RUN.read_text()
    assert re.search(rf"^export {REQUIRE_ENV}=1$", text, re.M), f".ci/run must export {REQUIRE_ENV}=1"
    installed = set(re.findall(r"[\w.+-]+", text.split("apt-get install", 1)[1].split(">/dev/null", 1)[0]))
    assert set(XVFB_PACKAGES + ALSA_PACKAGES) <= installed, set(XVFB_PACKAGES + ALSA_PACKAGES) - installed
