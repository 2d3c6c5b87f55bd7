"""Process lifecycle: SIGTERM as a clean stop, and child processes that end with their parent.

Two rules, one home:

* **SIGTERM stops like Ctrl-C.** :func:`sigterm_as_interrupt` turns SIGTERM into a
  :class:`Terminated` exception (a :class:`KeyboardInterrupt`) in the main thread, so the
  same clean stop path runs (the session stops, its phase is finished and written, the
  summary is printed, the child processes are closed). The command line then exits with
  :data:`EXIT_SIGTERM` (143 = 128 + 15, the shell's status of a process ended by SIGTERM;
  Ctrl-C gives 130).
* **A child process never outlives its parent**, even when the parent is killed with
  ``SIGKILL`` (no clean-up code runs then). A child started by a neurospell process calls
  :func:`exit_with_parent` at its start: a daemon thread checks every
  :data:`WATCH_INTERVAL` seconds whether its parent is still the process that started it
  (``os.getppid()``: an orphan is adopted by another process). When the parent is gone
  the child sends itself SIGTERM (its own clean stop: a simulated participant closes its
  LSL outlet) and, should that not end it within :data:`GRACE` seconds, exits at once.
  A command-line child learns its parent's pid from the environment variable
  :data:`PARENT_ENV` (:func:`child_env` sets it, :func:`watch_parent_from_env` reads it);
  a ``multiprocessing`` worker gets it as an argument of its initializer.

The ``multiprocessing`` resource tracker of a process ends by itself once every process
that uses it (the parent and its spawned workers) has ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

from .logs import logger

__all__ = ["Terminated", "EXIT_SIGTERM", "EXIT_CTRL_C", "PARENT_ENV", "WATCH_INTERVAL", "GRACE",
           "sigterm_as_interrupt", "exit_with_parent", "watch_parent_from_env", "child_env"]

#: Exit status of a command stopped by SIGTERM (128 + 15).
EXIT_SIGTERM = 128 + signal.SIGTERM
#: Exit status of a command stopped by Ctrl-C (128 + 2).
EXIT_CTRL_C = 128 + signal.SIGINT
#: Environment variable holding the pid of the process a command-line child must not outlive.
PARENT_ENV = "NEUROSPELL_PARENT_PID"
#: Seconds between two checks of the parent.
WATCH_INTERVAL = 0.2
#: Seconds a child whose parent is gone has to stop cleanly after its SIGTERM.
GRACE = 5.0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C (see :func:`sigterm_as_interrupt`)."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    Outside the main thread (where no signal handler can be installed) it does nothing.
    The previous handler is restored at the end.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_watching: list = []  # (the pid watched in this process; one watch thread per process)


def exit_with_parent(parent_pid: int, *, interval: float = WATCH_INTERVAL, grace: float = GRACE) -> bool:
    """End this process when process ``parent_pid``, which started it, ends.

    Parameters
    ----------
    parent_pid : int
        The pid of the process that started this one.
    interval : float
        Seconds between two checks.
    grace : float
        Seconds between the SIGTERM this process sends itself and its forced exit.

    Returns
    -------
    watching : bool
        ``True`` when a watch thread runs (started now or before).
    """
    parent_pid = int(parent_pid)
    if _watching:
        return True
    if parent_pid <= 1:
        return False
    _watching.append(parent_pid)
    if os.getppid() != parent_pid:  # gone already (or not our parent): stop now
        logger.warning("lifecycle: process %d is not the parent of process %d (any more); stopping.",
                       parent_pid, os.getpid())
        _end_orphan(grace)
        return True
    thread = threading.Thread(target=_watch, args=(parent_pid, interval, grace),
                              name="neurospell-parent-watch", daemon=True)
    thread.start()
    return True


def _watch(parent_pid: int, interval: float, grace: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    logger.warning("lifecycle: the parent process %d is gone; process %d stops.", parent_pid, os.getpid())
    _end_orphan(grace)


def _end_orphan(grace: float) -> None:
    try:
        os.kill(os.getpid(), signal.SIGTERM)
    except OSError:  # pragma: no cover
        pass
    timer = threading.Timer(grace, os._exit, args=(EXIT_SIGTERM,))
    timer.daemon = True
    timer.start()


def watch_parent_from_env() -> bool:
    """Start :func:`exit_with_parent` when :data:`PARENT_ENV` names this process's parent.

    The variable is removed from this process's environment (a process this one starts
    watches this one, not its grandparent). Returns whether a watch runs.
    """
    value = os.environ.pop(PARENT_ENV, None)
    if not value:
        return False
    try:
        pid = int(value)
    except ValueError:
        logger.warning("lifecycle: $%s=%r is not a process id; not watching the parent.", PARENT_ENV, value)
        return False
    return exit_with_parent(pid)


def child_env(env: dict | None = None) -> dict:
    """The environment for a child process that must end with this one (:data:`PARENT_ENV`)."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out
