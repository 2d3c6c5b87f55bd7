"""Process lifecycle of a live session: SIGTERM, SIGKILL, a participant process that dies.

Real ``neurospell spell --source simulated`` processes (a participant process over LSL on
loopback, a training process), real signals; no mocks, no fixed sleeps (deadlines on
conditions). The processes a session started are found through /proc before the signal.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.gui_config import FAST as GUI_FAST

from neurospell.lifecycle import EXIT_SIGTERM, PARENT_ENV, exit_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

DEADLINE = 150.0
FAST = ["--source", "simulated", "--headless", "--calibrate", "AB", "--decoder", "lda", "--lm", "uniform",
        "--soa", "0.08", "--inter-trial", "0.2", "--calibration-repetitions", "3", "--max-repetitions", "4",
        "--amplitude", "20"]


def _children(pid: int) -> set[int]:
    """The pids of the processes whose parent is ``pid`` (/proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.add(int(entry.name))
    return out


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        kids = _children(todo.pop())
        out |= kids
        todo.extend(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Spell:
    """``neurospell spell`` as a subprocess; its output read on threads, line by line."""

    def __init__(self, out_dir, *extra):
        self.out_dir = Path(out_dir)
        cmd = [sys.executable, "-m", "neurospell", "spell", *FAST, "--out", str(out_dir), *extra]
        env = {k: v for k, v in os.environ.items() if k != PARENT_ENV}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, timeout: float = DEADLINE) -> str:
        def find():
            hit = next((ln for ln in self.out if text in ln), None)
            if hit is None and self.proc.poll() is not None:
                raise AssertionError(f"spell exited ({self.proc.returncode}) before {text!r}:\n" + self.text())
            return hit
        return _wait(find, timeout, repr(text))

    def finish(self, timeout: float = DEADLINE) -> int:
        """Wait for the exit and for every holder of its output pipes (its children) to close them."""
        rc = self.proc.wait(timeout)
        for t in self._threads:
            t.join(timeout)
            assert not t.is_alive(), "a process still holds the session's output open:\n" + self.text()
        return rc

    def text(self) -> str:
        return "\n".join(self.out) + "\n--- stderr ---\n" + "\n".join(self.err[-40:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def spell(tmp_path):
    made = []
    pids = set()

    def make(*extra):
        sp = Spell(tmp_path / f"session{len(made)}", *extra)
        made.append(sp)
        return sp

    make.pids = pids  # descendants to clean up should a test fail half-way
    yield make
    for sp in made:
        sp.kill()
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _session_children(sp: Spell, spell_fixture) -> set[int]:
    """The participant process, the training process and the resource tracker of the session."""
    def found():
        kids = _descendants(sp.proc.pid)
        lines = [_cmdline(p) for p in kids]
        if any("simulate-participant" in c for c in lines) and any("spawn_main" in c for c in lines):
            return kids
        return None
    kids = _wait(found, 60.0, "the participant and the training process")
    spell_fixture.pids |= kids
    return kids


def _runs(folder: Path) -> list[dict]:
    return json.loads((folder / "derivatives" / "neurospell" / "session.json").read_text())["runs"]


@pytest.mark.parametrize("when", ["[training]", "selected"])
def test_sigterm_stops_like_ctrl_c_and_leaves_no_process(spell, when):
    """SIGTERM while the session trains or copy-spells: the same clean stop as Ctrl-C --
    summary printed, every run finished (written to BIDS), exit status 143 -- and no process
    left behind, no semaphore leaked."""
    sp = spell("--copy", "HELLO WORLD")
    sp.wait_line("[calibration]")
    kids = _session_children(sp, spell)
    sp.wait_line(when)
    sp.proc.send_signal(signal.SIGTERM)
    rc = sp.finish()
    out = sp.text()
    assert rc == EXIT_SIGTERM, out
    assert "spell: stopping (SIGTERM)" in out and "typed text" in out, out
    assert any(ln.startswith("stopped") and "terminated (SIGTERM)" in ln for ln in sp.out), out
    assert f"session folder  {sp.out_dir}" in out, out
    runs = _runs(sp.out_dir)  # (a run stopped before its first sample is "empty": nothing recorded)
    assert runs[0]["status"] == "finished" and all(r["status"] in ("finished", "empty") for r in runs), (runs, out)
    if when == "selected":
        assert [r["status"] for r in runs] == ["finished", "finished"], runs
    assert not any("leaked" in ln or "ERROR" in ln for ln in sp.err), out
    _wait(lambda: not any(_alive(p) for p in kids), 15.0, f"the session's processes {kids} to end")


def test_sigkill_takes_the_participant_and_training_processes_along(spell):
    """kill -9 of the session: its participant process, training process and resource
    tracker end within seconds (they watch their parent)."""
    sp = spell("--copy", "HELLO WORLD")
    sp.wait_line("[calibration]")
    kids = _session_children(sp, spell)
    names = {p: _cmdline(p) for p in kids}
    sp.proc.kill()
    sp.proc.wait(10)
    t0 = time.monotonic()
    _wait(lambda: not any(_alive(p) for p in kids), 20.0,
          "the orphans to end: " + "; ".join(f"{p}: {c[:80]}" for p, c in names.items() if _alive(p)))
    print(f"\nafter SIGKILL of the session, its {len(kids)} processes ended within {time.monotonic() - t0:.2f} s")


def test_participant_death_is_reported_and_stops_the_session(spell):
    """The participant process the session started dies: the session says which process
    and its exit code, stops (summary printed) and exits with status 2 within seconds."""
    sp = spell("--copy", "HELLO WORLD")
    sp.wait_line("[calibration]")
    kids = _session_children(sp, spell)
    pid = next(p for p in kids if "simulate-participant" in _cmdline(p))
    sp.wait_line("selected")
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    rc = sp.finish(60.0)
    took = time.monotonic() - t0
    out = sp.text()
    assert rc == 2, out
    msg = f"the simulated participant process (pid {pid}) exited with code -9"
    assert any(msg in ln and "stopping the session" in ln for ln in sp.out), out
    assert any(ln.startswith("stopped") and msg in ln for ln in sp.out), out
    assert any("spell: error:" in ln and msg in ln for ln in sp.err), out
    assert all(r["status"] == "finished" for r in _runs(sp.out_dir)), _runs(sp.out_dir)
    assert took < 30.0, took
    print(f"\nparticipant killed: the session stopped and exited {took:.1f} s later")


def test_exit_with_parent_ends_an_orphan():
    """A process that watches its parent ends when the parent is killed (here: a shell that
    starts a Python child and is killed with SIGKILL)."""
    code = ("import sys, time; from neurospell.lifecycle import exit_with_parent; "
            "assert exit_with_parent(int(sys.argv[1])); print('watching', flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, os; p = subprocess.Popen([sys.executable, '-c', sys.argv[1], "
                               "str(os.getpid())]); print(p.pid, flush=True); p.wait()", code],
                              stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "watching"  # (the child's: its watch runs)
        parent.kill()
        parent.wait(10)
        _wait(lambda: not _alive(child), 10.0, "the orphan to end")
    finally:
        parent.kill()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
    assert not exit_with_parent(1)  # pid 1 is nobody's starter here: no watch


def _gui_cmd(tmp_path, *extra):
    cfg = tmp_path / "fast.toml"
    # the classic grid: a copy ends after one selection per character (the word grid's backspace lets a
    # weak calibration correct itself for minutes; its live session is tests/test_wordcells.py's)
    cfg.write_text(GUI_FAST.replace("[speller]\n", "[speller]\nword_cells = 0\n", 1))
    env = {k: v for k, v in os.environ.items() if k != PARENT_ENV}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))  # (the default session root is under $HOME)
    cmd = [sys.executable, "-m", "neurospell", "--config", str(cfg), "gui", "--demo", "--phrase", "HI",
           "--calibration-text", "AB", "--lm", "uniform", "--settings", str(tmp_path / "gui.toml"), *extra]
    return cmd, env


def test_gui_demo_ends_after_its_phrase_and_says_where_the_folder_is(tmp_path):
    """``gui --demo --exit-when-done``: the session ends after the copy phrase (no free
    spelling), the result and the session folder (the default root, said at the start) are
    printed, and the command exits 0."""
    cmd, env = _gui_cmd(tmp_path, "--exit-when-done")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    text = out.stdout + out.stderr[-3000:]
    assert out.returncode == 0, text
    root = tmp_path / "neurospell-sessions"
    assert f"session folders go to {root} (the default" in out.stdout, text
    line = next((ln for ln in out.stdout.splitlines() if "Demo finished (all phases complete)" in ln), None)
    assert line is not None and "(target 'HI')" in line and "selections" in line, text
    folders = list(root.glob("session-*"))
    assert len(folders) == 1 and line.endswith(f"Session folder: {folders[0]}"), (folders, text)
    log = [json.loads(ln) for ln in (folders[0] / "derivatives" / "neurospell" / "decisions.jsonl").read_text()
           .splitlines()]
    phases = [r["name"] for r in log if r["type"] == "phase"]
    assert phases == ["calibration", "copy"], phases  # no free spelling after the phrase
    decisions = [r for r in log if r["type"] == "decision"]
    assert decisions and all(r.get("phase") == "copy" for r in decisions), decisions[:3]
    assert all(r["status"] == "finished" for r in _runs(folders[0]))
    assert "typed" in out.stdout and "(stopped)" in out.stdout, text


def test_gui_sigterm_closes_the_window_and_its_processes(tmp_path, spell):
    """SIGTERM to ``neurospell gui``: the window closes as with its close button (the session
    and the participant process stop), exit status 143."""
    cmd, env = _gui_cmd(tmp_path)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def participant():
            kids = _descendants(proc.pid)
            if proc.poll() is not None:
                raise AssertionError(f"gui exited ({proc.returncode}): {proc.communicate()}")
            return {p for p in kids if "simulate-participant" in _cmdline(p)}
        kids = _wait(participant, 90.0, "the participant process")
        spell.pids |= kids
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_SIGTERM, stdout + stderr[-3000:]
    assert "closed by SIGTERM" in stderr, stderr[-3000:]
    _wait(lambda: not any(_alive(p) for p in kids), 15.0, "the participant process to end")


def test_gui_says_when_its_participant_process_dies(tmp_path, spell):
    """The participant process the window started dies during calibration: the window stops
    the session and says which process exited with which code (printed with --exit-when-done)."""
    cmd, env = _gui_cmd(tmp_path, "--exit-when-done")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def participant():
            if proc.poll() is not None:
                raise AssertionError(f"gui exited ({proc.returncode}): {proc.communicate()}")
            return next((p for p in _descendants(proc.pid) if "simulate-participant" in _cmdline(p)), None)
        pid = _wait(participant, 90.0, "the participant process")
        spell.pids.add(pid)

        def calibrating():
            found = list((tmp_path / "neurospell-sessions").glob("session-*/derivatives/neurospell/session.json"))
            return found and json.loads(found[0].read_text())["runs"]
        _wait(calibrating, 90.0, "the calibration run")
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    msg = f"the simulated participant process (pid {pid}) exited with code -9"
    assert f"Demo finished ({msg}" in stdout, stdout + stderr[-3000:]
