"""The calibration phase of a live session: cue each character of a known text, flash, keep
the labelled epochs (for the training phase, :mod:`.training_phase`)."""

from __future__ import annotations

import time

from neurospell.logs import logger
from neurospell.lsl import local_clock
from neurospell.markers import phrase_to_str, trial_to_str
from neurospell.preprocessing import OnlineEpocher
from neurospell.types import EpochBatch

from ..engine import RowColumnFlashes
from ..sessiondir import CALIBRATION

__all__ = ["CalibrationPhase", "WARMUP"]

#: Seconds of signal the online filter gets before the first calibration flash.
WARMUP = 1.5


class CalibrationPhase:
    """One calibration run of a :class:`~neurospell.session.live.LiveSession`.

    Its epocher is the stream's consumer while it runs (:meth:`push`); :meth:`run` cues
    ``text`` character by character (a character whose flashes a pause cancelled is cued
    again) and returns the labelled epochs.

    Parameters
    ----------
    session : LiveSession
        The session whose worker runs the phase (its loop, flashes, stream, recorder).
    text : str
        The characters to cue.
    """

    def __init__(self, session, text: str):
        self.session = session
        self.text = text
        src, cfg = session.source, session.config.preprocessing
        self.epocher = OnlineEpocher(cfg, src.sfreq, src.ch_names, src.ch_types,
                                     buffer_seconds=max(10.0, 2 * (cfg.tmax - cfg.tmin) + 1.0))
        self.batches: list[EpochBatch] = []

    @property
    def n_dropped(self) -> int:
        """Epochs dropped so far (their window held a gap or data that never came)."""
        return sum(self.epocher.n_dropped_.values())

    def push(self, chunk, markers) -> None:
        """Epoch a chunk read (the stream pump's consumer)."""
        b = self.epocher.update(chunk, markers)
        if len(b):
            self.batches.append(b)

    def _wait_drained(self) -> None:
        """Wait until every flash marker sent has been epoched or discarded (deadline)."""
        s, ep = self.session, self.epocher
        timeout = s.config.preprocessing.tmax + 2.0 * s.config.speller.pause_after + 1.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s._step()
            if (s._flashes.n_scheduled() == 0 and ep.n_pending == 0
                    and ep.n_emitted_ + self.n_dropped + s._watch.n_lost_phase >= s._flashes.n_phase):
                return
        logger.warning("LiveSession: %d flash(es) still without data after %.1f s.", ep.n_pending, timeout)

    def run(self) -> EpochBatch | None:
        """Cue, flash and epoch; the labelled epochs (``None``: none)."""
        s, text = self.session, self.text
        sp = s.config.speller
        flashes, pause = s._flashes, s._pause
        s._target_text = text
        s._progress = 0.0
        s._begin_phase("calibration", CALIBRATION, text)
        before, s._stream.consumer = s._stream.consumer, self.push
        strategy = RowColumnFlashes(s.layout.n_groups, s.seed)
        s._send(phrase_to_str("calibration", text), local_clock(), via_source=False)
        i = 0
        while i < len(text) and not s._phase_done:
            sym = text[i]
            s._cue = sym
            s.display.cue(sym)
            s._publish(f"calibration: character {i + 1}/{len(text)} {sym!r}")
            # the cue is shown for the inter-trial pause before the flashes start; before the
            # first one the online filter gets WARMUP seconds to settle (it starts from rest)
            t_go = time.monotonic() + max(sp.inter_trial, WARMUP if i == 0 else 0.0)
            while (time.monotonic() < t_go or pause.blocked()) and not s._phase_done:
                s._step()
            if s._phase_done:  # a SetPhase (also while paused)
                break
            s._trial += 1
            s._send(trial_to_str(s._trial, "_" if sym == " " else sym), local_clock())
            for _ in range(sp.calibration_repetitions):
                flashes.show(strategy.next_repetition(), ("calibration", s._trial, sym))
            while flashes.n_scheduled() and not s._phase_done:
                s._step()
                if pause.blocked():
                    break  # the rest of this character's flashes were cancelled
            if pause.blocked():
                while pause.blocked() and not s._phase_done:
                    s._step()
                continue  # cue this character again
            i += 1
            s._progress = i / len(text)
        s._cue = None
        s.display.cue(None)
        s._publish("calibration: waiting for the last epochs")
        self._wait_drained()
        b = self.epocher.flush()
        if len(b):
            self.batches.append(b)
        s._discarded_before += self.n_dropped
        s._calibration, s._stream.consumer = None, before
        s._end_phase()
        batch = EpochBatch.concatenate(self.batches) if self.batches else None
        n = 0 if batch is None else len(batch)
        logger.info("LiveSession: calibration done: %d labelled epochs", n)
        s._progress = 1.0
        s._publish(f"calibration done: {n} epochs")
        return batch
