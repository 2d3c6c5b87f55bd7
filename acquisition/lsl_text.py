"""The typed text on LSL: a string stream, one sample per change, each the whole text.

Stream format (documented in the README, *Text out*): type ``"Text"``, one ``string`` channel
labelled ``text``, irregular rate, default name ``"neurospell-text"``; ``desc/neurospell`` holds
``format = whole-text`` and ``version = 1``. Each sample is the complete typed text after a
change (never an edit: a consumer that joins late or misses one has the whole text with the next
sample; see :mod:`neurospell.session.textout`), its timestamp when the text changed (LSL clock).

pylsl is obtained through :func:`neurospell.lsl.get_pylsl` (loopback-only discovery unless the
``[lsl]`` config says otherwise), as for every LSL stream of neurospell.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError, validate_type
from neurospell.lsl import get_pylsl

from .lsl_outlets import _OutletBase

__all__ = ["LslTextOutlet", "TEXT_STREAM_TYPE", "TEXT_FORMAT"]

#: The stream type of the text stream.
TEXT_STREAM_TYPE = "Text"
#: What a sample holds (``desc/neurospell/format``).
TEXT_FORMAT = "whole-text"


class LslTextOutlet(_OutletBase):
    """Publish the typed text: one string sample per change, the whole text.

    Parameters
    ----------
    name : str
        Stream name (default ``"neurospell-text"``).
    source_id : str | None
        Default ``"neurospell-<name>"`` (an inlet that loses the stream finds it again by it).
    """

    def __init__(self, name: str = "neurospell-text", *, source_id: str | None = None):
        validate_type(name, str, "name")
        if not name.strip():
            raise NeurospellError("name must be a non-empty LSL stream name, e.g. 'neurospell-text'.")
        self.name = name
        self.source_id = source_id or f"neurospell-{name}"
        pylsl = get_pylsl()
        info = pylsl.StreamInfo(name, TEXT_STREAM_TYPE, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, self.source_id)
        info.desc().append_child("channels").append_child("channel").append_child_value("label", "text")
        meta = info.desc().append_child("neurospell")
        meta.append_child_value("format", TEXT_FORMAT)
        meta.append_child_value("version", "1")
        info.desc().append_child_value("manufacturer", "neurospell")
        self._outlet = pylsl.StreamOutlet(info)

    def __repr__(self):
        return f"LslTextOutlet({self.name!r})"

    def push(self, text: str, timestamp: float | None = None) -> None:
        """Push the whole typed text.

        Parameters
        ----------
        text : str
        timestamp : float | None
            When it changed, LSL clock seconds; ``None``: now.
        """
        self._check_open()
        validate_type(text, str, "text")
        if timestamp is None:
            self._outlet.push_sample([text])
            return
        if not np.isfinite(float(timestamp)):
            raise NeurospellError(f"timestamp must be a finite LSL time in seconds or None, got {timestamp!r}.")
        self._outlet.push_sample([text], float(timestamp))
