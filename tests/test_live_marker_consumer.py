"""Fault: the consumer that records the session's markers disappears mid-phrase (real LSL).

Topology (a lab's, on loopback, real processes): the session pushes its markers on an LSL
outlet; the simulated participant reads that stream directly, and a relay process
re-publishes it (same timestamps) on a second stream, which the session's LslSource reads
with the EEG -- the recording. Killing the relay leaves the outlet with a consumer (the
participant), so ``have_consumers()`` stays true: only the markers not coming back tell
the session that nothing records them. No mocks, no fixed sleeps (deadlines).
"""

import contextlib
import dataclasses
import subprocess
import sys
import time
import uuid

import pytest
from test_live import _wait as _wait_live

from neurospell.acquisition import LslMarkerOutlet, LslSource
from neurospell.config import Config
from neurospell.lsl import get_pylsl
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live import LiveSession, Resume, Start, Stop
from neurospell.session.sessiondir import SessionFolder, replay_session
from neurospell.session.simulator import ParticipantProcess

DEADLINE = 150.0

# a marker relay: reads stream argv[1], re-publishes every marker on argv[2] with its timestamp
RELAY = r"""
import sys
from neurospell.acquisition import LslMarkerOutlet
from neurospell.lsl import get_pylsl
pylsl = get_pylsl()
found = pylsl.resolve_bypred(f"name='{sys.argv[1]}'", 1, 30.0)
inlet = pylsl.StreamInlet(found[0], max_buflen=30, recover=False, processing_flags=pylsl.proc_clocksync)
inlet.open_stream(10.0)
out = LslMarkerOutlet(sys.argv[2])
print("relay: ready", flush=True)
while True:
    value, ts = inlet.pull_sample(timeout=0.5)
    if value is not None:
        out.push(value[0], ts)
"""


class Relay:
    """The relay process (the recording's marker consumer)."""

    def __init__(self, src: str, dst: str, timeout: float = 60.0):
        self.proc = subprocess.Popen([sys.executable, "-c", RELAY, src, dst], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        line = ""
        while "relay: ready" not in line:  # readline blocks until the process prints or exits
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the marker relay did not start: {line!r}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _wait(predicate, session, timeout=DEADLINE, what="condition"):
    _wait_live(predicate, session, timeout=timeout, what=what)


def test_marker_consumer_killed_and_restarted_mid_phrase(tmp_path):
    get_pylsl()
    base = Config()
    cfg = dataclasses.replace(
        base, decoder=dataclasses.replace(base.decoder, name="lda"),
        speller=dataclasses.replace(base.speller, soa=0.15, flash_duration=0.05, inter_trial=0.2,
                                    calibration_repetitions=2, max_repetitions=4, min_repetitions=2,
                                    pause_after=0.5, max_minutes=4.0))
    uid = uuid.uuid4().hex[:8]
    markers, recorded = f"test-mc-markers-{uid}", f"test-mc-relayed-{uid}"
    phrase = "HELLO"
    outlet = LslMarkerOutlet(markers)
    part = ParticipantProcess(phrase, markers, args=("--seed", 5, "--amplitude", 40))
    relays = [Relay(markers, recorded)]
    source = LslSource(part.name, marker_name=recorded, timeout=30.0)
    display = s = None
    try:
        source.start()
        assert part.wait_connected(60.0), part.lines
        folder = SessionFolder.create(tmp_path / "sess", config=cfg)
        display = HeadlessDisplay.from_config(cfg.speller)
        s = LiveSession(cfg, source, display, marker_outlet=outlet, calibration_text="BCIX", copy_text=phrase,
                        folder=folder, seed=1)
        s.start()
        s.submit(Start())
        _wait(lambda: s.snapshot().phase == "copy" and s.snapshot().n_decisions >= 1, s, what="the first decision")
        # mid-phrase: the process that records the markers is killed
        relays[0].kill()
        assert outlet.have_consumers()  # the participant still reads them: LSL alone cannot tell
        _wait(lambda: s.snapshot().marker_problem is not None, s, 30.0, "the session to notice")
        snap = s.snapshot()
        assert snap.phase == "paused", snap
        assert markers in snap.marker_problem and "Resume" in snap.marker_problem, snap.marker_problem
        assert snap.status.startswith("paused:") and markers in snap.status
        # the flashes sent since the relay died are not recorded: each counts as discarded
        # once its marker has not come back within the bound
        _wait(lambda: s.snapshot().n_discarded > 0, s, 10.0, "the lost flashes to be counted")
        n_paused = snap.n_flashes
        t_watch = time.monotonic() + 1.0
        while time.monotonic() < t_watch:  # no flash while paused
            assert s.snapshot().n_flashes == n_paused
            time.sleep(0.02)
        # a user's Resume tries again at once; the markers still do not come back: paused again
        s.submit(Resume())
        _wait(lambda: s.snapshot().marker_problem is None, s, 10.0, "the user's Resume")
        _wait(lambda: s.snapshot().marker_problem is not None, s, 30.0, "the pause to come back")
        assert s.snapshot().phase == "paused"
        # the consumer is back: the session resumes by itself
        relays.append(Relay(markers, recorded))
        _wait(lambda: s.snapshot().marker_problem is None, s, 60.0, "the session to resume")
        _wait(lambda: s.snapshot().phase in ("stopped", "error"), s, what="the session to end")
        res = s.join(10.0)
    finally:
        if s is not None and s.running:
            s.submit(Stop())
            with contextlib.suppress(Exception):  # the test's own failure is the one to report
                s.join(30.0)
        if display is not None:
            display.close()
        source.stop()
        for r in relays:
            r.kill()
        part.close()
        outlet.close()
    # the phrase was completed after the pause
    assert res.stop_reason == "all phases complete", res.stop_reason
    assert len(res.text) == len(phrase) and res.accuracy >= 0.8, (res.text, res.decisions)
    assert s.snapshot().n_flashes > n_paused
    pauses = [p for p in res.pauses if markers in (p["reason"] or "")]
    assert len(pauses) == 2 and all(p["duration"] > 0 for p in pauses), res.pauses
    # the decision log: the pause and its reason, the lost flashes, the resumption
    log = SessionFolder.open(tmp_path / "sess").read_log()
    kinds = [(r["type"], r.get("cause")) for r in log]
    assert ("pause", "markers") in kinds and ("resume", "markers") in kinds
    assert kinds.index(("pause", "markers")) < kinds.index(("resume", "markers"))
    assert [r.get("how") for r in log if r["type"] == "resume" and r.get("cause") == "markers"][0] == \
        "the user resumed"
    lost = [r for r in log if r["type"] == "marker_lost" and r["label"].startswith("flash:")]
    assert lost and res.n_discarded >= len(lost)
    print(f"\n{len(lost)} flash markers lost, pauses {[round(p['duration'], 2) for p in pauses]} s, "
          f"{res.n_scored} scored of {res.n_flashes} spelling flashes, text {res.text!r}")
    # no flash is scored without its recorded marker: none of the lost ones, and the
    # spelling run's recording holds a marker for every scored flash
    scored = [r for r in log if r["type"] == "flash" and r.get("task") == "spelling"]
    lost_t = {round(r["t"], 4) for r in lost}
    assert not [r for r in scored if round(r["t"], 4) in lost_t]
    raw = SessionFolder.open(tmp_path / "sess").read_raw("spelling", 1)
    n_recorded = sum(str(d).startswith("flash") for d in raw.annotations.description)
    assert len(scored) == res.n_scored <= n_recorded
    n_lost_spelling = sum(1 for r in lost if r.get("task") == "spelling")
    assert n_recorded + n_lost_spelling == res.n_flashes, (n_recorded, n_lost_spelling, res.n_flashes)
    # and the recording replays to the same decisions
    report = replay_session(tmp_path / "sess")
    assert report.reproduced, "\n".join(report.lines())
