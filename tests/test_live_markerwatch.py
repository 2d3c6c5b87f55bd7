"""The marker-echo watchdog (no LSL): a fake clock, a fake outlet, markers as the source reads them."""

from neurospell.session.live.markerwatch import PROBE, PROBE_EVERY, MarkerWatch
from neurospell.session.live.pause import PauseState
from neurospell.types import MarkerEvent

TIMEOUT = 1.0


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Outlet:
    """What the watch needs of an outlet: push, have_consumers, name."""

    name = "test-markers"

    def __init__(self):
        self.pushed = []
        self.consumers = True

    def push(self, label, timestamp=None):
        self.pushed.append((label, timestamp))

    def have_consumers(self):
        return self.consumers


def _marker(label, t):
    return MarkerEvent(t, 0, label)


def _watch(phase="copy"):
    clock, outlet = Clock(), Outlet()
    pause = PauseState(clock)
    events = {"log": [], "paused": [], "resumed": [], "discarded": 0}

    def discard():
        events["discarded"] += 1

    watch = MarkerWatch(outlet, pause, timeout=TIMEOUT, phase=lambda: phase, source="the source",
                        log=events["log"].append, on_pause=events["paused"].append,
                        on_resume=events["resumed"].append, on_discard=discard, clock=clock, lsl_clock=clock)
    return watch, clock, outlet, pause, events


def test_markers_echoed_in_time_pass_through_and_nothing_pauses():
    watch, clock, outlet, pause, events = _watch()
    watch.send("trial:1", 5.0)
    watch.send("flash:3", 5.1)
    assert outlet.pushed == [("trial:1", 5.0), ("flash:3", 5.1)]
    assert watch.n_pending == 2
    read = [_marker("trial:1", 5.0), _marker("flash:3", 5.1), _marker("text:AB", 5.2)]
    assert watch.echo(read) == read  # recorded and scored as read
    assert watch.n_pending == 0
    clock.t = 10 * TIMEOUT
    watch.check()
    assert not pause.blocked() and watch.n_lost == 0 and events["paused"] == []


def test_a_marker_not_echoed_in_time_is_lost_and_pauses():
    watch, clock, outlet, pause, events = _watch()
    watch.send("flash:2", 7.0)
    clock.t = TIMEOUT * 0.9
    watch.check()
    assert not pause.blocked()  # within the bound
    clock.t = TIMEOUT * 1.1
    watch.check()
    assert pause.marker_problem is not None and pause.blocked()
    assert "test-markers" in pause.marker_problem and "have not come back" in pause.marker_problem
    assert watch.n_lost == watch.n_lost_phase == watch.n_spell_lost_run == 1 and events["discarded"] == 1
    assert [r["type"] for r in events["log"]] == ["marker_lost", "pause"]
    assert events["log"][1]["cause"] == "markers" and events["paused"] == [pause.marker_problem]
    # paused: a probe goes out at once (an outlet with a consumer), then one per PROBE_EVERY
    assert outlet.pushed[-1][0] == f"{PROBE}1"
    clock.t += PROBE_EVERY / 2
    watch.check()
    assert outlet.pushed[-1][0] == f"{PROBE}1"
    clock.t += PROBE_EVERY
    watch.check()
    assert outlet.pushed[-1][0] == f"{PROBE}2"


def test_no_consumer_pauses_at_once_and_probes_wait_for_one():
    watch, clock, outlet, pause, events = _watch()
    outlet.consumers = False
    watch.check()
    assert "no consumer" in pause.marker_problem
    n = len(outlet.pushed)
    clock.t += 2 * PROBE_EVERY
    watch.check()
    assert len(outlet.pushed) == n  # nobody to probe
    outlet.consumers = True
    watch.check()
    assert outlet.pushed[-1][0].startswith(PROBE)


def test_a_probe_coming_back_resumes_and_the_open_trial_is_sent_again():
    watch, clock, outlet, pause, events = _watch()
    watch.send("trial:4", 1.0)
    clock.t = 2 * TIMEOUT
    watch.check()  # the trial marker is lost: paused, probing
    assert pause.blocked() and watch.n_lost == 0  # a trial marker is not a discarded flash
    probe = outlet.pushed[-1][0]
    assert probe.startswith(PROBE)
    clock.t += 0.5
    assert watch.echo([_marker(probe, clock.t)]) == []  # a probe is never recorded
    assert not pause.blocked() and events["resumed"]
    assert pause.pauses[0]["duration"] == 0.5
    assert outlet.pushed[-1] == ("trial:4", clock.t)  # the open selection's trial marker again
    assert watch.n_pending == 1
    assert [r["type"] for r in events["log"]] == ["marker_lost", "pause", "resume"]


def test_a_stale_probe_does_not_resume():
    watch, clock, outlet, pause, events = _watch()
    outlet.consumers = False
    watch.check()
    outlet.consumers = True
    clock.t += 1.0
    watch.check()
    clock.t += 1.0
    watch.check()  # probe 2 replaces probe 1
    assert watch.echo([_marker(f"{PROBE}1", 0.0)]) == []
    assert pause.blocked()
    watch.echo([_marker(f"{PROBE}2", 0.0)])
    assert not pause.blocked()


def test_a_late_echo_of_a_lost_marker_is_dropped():
    watch, clock, outlet, pause, events = _watch()
    watch.send("flash:5", 3.0)
    clock.t = 2 * TIMEOUT
    watch.check()
    assert watch.n_lost == 1
    late = [_marker("flash:5", 3.0), _marker("flash:5", 9.0)]
    kept = watch.echo(late)
    assert kept == [late[1]]  # the lost one is dropped; another flash of that label is not
    assert watch.n_lost == 1


def test_a_marker_read_after_later_ones_loses_the_skipped_ones():
    watch, clock, outlet, pause, events = _watch(phase="calibration")
    watch.send("flash:1", 1.0)
    watch.send("flash:2", 1.1)
    assert watch.echo([_marker("flash:2", 1.1)]) == [_marker("flash:2", 1.1)]
    assert watch.n_lost == 1 and watch.n_spell_lost_run == 0  # (calibration: not a spelling flash)
    assert events["log"][0]["label"] == "flash:1" and "skipped" in events["log"][0]["reason"]


def test_outside_the_flashing_phases_nothing_pauses_and_lost_pending_are_counted():
    watch, clock, outlet, pause, events = _watch(phase="training")
    outlet.consumers = False
    watch.check()
    assert not pause.blocked()
    watch.send("flash:1", 1.0)
    watch.lose_pending("the reader died")
    assert watch.n_lost == 1 and watch.n_pending == 0
    watch.new_phase()
    watch.new_run()
    assert watch.n_lost_phase == 0 and watch.n_spell_lost_run == 0 and watch.n_lost == 1


def test_no_check_while_the_source_has_a_problem_and_a_user_resume():
    watch, clock, outlet, pause, events = _watch()
    pause.source_lost("no samples")
    watch.send("flash:1", 1.0)
    clock.t = 5 * TIMEOUT
    watch.check()
    assert pause.marker_problem is None and watch.n_lost == 0  # the source's pause explains it
    pause.source_back()
    watch.check()
    assert pause.marker_problem is not None
    watch.resume("the user resumed")
    assert pause.marker_problem is None and events["log"][-1]["how"] == "the user resumed"
