"""A participant process and a session find each other's streams over real LSL (loopback), and
each says within seconds when they do not (neurospell.session.markerlink)."""

import subprocess
import sys
import uuid

from helpers.participant_proc import ParticipantCommand

from neurospell.acquisition import LslMarkerOutlet
from neurospell.session.markerlink import (
    MARKER_PREFIX,
    followed_marker_stream,
    marker_link_problem,
    session_source_id,
)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


_PUBLISHER = """
import sys
from neurospell.config import load_config
from neurospell.lsl import configure_lsl
configure_lsl(load_config(sys.argv[1]).lsl)
from neurospell.acquisition import LslMarkerOutlet
outlets = {}
print("ready", flush=True)
for line in sys.stdin:
    cmd, name, *rest = line.split()
    if cmd == "open":
        outlets[name] = LslMarkerOutlet(name, source_id=rest[0] if rest else None)
    else:
        outlets.pop(name).close()
    print("done", cmd, name, flush=True)
"""


class _Publisher:
    """Marker streams published by another process in an LSL session of their own (``[lsl]
    session_id``), with the participant: no other session on this machine is seen."""

    def __init__(self, config):
        self.proc = subprocess.Popen([sys.executable, "-c", _PUBLISHER, str(config)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def do(self, *words):
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().split()[:2] == ["done", words[0]]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(20)


def test_participant_without_marker_stream_follows_the_sessions_and_says_when_it_is_silent(tmp_path):
    uid = _uid()
    config = tmp_path / "lsl.toml"
    config.write_text(f'[lsl]\nsession_id = "markerlink-{uid}"\n')
    pub = _Publisher(config)
    first, later = f"{MARKER_PREFIX}-{uid}", f"{MARKER_PREFIX}-{uid}-later"
    p = None
    try:
        pub.do("open", first)
        p = ParticipantCommand("--name", f"pp-{uid}", "--phrase", "A", "--duration", 60, config=config)
        assert f"reading markers from {first!r}" in p.wait_for("reading markers from", timeout=30)
        # connected, but the session sends nothing: said within seconds
        assert first in p.wait_for("WARNING: no marker received", timeout=30)
        # a session started later (the participant was started first while an older one ran) wins
        pub.do("open", later)
        assert "switching from" in p.wait_for("WARNING: a newer marker stream appeared", timeout=30)
        p.wait_for(f"reading markers from {later!r}", timeout=30)
        # another session's stream ended: the participant looks for another instead of stopping
        pub.do("close", later)
        assert "looking for another" in p.wait_for(f"WARNING: the marker stream {later!r} ended", timeout=30)
        assert p.proc.poll() is None
        # a session that reads this participant's EEG wins over any other, and its end ends the participant
        mine = f"{MARKER_PREFIX}-{uid}-mine"
        pub.do("open", mine, session_source_id(mine, f"pp-{uid}"))
        p.wait_for(f"reading markers from {mine!r}", timeout=30)
        pub.do("close", mine)
        assert p.wait_exit(30) == 0
    finally:
        if p is not None:
            p.kill()
        pub.close()


def test_the_eeg_stream_says_which_marker_stream_the_participant_follows():
    uid = _uid()
    mine = f"{MARKER_PREFIX}-{uid}-mine"
    with LslMarkerOutlet(mine, source_id=session_source_id(mine, f"pa-{uid}")) as mk, \
            LslMarkerOutlet(f"{MARKER_PREFIX}-{uid}-newer"):
        p = ParticipantCommand("--name", f"pa-{uid}", "--phrase", "A", "--duration", 40)
        try:
            # the session that reads this participant's EEG, not the newer one
            assert f"reading markers from {mine!r}" in p.wait_for("reading markers from", timeout=30)
            assert mk.wait_for_consumers(10)
            assert followed_marker_stream(f"pa-{uid}") == "*"
            assert marker_link_problem(f"pa-{uid}", mk.name) is None
            problem = marker_link_problem(f"pa-{uid}", f"other-{uid}")
            assert problem is not None and "no response" in problem
        finally:
            p.kill()


def test_participant_waiting_for_a_missing_marker_stream_names_the_ones_it_sees():
    uid = _uid()
    with LslMarkerOutlet(f"mk-{uid}"):
        p = ParticipantCommand("--name", f"pw-{uid}", "--phrase", "A", "--marker-stream", f"absent-{uid}",
                               "--duration", 40)
        try:
            line = p.wait_for("WARNING: no marker stream", timeout=30)
            assert f"'absent-{uid}'" in line and f"'mk-{uid}'" in line and "--marker-stream" in line
            # a session publishing another marker stream is told that its flashes get no response
            problem = marker_link_problem(f"pw-{uid}", f"{MARKER_PREFIX}-{uid}")
            assert problem is not None and f"absent-{uid}" in problem and f"--marker-stream {MARKER_PREFIX}-{uid}" in problem
            assert marker_link_problem(f"pw-{uid}", f"absent-{uid}") is None
        finally:
            p.kill()


def test_a_stream_that_is_not_a_simulated_participant_says_nothing():
    assert followed_marker_stream(f"nothing-{_uid()}", timeout=0.5) is None
