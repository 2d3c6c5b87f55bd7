"""The simulated participant: what simulation and replay put where a person sits.

:class:`ParticipantProcess` runs ``neurospell simulate-participant`` in a subprocess on
loopback for a live session.
"""

from .process import ParticipantProcess

__all__ = ["ParticipantProcess"]
