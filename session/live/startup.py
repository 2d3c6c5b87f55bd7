"""What a live session's worker does before its first phase: import what the phases will
need, freeze the objects allocated so far, wait for the stream."""

from __future__ import annotations

import gc
import importlib
import sys
import time

from neurospell.check import StreamError
from neurospell.logs import logger

__all__ = ["PRELOAD_MODULES", "preload", "wait_for_stream"]

#: Modules that the end of a phase (the BIDS conversion of its recording) and a fitted classical
#: decoder (unpickled from the training process) import on first use. The worker imports them
#: before the session starts flashing: an import holds the GIL long, and a GUI thread in this
#: process would wait for it while the session calibrates, trains or spells.
PRELOAD_MODULES = ("mne.io.array", "mne.annotations", "mne.source_estimate", "mne.cov", "mne.export", "pybv",
                   "sklearn.pipeline", "sklearn.linear_model", "sklearn.discriminant_analysis",
                   "sklearn.covariance", "pyriemann")


def preload(extra=()) -> None:
    """Import :data:`PRELOAD_MODULES` and ``extra`` (those not installed are skipped), then
    freeze the objects allocated so far (:func:`gc.freeze`).

    A full garbage collection of a process with Qt, torch, MNE and an n-gram LM loaded walks
    ~350,000 objects and holds the GIL ~250 ms; frozen ones are not walked again (the
    session's own garbage is still collected).
    """
    names = [*PRELOAD_MODULES, *extra]
    # no collection while importing (the imports allocate enough to start a full one,
    # ~150 ms with the GIL held); what they leave is frozen, not collected
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            if name in sys.modules:
                continue
            try:
                importlib.import_module(name)
            except ImportError:  # an optional library that is not installed: not needed then
                logger.debug("LiveSession: %s is not installed; not preloaded.", name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def thaw() -> None:
    """Undo :func:`preload`'s freeze when a session's worker ends (:func:`gc.unfreeze`).

    The session itself is alive when its worker freezes (a reference cycle: its thread's
    target is its own method); frozen objects are never collected, so an ended session would
    stay in memory for good (a window calibrating five times kept five). Thawed, it is
    collected like any garbage; the next session freezes again.
    """
    gc.unfreeze()


def wait_for_stream(s) -> None:
    """Wait for the first samples of the session ``s``'s source, then for a consumer of its
    marker outlet (the source reading it back), reading and handling intents meanwhile.

    Raises
    ------
    StreamError
        When either does not come within ``max(10, 5 * [speller] pause_after)`` seconds.
    """
    timeout = max(10.0, 5 * s.config.speller.pause_after)
    deadline = time.monotonic() + timeout
    s._publish("waiting for the stream")
    while not s._stream.flowing:
        s._handle_intents()
        s._pump(0.05)
        if time.monotonic() > deadline:
            raise StreamError(f"No samples from {s.source} within {timeout:g} s; check the device or stream.")
    if s.marker_outlet is not None:
        s._publish("waiting for a consumer of the marker stream")
        while not s.marker_outlet.have_consumers():
            s._handle_intents()
            s._pump(0.05)
            if time.monotonic() > deadline:
                raise StreamError(
                    f"Nobody reads the marker stream {s.marker_outlet!r} after {timeout:g} s: the source "
                    "must read it (LslSource(marker_name=...)) to align markers with samples.")
