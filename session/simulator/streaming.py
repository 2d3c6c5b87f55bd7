"""The simulated participant's real-time loop: read a session's markers, stream EEG over LSL.

:class:`StreamingParticipant` answers every flash as the person (:class:`~.intention.Intention`)
would, with a generator's EEG locked to the marker's LSL timestamp (the flash onset the display
reported), not to its arrival time; ``neurospell simulate-participant`` runs it in a process.
"""

from __future__ import annotations

import math
import signal
import threading

import numpy as np

from neurospell.acquisition import LslEegOutlet
from neurospell.check import check_positive, validate_type
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.markers import parse_flash

from ..markerlink import MarkerStreamFinder
from .intention import Intention
from .synthesis import ScheduledFlash

__all__ = ["StreamingParticipant"]


class StreamingParticipant:
    """The real-time loop: read markers, publish EEG answering each flash at its timestamp.

    Sample ``i`` has the LSL timestamp ``t0 + i / sfreq``; it is published once the clock
    passes that time plus ``lookahead`` (chunks of ``1/32`` s). A flash marker with LSL time
    ``tm`` becomes a :class:`ScheduledFlash` at sample ``(tm - t0) * sfreq``: its response
    is added to samples not yet published, so a marker that arrives up to ``lookahead``
    seconds after its onset is answered in full; a later one only from the first
    unpublished sample on (counted in :attr:`n_late`, logged).

    Parameters
    ----------
    generator : ParametricGenerator | RecordingGenerator
    intention : Intention
    name : str
        Name of the EEG stream published.
    marker_stream : str | None
        Name of the marker stream read (waited for; when it disappears, the loop ends);
        ``None`` (default): the newest ``neurospell-markers*`` stream
        (:class:`~neurospell.session.markerlink.MarkerStreamFinder`, which also says when none
        appears or it sends nothing).
    lookahead : float
        Publication latency in seconds (>= 0).
    duration : float | None
        Stop after this many seconds of streaming (``None``: when the marker stream ends).
    """

    def __init__(self, generator, intention: Intention, *, name="neurospell-participant",
                 marker_stream=None, lookahead=0.15, duration=None):
        validate_type(intention, Intention, "intention")
        validate_type(name, str, "name")
        validate_type(marker_stream, (str, None), "marker_stream")
        self.generator = generator
        self.intention = intention
        self.name = name
        self.marker_stream = marker_stream
        self.lookahead = check_positive("lookahead", lookahead, strict=False)
        self.duration = check_positive("duration", duration, allow_none=True)
        self.flashes: list[ScheduledFlash] = []
        self.n_flashes = 0
        self.n_targets = 0
        self.n_late = 0
        self.n_samples = 0
        self.n_markers = 0
        #: The marker stream read (its name, once found).
        self.marker_stream_found: str | None = None
        #: LSL time of sample 0 (set when :meth:`run` starts streaming).
        self.t0: float | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end (thread-safe; also on SIGTERM when run from the main thread)."""
        self._stop.set()

    def _on_flash(self, ts: float, code: int, label_target: bool | None, t0: float, pushed: int,
                  members=None) -> None:
        gen = self.generator
        target = self.intention.is_target(code, label_target, members)
        fl = ScheduledFlash((ts - t0) * gen.sfreq, code, target, label_target is not None)
        self.flashes.append(fl)
        self.n_flashes += 1
        self.n_targets += int(target)
        logger.debug("participant: flash %d at sample %.2f: %s (wants %r)", code, fl.onset,
                     "target" if target else "non-target", self.intention.symbol)
        first, last = gen.response_span()
        if math.ceil(fl.onset + first) < pushed:
            self.n_late += 1
            logger.warning("participant: the marker of flash %d arrived about %.0f ms after its onset; %d samples of "
                           "its response were already published (raise --lookahead-ms).", code,
                           (pushed / gen.sfreq + t0 + self.lookahead - ts) * 1000.0,
                           min(pushed, math.ceil(fl.onset + last)) - math.ceil(fl.onset + first))

    def run(self, *, ready=None, connected=None, warn=None) -> dict:
        """Stream until the marker stream ends, ``duration`` passes or :meth:`stop` is called.

        Parameters
        ----------
        ready : callable | None
            Called with no argument once the EEG stream is published.
        connected : callable | None
            Called with no argument once the marker stream is found and opened
            (:attr:`marker_stream_found` names it).
        warn : callable | None
            Called with a message when no marker stream appears within seconds, when several
            match, or when the one opened sends nothing (default: the log's warnings).

        Returns
        -------
        summary : dict
            ``n_samples``, ``n_flashes``, ``n_targets``, ``n_late``, ``typed``, ``marker_stream_found``.
        """
        pylsl = get_pylsl()
        gen = self.generator
        sf = gen.sfreq
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        outlet = LslEegOutlet(self.name, gen.ch_names, getattr(gen, "ch_types", ("eeg",) * len(gen.ch_names)), sf,
                              source_id=f"neurospell-participant-{self.name}",
                              meta={"marker_stream": self.marker_stream or "*"})
        finder = MarkerStreamFinder(self.marker_stream, eeg_name=self.name, warn=warn)
        inlet = None
        found = False
        next_look = n_at_open = n_seen = t_marker = 0
        tick = 1.0 / 32.0
        t0 = self.t0 = pylsl.local_clock()
        pushed = 0
        try:
            if ready is not None:
                ready()
            while not self._stop.is_set():
                now = pylsl.local_clock()
                if self.duration is not None and now - t0 >= self.duration:
                    break
                if inlet is None:
                    info = finder.poll(now)
                    if info is not None:
                        inlet = pylsl.StreamInlet(info, max_buflen=30, recover=False,
                                                  processing_flags=pylsl.proc_clocksync)
                        try:
                            inlet.open_stream(5.0)
                        except Exception:  # noqa: BLE001 - a stream that just ended: look again
                            finder.failed(info)
                            inlet = None
                            continue
                        finder.opened(now, info)
                        n_at_open, t_marker = self.n_markers, now
                        found = True
                        self.marker_stream_found = info.name()
                        logger.info("participant: reading markers from %r", info.name())
                        if connected is not None:
                            connected()
                else:
                    finder.check_silent(now, self.n_markers - n_at_open, self.marker_stream_found)
                    if now >= next_look:  # by prefix: a session started since wins
                        next_look = now + 0.5
                        if self.n_markers > n_seen:
                            n_seen, t_marker = self.n_markers, now
                        if finder.newer(now - t_marker) is not None:
                            inlet.close_stream()
                            inlet = None
                            self.intention.typed = ""  # a new session: nothing typed yet
                            continue
                # markers already waiting first: after a stall (a busy machine) the samples about to
                # go out can hold the responses of flashes whose markers came in meanwhile
                if inlet is not None:
                    lost = self._pull_markers(inlet, 0.0, t0, pushed)
                    if lost:
                        if finder.keep_looking():  # found by prefix, not this participant's session
                            inlet = None
                            self.intention.typed = ""
                            continue
                        logger.info("participant: the marker stream %r ended; stopping.", self.marker_stream_found)
                        break
                # samples due: timestamps up to now - lookahead
                due = int(math.floor((now - self.lookahead - t0) * sf)) + 1
                if due > pushed:
                    keep_from = pushed - gen.response_span()[1] - 1
                    self.flashes = [f for f in self.flashes if f.onset >= keep_from]
                    data = gen.synthesize(pushed, due - pushed, self.flashes)
                    outlet.push(data, t0 + np.arange(pushed, due) / sf)
                    pushed = due
                    self.n_samples = pushed
                # until the next tick; the markers that come in meanwhile are read first thing then
                wait = max(0.0, t0 + self.lookahead + (pushed + tick * sf) / sf - pylsl.local_clock())
                self._stop.wait(min(wait, 0.1) if inlet is None else wait)
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
            if inlet is not None:
                try:
                    inlet.close_stream()
                except Exception:  # pragma: no cover
                    pass
            outlet.close()
        return {"n_samples": self.n_samples, "n_flashes": self.n_flashes, "n_targets": self.n_targets,
                "n_late": self.n_late, "typed": self.intention.typed, "marker_stream_found": found}

    def _pull_markers(self, inlet, timeout: float, t0: float, pushed: int) -> bool:
        """Handle every marker waiting (waiting up to ``timeout`` s for the first); ``True``: stream lost."""
        pylsl = get_pylsl()
        try:
            value, ts = inlet.pull_sample(timeout=timeout)
            while value is not None:
                self.n_markers += 1
                self._handle(value[0], ts, t0, pushed)
                value, ts = inlet.pull_sample(timeout=0.0)
        except pylsl.util.LostError:
            return True
        return False

    def _handle(self, label, ts: float, t0: float, pushed: int) -> None:
        label = str(label)
        if self.intention.on_marker(label):
            return
        info = parse_flash(label)
        if info is None:
            return
        self._on_flash(float(ts), int(info.code), info.target, t0, pushed, info.members)
