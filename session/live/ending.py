"""How far a live session got and why it stops: explicit state, not strings compared.

The user sees one line (:attr:`Ending.reason`, the ``stop_reason`` of a
:class:`~neurospell.session.live.LiveResult`); the session decides on :attr:`Ending.stopping`
and :attr:`Ending.progress`.
"""

from __future__ import annotations

import enum

__all__ = ["Ending", "Progress"]


class Progress(enum.Enum):
    """How far the planned phases got (the value is what the user sees)."""

    NOT_STARTED = "not started"
    PHASE_COMPLETE = "phase complete"
    ALL_COMPLETE = "all phases complete"


class Ending:
    """The session's progress through its phases, or the reason it stops early.

    Attributes
    ----------
    progress : Progress
    stopped_by : str | None
        Why the session stops before its phases are complete (a stop rule, the user, an
        error, a full disk); ``None``: it does not.
    """

    def __init__(self):
        self.progress = Progress.NOT_STARTED
        self.stopped_by: str | None = None

    @property
    def stopping(self) -> bool:
        """Whether the session stops before its planned phases are complete."""
        return self.stopped_by is not None

    @property
    def reason(self) -> str:
        """The stop reason, as the user reads it."""
        return self.stopped_by if self.stopped_by is not None else self.progress.value

    def stop(self, why: str) -> None:
        """The session stops early, for ``why``."""
        self.stopped_by = str(why)

    def phase_complete(self) -> None:
        """A spelling phase ran to its end."""
        if self.stopped_by is None:
            self.progress = Progress.PHASE_COMPLETE

    def all_complete(self) -> None:
        """The planned phases ran to their end."""
        if self.stopped_by is None:
            self.progress = Progress.ALL_COMPLETE
