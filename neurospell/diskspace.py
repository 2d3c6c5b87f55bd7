"""Full disks: recognise the errors a full disk raises, and say how much room there is.

A write on a full disk fails with ``ENOSPC`` (``EDQUOT`` over a quota, ``EFBIG`` past the
file-size limit, ``ulimit -f``), or, from NumPy's ``tofile`` (the BrainVision writer), with
an ``OSError`` that has no errno and reads ``"N requested and M written"``.
:func:`is_no_room` recognises all of them (also as the cause of another error), so that the
callers can stop with one line that says what is full and what was kept, instead of a
traceback.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

from .check import NeurospellError

__all__ = ["DiskFullError", "is_no_room", "free_bytes", "mb", "no_room_why"]

NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")


class DiskFullError(NeurospellError):
    """A write failed for lack of room (full disk, quota or file-size limit); the message
    says what is full, what was kept and what to do."""


def _no_room_one(err) -> bool:
    if isinstance(err, DiskFullError):
        return True
    if not isinstance(err, OSError):
        return False
    if err.errno in NO_ROOM:
        return True
    return err.errno is None and bool(_SHORT_WRITE.match(str(err).strip()))


def is_no_room(err: BaseException | None) -> bool:
    """Whether ``err`` (or an error it was raised from) is a write that failed for lack of room."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if _no_room_one(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def no_room_why(err: BaseException | None) -> str:
    """A few words for a no-room error: ``"the disk is full"`` or ``"the file-size limit was reached"``."""
    short = False
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno == errno.EFBIG:
            return "the file-size limit was reached (`ulimit -f`)"
        if isinstance(err, OSError) and err.errno == errno.EDQUOT:
            return "the disk quota is used up"
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return "the disk is full"
        short = short or (isinstance(err, OSError) and err.errno is None)
        err = err.__cause__ or err.__context__
    if short and _fsize_limited():  # NumPy's short write (no errno) under a file-size limit
        return "the file-size limit was reached (`ulimit -f`)"
    return "the disk is full"


def _fsize_limited() -> bool:
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):  # pragma: no cover - not on POSIX
        return False


def free_bytes(path) -> int | None:
    """Free bytes on the file system that holds ``path`` (or its nearest existing parent)."""
    p = Path(path).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:  # pragma: no cover - an unreadable mount
        return None


def mb(n_bytes: float | None) -> str:
    """``n_bytes`` in MB for a message (``"?"`` when unknown)."""
    if n_bytes is None:
        return "? MB"
    return f"{n_bytes / 1e6:.1f} MB"
