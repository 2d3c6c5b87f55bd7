"""Whether the markers a live session sends reach the recording: the echo watchdog.

With a ``marker_outlet`` the session learns which flashes happened only from the markers its
source reads back from that stream (an ``LslSource`` with ``marker_name=`` the outlet's
name, possibly through a relay): they are what is recorded and epoched. A flash whose marker
does not come back is a flash nobody recorded. LSL's ``have_consumers()`` only says whether
*some* inlet is connected -- a participant process or a display reading the stream keeps it
true when the recording's own reader is gone -- so the session checks both:

- no consumer at all on the outlet, or
- a flash or trial marker sent that has not come back through the source within
  :attr:`MarkerWatch.timeout` seconds (the session's ``marker_timeout``,
  ``max(1, 2 * [speller] pause_after)``; on loopback markers come back within
  milliseconds).

Then it pauses flashing (the flashes scheduled are cancelled), says why in the
snapshot (``phase="paused"``, ``marker_problem`` and ``status``: which stream and what
to do), and writes a ``pause`` record (``"cause": "markers"``) to the decision log.
Every flash whose marker did not come back within the bound is counted as discarded
(``n_discarded``) and logged (``marker_lost``); it is never scored: should it arrive
later it is dropped before the recorder and the epocher. While paused the session sends
a probe marker (``neurospell-probe:<n>``, ignored by readers) every
0.25 s when the stream has a consumer; the first one (or any tracked marker) that comes
back through the source resumes flashing (a ``resume`` record). A :class:`~neurospell.session.live.Resume`
resumes at once (the bound applies again to the next flashes). If the trial marker of
the open selection was lost, it is sent again on resuming so the flashes to come count
for that selection. Nothing here sleeps: the checks run in the worker's loop.

:class:`MarkerWatch` does it; the clocks and the outlet (anything with
``push(label, timestamp)``, ``have_consumers()`` and ``name``) are injected, so it runs
without LSL in the unit tests. It keeps the markers' pause in the session's
:class:`~neurospell.session.live.pause.PauseState`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from neurospell.logs import logger
from neurospell.lsl import local_clock

from .pause import PauseState

__all__ = ["MarkerWatch", "PROBE", "PROBE_EVERY", "ECHO_TOL"]

#: Label prefix of the probe markers sent while markers do not reach the recording.
PROBE = "neurospell-probe:"
#: Seconds between probe markers.
PROBE_EVERY = 0.25
#: Seconds a marker read back may differ from the time it was sent with (LSL clock sync).
ECHO_TOL = 0.005


def _ignore(*_args) -> None:
    pass


class MarkerWatch:
    """Send markers on an outlet and check that they come back through the source.

    Parameters
    ----------
    outlet : object | None
        The marker outlet (``push(label, timestamp)``, ``have_consumers()``, ``name``);
        ``None``: no outlet, nothing to watch (:meth:`echo` passes markers through).
    pause : PauseState
        Where the markers' problem is kept.
    timeout : float
        Seconds a flash or trial marker may take to come back before it counts as lost.
    phase : callable ``() -> str``
        The session's phase (``"calibration"``, ``"copy"``, ``"free"`` flash).
    source : object
        The source that reads the markers back (named in the messages).
    log : callable ``(dict) -> None``
        Writes a record to the decision log (``marker_lost``, ``pause``, ``resume``).
    on_pause, on_resume : callable ``(str) -> None``
        Called after the markers' pause starts (with its message) and ends.
    on_discard : callable ``() -> None``
        Called when a flash is counted as not recorded.
    clock : callable ``() -> float``
        Monotonic seconds (the timeouts).
    lsl_clock : callable ``() -> float``
        The time stamps of the probes and of a trial marker sent again.
    """

    def __init__(self, outlet, pause: PauseState, *, timeout: float, phase: Callable[[], str], source=None,
                 log: Callable[[dict], None] = _ignore, on_pause: Callable[[str], None] = _ignore,
                 on_resume: Callable[[str], None] = _ignore, on_discard: Callable[[], None] = _ignore,
                 clock: Callable[[], float] = time.monotonic, lsl_clock: Callable[[], float] = local_clock):
        self.outlet = outlet
        self.pause = pause
        self.timeout = float(timeout)
        self.phase = phase
        self.source = source
        self._log = log
        self._on_pause = on_pause
        self._on_resume = on_resume
        self._on_discard = on_discard
        self.clock = clock
        self.lsl_clock = lsl_clock
        self._pending: deque = deque()  # [label, onset, sent (monotonic), kind, spelling]
        self._lost: deque = deque(maxlen=1024)  # (label, onset) declared lost
        #: Flashes not recorded: in all, in the current phase, in the current spelling run.
        self.n_lost = 0
        self.n_lost_phase = 0
        self.n_spell_lost_run = 0
        self._last_trial: str | None = None
        self._resend_trial = False
        self._probe: str | None = None
        self._probe_t = 0.0
        self._n_probes = 0

    @property
    def n_pending(self) -> int:
        """Flash and trial markers sent and not read back yet."""
        return len(self._pending)

    def send(self, label: str, timestamp: float | None) -> None:
        """Push a marker on the outlet; a flash or trial marker is watched until it comes back."""
        self.outlet.push(label, timestamp)
        kind = "flash" if label.startswith("flash:") else "trial" if label.startswith("trial:") else None
        if kind is None:
            return
        if kind == "trial":
            self._last_trial = label
        self._pending.append([label, timestamp, self.clock(), kind, self.phase() in ("copy", "free")])

    def echo(self, markers):
        """Match the markers the source read against those sent; drop probes and markers
        already counted as not recorded (so they are neither recorded nor scored late)."""
        if not markers or (not self._pending and not self._lost and self._probe is None):
            return markers
        kept = []
        for m in markers:
            label = m.label or ""
            if label.startswith(PROBE):
                if label == self._probe and self.pause.marker_problem is not None:
                    self.resume(f"the probe marker {label!r} came back through {self.source}")
                continue
            if label.startswith(("flash:", "trial:")):
                pending = self._pending
                i = next((i for i, (lab, t, *_rest) in enumerate(pending)
                          if lab == label and (t is None or abs(t - m.timestamp) < ECHO_TOL)), None)
                if i is None:  # its time changed on the way (an inlet's monotonize): the first of its label
                    i = next((i for i, (lab, *_rest) in enumerate(pending) if lab == label), None)
                if i is not None:
                    for _ in range(i):  # sent before it and never read: the reader changed in between
                        self._lose(pending.popleft(), "it was skipped (the marker reader was replaced)")
                    pending.popleft()
                    if self.pause.marker_problem is not None:
                        self.resume(f"the marker {label!r} came back through {self.source}")
                elif any(lab == label and (t is None or abs(t - m.timestamp) < ECHO_TOL)
                         for lab, t in self._lost):
                    continue  # counted as not recorded already
            kept.append(m)
        return kept

    def _lose(self, entry, why: str) -> None:
        label, onset, _sent, kind, spelling = entry
        self._lost.append((label, onset))
        self._log({"type": "marker_lost", "t": onset, "label": label, "reason": why})
        if kind == "trial":
            self._resend_trial = self._resend_trial or label == self._last_trial
            return
        self.n_lost += 1
        self.n_lost_phase += 1
        self.n_spell_lost_run += int(bool(spelling))
        self._on_discard()

    def lose_pending(self, why: str) -> None:
        """Count every marker not read back yet as lost (the reader that would read it died)."""
        while self._pending:
            self._lose(self._pending.popleft(), why)

    def check(self) -> None:
        """Pause when the markers sent stop reaching the recording; probe until they do again."""
        out = self.outlet
        if out is None or self.pause.source_problem is not None:
            return
        now = self.clock()
        flashing = self.phase() in ("calibration", "copy", "free")
        name = getattr(out, "name", str(out))
        if self.pause.marker_problem is None and flashing:
            why = None
            if not out.have_consumers():
                why = f"nothing reads the marker stream {name!r} any more (it has no consumer)"
            elif self._pending and now - self._pending[0][2] > self.timeout:
                why = (f"the markers sent on the stream {name!r} have not come back through {self.source} "
                       f"within {self.timeout:g} s: the recording no longer gets them")
        else:
            why = None
        while self._pending and now - self._pending[0][2] > self.timeout:
            self._lose(self._pending.popleft(), f"not read back within {self.timeout:g} s")
        if why is not None:
            self._markers_lost(why, name)
        if self.pause.marker_problem is not None and now - self._probe_t > PROBE_EVERY and out.have_consumers():
            # markers flow again once one comes back through the source: send a probe
            self._n_probes += 1
            self._probe = f"{PROBE}{self._n_probes}"
            self._probe_t = now
            out.push(self._probe, self.lsl_clock())
        elif self.pause.marker_problem is None and self._resend_trial and self._last_trial is not None:
            self._resend_trial = False
            self.send(self._last_trial, self.lsl_clock())

    def _markers_lost(self, why: str, name: str) -> None:
        msg = (f"{why}. Flashing is paused; flashes whose markers were not recorded are not scored (counted "
               f"as discarded). Check the program that reads and records the marker stream {name!r} (here "
               f"{self.source}, through any relay in between) and restart it if it stopped: flashing resumes by "
               "itself once markers come back, or on Resume.")
        logger.warning("LiveSession: pausing: %s", msg)
        t0 = self.pause.markers_lost(msg)
        self._probe_t = 0.0
        self._log({"type": "pause", "t": t0, "reason": msg, "cause": "markers", "stream": name})
        self._on_pause(msg)

    def resume(self, how: str) -> None:
        """Markers reach the recording again (``how``: what showed it), or the user resumed."""
        t, duration = self.pause.markers_back()
        self._log({"type": "resume", "t": t, "cause": "markers", "how": how})
        logger.warning("LiveSession: markers reach the recording again (%s) after %.1f s; resuming.", how, duration)
        self._probe = None
        for entry in self._pending:  # a fresh bound from now
            entry[2] = self.clock()
        if self._resend_trial and self._last_trial is not None:
            # the open selection's trial marker was not recorded: send it again, so that the
            # flashes to come are counted for this selection
            self._resend_trial = False
            self.send(self._last_trial, self.lsl_clock())
        self._on_resume("resumed: the markers reach the recording again")

    def new_phase(self) -> None:
        """A phase starts: :attr:`n_lost_phase` from 0."""
        self.n_lost_phase = 0

    def new_run(self) -> None:
        """A spelling run starts: :attr:`n_spell_lost_run` from 0."""
        self.n_spell_lost_run = 0
