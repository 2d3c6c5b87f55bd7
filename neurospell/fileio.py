"""Atomic file writes: a file is either absent (or its previous version) or complete.

A writer interrupted half-way (Ctrl-C, SIGTERM, a full disk, an exception) would leave a
truncated file that looks like a result: a model that fails to load, a JSON that does not
parse, a figure cut in half. :func:`atomic_write` and :func:`atomic_path` write to a
temporary file in the destination's folder (same file system, so the rename is atomic),
flush and ``fsync`` it, then ``os.replace`` it onto the destination and ``fsync`` the
folder; on any error, ``KeyboardInterrupt`` included, the temporary file is removed and
the error re-raised, and the destination is untouched.

For one-file outputs only: a writer that makes several files referring to each other by
name (BrainVision's ``.vhdr``/``.vmrk``/``.eeg``, MNE's split FIF files) cannot be renamed
afterwards.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write", "atomic_path"]

#: Start of the temporary files' names (hidden on POSIX).
PARTIAL_PREFIX = ".partial-"


def _temp_name(path: Path) -> Path:
    # the same name ending as the destination: writers that pick the format from the name
    # (MNE, matplotlib) see the destination's ending
    return path.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(4)}-{path.name}")


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that do not sync directories
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_folder(path.parent)


@contextmanager
def atomic_path(fname) -> Iterator[Path]:
    """A temporary path to write to, renamed onto ``fname`` when the block ends without error.

    For writers that take a file name (``torch.save``, ``np.savez``, ``raw.save``,
    ``fig.savefig``). The temporary file sits in ``fname``'s folder and its name ends with
    ``fname``'s name.

    Parameters
    ----------
    fname : path-like
        The destination (its folder must exist; an existing file is replaced at the end).

    Yields
    ------
    tmp : Path
        Where to write. If the block raises (``KeyboardInterrupt`` included) it is removed
        and ``fname`` is left as it was.

    Examples
    --------
    >>> with atomic_path("model.pt") as tmp:  # doctest: +SKIP
    ...     torch.save(state, tmp)
    """
    path = Path(fname)
    tmp = _temp_name(path)
    try:
        yield tmp
        _commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(fname, mode: str = "w", *, encoding: str | None = None):
    """Open a temporary file for writing, renamed onto ``fname`` when the block ends without error.

    Parameters
    ----------
    fname : path-like
        The destination (its folder must exist; an existing file is replaced at the end).
    mode : "w" | "wb"
        Text or binary.
    encoding : str | None
        For text mode (default UTF-8).

    Yields
    ------
    file object
        Write to it inside the block. It is flushed, ``fsync``'ed, closed and renamed when
        the block ends; if the block raises (``KeyboardInterrupt`` included) it is removed
        and ``fname`` is left as it was.

    Examples
    --------
    >>> with atomic_write("results.json") as fid:  # doctest: +SKIP
    ...     json.dump(results, fid)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}.")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(fname) as tmp:
        # O_EXCL: never write through a file that is already there; 0o666 & umask, as open() does
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, mode, encoding=encoding) as fid:
            yield fid
            fid.flush()


def file_sha256(fname, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file's content, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(fname, "rb") as fid:
        for block in iter(lambda: fid.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
