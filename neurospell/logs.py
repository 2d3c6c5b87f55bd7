"""One package logger, MNE style: ``verbose=None`` arguments and :func:`set_log_level`."""

from __future__ import annotations

import contextlib
import logging
import os

logger = logging.getLogger("neurospell")
logger.propagate = False

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def _ensure_handler() -> None:
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def _to_level(verbose) -> int:
    if verbose is None:
        return _LEVELS.get(os.environ.get("NEUROSPELL_LOG_LEVEL", "WARNING").upper(), logging.WARNING)
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, int):
        return verbose
    if isinstance(verbose, str) and verbose.upper() in _LEVELS:
        return _LEVELS[verbose.upper()]
    raise ValueError(
        f"verbose must be None, a bool, an int or one of {sorted(_LEVELS)}, got {verbose!r}."
    )


def set_log_level(verbose=None) -> None:
    """Set the package log level.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``None`` reads ``NEUROSPELL_LOG_LEVEL`` (default ``"WARNING"``); ``True`` is
        ``"INFO"``, ``False`` is ``"WARNING"``.
    """
    _ensure_handler()
    logger.setLevel(_to_level(verbose))


@contextlib.contextmanager
def use_log_level(verbose=None):
    """Temporarily set the log level (a ``verbose`` argument of a public function)."""
    if verbose is None:
        yield
        return
    old = logger.level
    set_log_level(verbose)
    try:
        yield
    finally:
        logger.setLevel(old)


set_log_level(None)
