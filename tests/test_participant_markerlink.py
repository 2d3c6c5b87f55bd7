"""A participant process and a session find each other's streams over real LSL (loopback), and
each says within seconds when they do not (neurospell.session.markerlink)."""

import uuid

from helpers.participant_proc import ParticipantProcess

from neurospell.acquisition import LslMarkerOutlet
from neurospell.session.markerlink import (
    MARKER_PREFIX,
    followed_marker_stream,
    marker_link_problem,
    session_source_id,
)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def test_participant_without_marker_stream_follows_the_sessions_and_says_when_it_is_silent():
    uid = _uid()
    with LslMarkerOutlet(f"{MARKER_PREFIX}-{uid}") as mk:
        p = ParticipantProcess("--name", f"pp-{uid}", "--phrase", "A", "--duration", 40)
        try:
            assert f"reading markers from {mk.name!r}" in p.wait_for("reading markers from", timeout=30)
            assert mk.wait_for_consumers(10)
            # the EEG stream says which marker streams it follows: the session's name matches
            assert followed_marker_stream(f"pp-{uid}") == "*"
            assert marker_link_problem(f"pp-{uid}", mk.name) is None
            problem = marker_link_problem(f"pp-{uid}", f"other-{uid}")
            assert problem is not None and "no response" in problem
            # connected, but the session sends nothing: said within seconds
            line = p.wait_for("WARNING: no marker received", timeout=30)
            assert mk.name in line
            # a session started later (the participant was started first while an older one ran) wins
            with LslMarkerOutlet(f"{MARKER_PREFIX}-{uid}-later") as later:
                assert "switching from" in p.wait_for("WARNING: a newer marker stream appeared", timeout=30)
                assert f"reading markers from {later.name!r}" in p.wait_for(f"reading markers from {later.name!r}",
                                                                            timeout=30)
                assert later.wait_for_consumers(10)
        finally:
            p.kill()


def test_participant_waiting_for_a_missing_marker_stream_names_the_ones_it_sees():
    uid = _uid()
    with LslMarkerOutlet(f"mk-{uid}"):
        p = ParticipantProcess("--name", f"pw-{uid}", "--phrase", "A", "--marker-stream", f"absent-{uid}",
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


def test_participant_follows_the_session_that_reads_its_eeg_over_a_newer_one():
    uid = _uid()
    mine = f"{MARKER_PREFIX}-{uid}-mine"
    with LslMarkerOutlet(mine, source_id=session_source_id(mine, f"pa-{uid}")) as mk, \
            LslMarkerOutlet(f"{MARKER_PREFIX}-{uid}-newer"):
        p = ParticipantProcess("--name", f"pa-{uid}", "--phrase", "A", "--duration", 40)
        try:
            assert f"reading markers from {mine!r}" in p.wait_for("reading markers from", timeout=30)
            assert mk.wait_for_consumers(10)
        finally:
            p.kill()
