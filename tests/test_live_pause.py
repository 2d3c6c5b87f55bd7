"""The live session's pause state (no LSL): three causes, and the pauses that ended."""

from neurospell.session.live.pause import PauseState


class Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_each_cause_blocks_until_it_ends():
    clock = Clock()
    p = PauseState(clock)
    assert not p.blocked()
    assert p.pause_user() and p.blocked()
    assert not p.pause_user()  # already paused by the user: not a new pause
    assert p.resume_user() and not p.blocked()
    assert not p.resume_user()  # nothing to resume
    assert p.source_lost("no samples") == 100.0 and p.blocked()
    assert p.markers_lost("no echo") == 100.0
    p.source_back()
    assert p.blocked()  # the markers still have a problem
    p.markers_back()
    assert not p.blocked()


def test_source_pause_keeps_its_start_and_latest_reason():
    clock = Clock(10.0)
    p = PauseState(clock)
    assert p.source_lost("silent for 1 s") == 10.0
    clock.t = 11.0
    assert p.source_lost("the acquisition thread stopped") is None  # the same pause, a new reason
    assert p.source_problem == "the acquisition thread stopped"
    clock.t = 13.5
    t, duration = p.source_back()
    assert (t, duration) == (13.5, 3.5)
    assert p.pauses == [{"t": 10.0, "duration": 3.5, "reason": "the acquisition thread stopped"}]
    assert p.source_problem is None


def test_marker_pauses_are_recorded_in_order_with_the_source_ones():
    clock = Clock(1.0)
    p = PauseState(clock)
    p.markers_lost("no consumer")
    clock.t = 3.0
    assert p.markers_back() == (3.0, 2.0)
    p.source_lost("gone")
    clock.t = 4.0
    p.source_back()
    assert [q["reason"] for q in p.pauses] == ["no consumer", "gone"]
    assert [q["duration"] for q in p.pauses] == [2.0, 1.0]
    assert not p.by_user and p.marker_problem is None and p.source_problem is None
