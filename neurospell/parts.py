"""Part selectors: ``FILE:PART`` names one part of a recording file that holds several.

A BNCI Horizon 2020 003-2015 file (``s6.mat``) holds a ``train`` and a ``test`` part; read
whole it gives both as two phrases, and ``s6.mat:train`` / ``s6.mat:test`` give one part
alone, so that ``neurospell train s6.mat:train`` and ``neurospell evaluate MODEL
s6.mat:test`` train on one part and score the other. This module is the one rule that
splits such a name; the readers say which parts a format has.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["split_part", "parts_overlap"]

_PART = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def split_part(path) -> tuple[Path, str | None]:
    """Split ``"FILE:PART"`` into the file and the part.

    A name is a selector only when it does not exist as it is, its text after the last
    ``:`` is a word (letters, digits, ``_``, ``-``, starting with a letter) and the text
    before it is an existing file; anything else is returned whole with part ``None`` (so
    a missing file is reported as missing by whoever opens it).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    file : Path
    part : str | None
    """
    text = os.fspath(path)
    whole = Path(text).expanduser()
    head, sep, tail = text.rpartition(":")
    if not sep or not head or not _PART.fullmatch(tail):
        return whole, None
    try:
        if whole.exists() or not Path(head).expanduser().is_file():
            return whole, None
    except OSError:  # a name too long for the file system
        return whole, None
    return Path(head).expanduser(), tail


def parts_overlap(a: str | None, b: str | None) -> bool:
    """Whether two parts of the same file share data (``None``: the whole file)."""
    return a is None or b is None or a == b
