"""How a simulated participant and a session find each other's streams over LSL, and what
each says when they do not.

A session publishes its flash markers on an LSL stream named ``neurospell-markers-<tag>``
(:data:`MARKER_PREFIX` plus a per-session tag, so two sessions on one machine never mix).
A participant (``neurospell simulate-participant``) given no marker stream name follows the
session's by this prefix (:class:`MarkerStreamFinder`): the only one visible, or the newest
of several (it says which and names the others), and switches to a session's stream that
appears later (a participant started before its session while an older one still runs).
A session that reads a given EEG stream says so in its marker stream's source id
(:func:`session_source_id`): the participant publishing that EEG follows it whatever other
sessions run on the machine. It says so within seconds when no marker
stream of that name appears (naming the marker streams it sees), and when the one it reads
sends nothing. Its EEG stream names the marker stream it follows
(``desc/neurospell/marker_stream``), so a session reading that EEG can tell at once that its
flashes will get no response from it (:func:`marker_link_problem`).
"""

from __future__ import annotations

from neurospell.logs import logger
from neurospell.lsl import get_pylsl

__all__ = ["MARKER_PREFIX", "MarkerStreamFinder", "addressed_to", "followed_marker_stream", "marker_link_problem",
           "session_source_id"]

#: Name prefix of every session's marker stream.
MARKER_PREFIX = "neurospell-markers"
#: Seconds before a participant says that no marker stream has appeared.
NOT_FOUND_AFTER = 5.0
#: Seconds without any marker (once connected) before a participant says so.
SILENT_AFTER = 10.0
#: Seconds without any marker from the stream followed before a newer session's stream (one
#: that does not say which EEG it reads) takes its place.
SWITCH_IDLE = 3.0


def session_source_id(marker_name: str, eeg_name: str) -> str:
    """The LSL source id of a session's marker stream that says which EEG stream the session
    reads (so the participant publishing that EEG follows this session, whatever else runs)."""
    return f"{marker_name}|eeg={eeg_name}"


def addressed_to(info, eeg_name: str | None) -> bool:
    """Whether the marker stream ``info`` (a ``pylsl.StreamInfo``) is a session's that reads
    the EEG stream ``eeg_name`` (:func:`session_source_id`)."""
    return eeg_name is not None and info.source_id().endswith(f"|eeg={eeg_name}")


def _names(infos) -> list[str]:
    return sorted({i.name() for i in infos})


class MarkerStreamFinder:
    """Find the session's marker stream: by exact name, or the newest ``neurospell-markers*``.

    Parameters
    ----------
    name : str | None
        The marker stream's exact name; ``None``: any whose name starts with
        :data:`MARKER_PREFIX`, preferring the sessions that read ``eeg_name``.
    eeg_name : str | None
        The name of the EEG stream the participant publishes.
    warn : callable
        Called with a message when something needs the user's attention (default: the log).
    not_found_after, silent_after : float
        Seconds before saying that no stream was found / that the stream sends nothing.
    """

    def __init__(self, name: str | None = None, *, eeg_name: str | None = None, warn=None,
                 not_found_after: float = NOT_FOUND_AFTER, silent_after: float = SILENT_AFTER):
        pylsl = get_pylsl()
        self.name = name
        self.eeg_name = eeg_name
        self._warn = warn or logger.warning
        self.not_found_after = float(not_found_after)
        self.silent_after = float(silent_after)
        pred = f"name='{name}'" if name else f"starts-with(name,'{MARKER_PREFIX}')"
        self._resolver = pylsl.ContinuousResolver(pred=pred, forget_after=5.0)
        self._any = pylsl.ContinuousResolver(pred="type='Markers'", forget_after=5.0)
        self._t_start = pylsl.local_clock()
        self._warned_missing = False
        self._warned_silent = False
        self._t_connected: float | None = None
        self._failed: set[str] = set()
        self._current = None

    @property
    def wanted(self) -> str:
        """What is looked for, in words."""
        return repr(self.name) if self.name else f"named {MARKER_PREFIX}*"

    def poll(self, now: float):
        """A stream to open (a ``pylsl.StreamInfo``) or ``None``; warns once after
        ``not_found_after`` seconds without one. Call :meth:`opened` once it is open, or
        :meth:`failed` when it could not be opened (a stream that just ended)."""
        found = [i for i in self._resolver.results() if i.uid() not in self._failed]
        if found:
            mine = [i for i in found if addressed_to(i, self.eeg_name)]
            found = sorted(mine or found, key=lambda i: i.created_at())
            chosen = found[-1]
            others = sorted({i.name() for i in found[:-1]} - {chosen.name()})
            if others:
                self._warn(f"several marker streams {self.wanted} are visible: {_names(found)}; following the newest, "
                           f"{chosen.name()!r}. Pass --marker-stream NAME to follow another.")
            return chosen
        if not self._warned_missing and now - self._t_start >= self.not_found_after:
            self._warned_missing = True
            visible = _names(self._any.results()) if self._any is not None else []
            self._warn(f"no marker stream {self.wanted} found after {self.not_found_after:g} s; marker streams "
                       f"visible: {visible or 'none'}. Start the session (`neurospell spell --source lsl:EEG_NAME` "
                       "prints its marker stream's name) or pass --marker-stream NAME; still waiting.")
        return None

    def opened(self, now: float, info) -> None:
        """The stream :meth:`poll` gave is open: stop searching (by prefix: keep watching
        for a newer session's stream, :meth:`newer`)."""
        self._t_connected = now
        self._current = info
        self._any = None
        if self.name:
            self._resolver = None

    def newer(self, idle: float):
        """By prefix: a stream to switch to, or ``None``. A session that reads this
        participant's EEG (:func:`addressed_to`) wins over any other; otherwise a stream created
        after the one open (a session started since) once the one open has sent nothing for
        :data:`SWITCH_IDLE` seconds (``idle``: seconds since its last marker)."""
        if self._resolver is None or self._current is None or addressed_to(self._current, self.eeg_name):
            return None
        cur = self._current
        others = [i for i in self._resolver.results() if i.uid() not in self._failed and i.uid() != cur.uid()]
        found = [i for i in others if addressed_to(i, self.eeg_name)]
        if not found and idle >= SWITCH_IDLE:
            found = [i for i in others if i.created_at() > cur.created_at()]
        if not found:
            return None
        chosen = max(found, key=lambda i: i.created_at())
        why = (f"the session reading {self.eeg_name!r}" if addressed_to(chosen, self.eeg_name)
               else "a newer marker stream")
        self._warn(f"{why} appeared: switching from {cur.name()!r} to {chosen.name()!r} (pass "
                   "--marker-stream NAME to stay with one).")
        return chosen

    def failed(self, info) -> None:
        """The stream :meth:`poll` gave could not be opened: look for another."""
        self._failed.add(info.uid())

    def keep_looking(self) -> bool:
        """The stream open ended: ``True`` (and searching again) when it was found by prefix
        and does not say it reads this participant's EEG (another session's, which ended);
        ``False`` (the participant stops) for the stream named or this participant's session."""
        cur = self._current
        if self.name or cur is None or addressed_to(cur, self.eeg_name):
            return False
        pylsl = get_pylsl()
        self._warn(f"the marker stream {cur.name()!r} ended; looking for another {self.wanted}.")
        self._failed.add(cur.uid())
        self._current = self._t_connected = None
        self._warned_missing = self._warned_silent = False
        self._t_start = pylsl.local_clock()
        self._any = pylsl.ContinuousResolver(pred="type='Markers'", forget_after=5.0)
        return True

    def check_silent(self, now: float, n_markers: int, stream: str) -> None:
        """Warn once when the stream opened ``silent_after`` seconds ago has sent no marker
        (``n_markers``: markers received from it)."""
        if (self._t_connected is not None and not self._warned_silent and n_markers == 0
                and now - self._t_connected >= self.silent_after):
            self._warned_silent = True
            self._warn(f"no marker received from {stream!r} in {self.silent_after:g} s: the session has not flashed "
                       "yet, or this is not the session's marker stream (pass --marker-stream NAME).")


def followed_marker_stream(eeg_name: str, timeout: float = 2.0) -> str | None:
    """The marker stream that the participant publishing EEG stream ``eeg_name`` follows
    (``"*"``: it finds one by the :data:`MARKER_PREFIX` prefix); ``None`` when the stream
    does not say (not a simulated participant, or not found)."""
    pylsl = get_pylsl()
    infos = pylsl.resolve_byprop("name", eeg_name, 1, timeout)
    if not infos:
        return None
    inlet = pylsl.StreamInlet(infos[0])
    try:
        node = inlet.info(timeout).desc().child("neurospell").child("marker_stream")
        value = node.child_value() if not node.empty() else ""
    except Exception:  # noqa: BLE001 - a stream without the field, or gone: nothing to say
        value = ""
    finally:
        inlet.close_stream()
    return value or None


def marker_link_problem(eeg_name: str, marker_name: str, timeout: float = 2.0) -> str | None:
    """Why the participant behind EEG stream ``eeg_name`` will not answer markers sent on
    ``marker_name``, or ``None`` when nothing says so."""
    followed = followed_marker_stream(eeg_name, timeout)
    if followed is None or followed == marker_name:
        return None
    if followed == "*":
        if marker_name.startswith(MARKER_PREFIX):
            return None
        return (f"the participant behind {eeg_name!r} follows marker streams named {MARKER_PREFIX}*, but this session's "
                f"is {marker_name!r}: its flashes get no response.")
    return (f"the participant behind {eeg_name!r} reads the marker stream {followed!r}, not this session's "
            f"{marker_name!r}: its flashes get no response. Restart it with --marker-stream {marker_name} (or "
            "without --marker-stream: it then follows the newest neurospell-markers* stream).")
