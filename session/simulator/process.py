"""The simulated participant as a process on loopback (``neurospell simulate-participant``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

from neurospell.check import StreamError
from neurospell.lifecycle import child_env
from neurospell.logs import logger

__all__ = ["ParticipantProcess"]


class ParticipantProcess:
    """``neurospell simulate-participant`` in a subprocess, on loopback, for a live session.

    Starts the process, waits (with a deadline) until it publishes its EEG stream, and
    :meth:`wait_connected` until it reads the session's marker stream. The stream names are
    unique per instance, so concurrent sessions on one machine never mix.

    Parameters
    ----------
    phrase : str
        The text the participant intends to type (copy spelling).
    marker_stream : str
        The session's marker stream (an :class:`~neurospell.acquisition.LslMarkerOutlet`
        already created, so the participant finds it).
    name : str | None
        Name of its EEG stream (default: unique).
    args : sequence of str
        More options of ``simulate-participant`` (``--amplitude``, ``--seed``, ``--data`` ...).
    config_path : path-like | None
        ``--config`` for the participant (the same grid as the session's).
    timeout : float
        Seconds to wait for it to start.
    on_exit : callable ``(message) -> None`` | None
        Called (from a reader thread) when the process exits by itself (not by :meth:`close`
        or :meth:`kill`), with :attr:`exit_message`. Settable later (``proc.on_exit = ...``).

    Notes
    -----
    The process ends with this one, even when this one is killed (``SIGKILL``): it watches
    its parent (:func:`neurospell.lifecycle.exit_with_parent`).
    """

    def __init__(self, phrase: str, marker_stream: str, *, name: str | None = None, args=(), config_path=None,
                 timeout: float = 60.0, python: str | None = None, on_exit=None):
        self.name = name or f"neurospell-participant-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.marker_stream = marker_stream
        cmd = [python or sys.executable, "-m", "neurospell"]
        if config_path is not None:
            cmd += ["--config", str(config_path)]
        cmd += ["simulate-participant", "--phrase", phrase, "--name", self.name, "--marker-stream",
                marker_stream, *map(str, args)]
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._connected = threading.Event()
        self.on_exit = on_exit
        #: Why the process ended by itself (``None`` while it runs or after :meth:`close`).
        self.exit_message: str | None = None
        self._closing = False
        # its own process group: a Ctrl-C in the terminal reaches the session, which stops it
        # (close), not the participant first; and it ends with this process (child_env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=child_env(), start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="neurospell-participant-out", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise StreamError(
                    "The simulated participant did not start (" + ("exited" if self.proc.returncode is not None
                                                                   else f"no stream within {timeout:g} s")
                    + "): " + " | ".join(self.lines[-5:]))
            self._ready.wait(0.05)

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            logger.debug("participant: %s", line)
            if line.startswith("simulate-participant: streaming"):
                self._ready.set()
            elif line.startswith("simulate-participant: reading markers"):
                self._connected.set()
        code = self.proc.wait()
        if not self._closing:
            last = " | ".join(ln for ln in self.lines[-3:] if ln.strip())
            self.exit_message = (f"the simulated participant process (pid {self.proc.pid}) exited with code {code}"
                                 + (f" ({last})" if last else ""))
            logger.warning("ParticipantProcess: %s", self.exit_message)
            if self.on_exit is not None:
                self.on_exit(self.exit_message)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_connected(self, timeout: float = 30.0) -> bool:
        """Wait until the participant reads the marker stream; ``False`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._connected.is_set() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            self._connected.wait(0.05)
        return self._connected.is_set()

    def kill(self) -> None:
        """Kill the process at once (``SIGKILL``): its stream vanishes as after a crash."""
        self._closing = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the process (``SIGTERM``, then ``SIGKILL`` after ``timeout``)."""
        self._closing = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
