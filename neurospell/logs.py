"""One package logger, MNE style: ``verbose=None`` arguments and :func:`set_log_level`."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings

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


@contextlib.contextmanager
def warnings_to_log(where: str, known=()):
    """Log the warnings raised inside on the package logger, one line each, without source paths.

    Parameters
    ----------
    where : str
        What the step works on (a file name), the start of each line.
    known : sequence of (str, str | None, int)
        Expected warnings: ``(regex, text, level)``; a match is logged as ``text`` (formatted
        with the match's groups; ``None``: the warning as is) at ``level``. Every other warning
        is logged as a warning: nothing is hidden, only said once and without a traceback path.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        msg = str(w.message)
        for pattern, text, level in known:
            m = re.search(pattern, msg)
            if m:
                logger.log(level, "%s: %s", where, msg if text is None else text.format(*m.groups()))
                break
        else:
            logger.warning("%s: %s", where, msg)


def log_warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A ``warnings.showwarning`` for the command line: one log line, its source only at debug level."""
    logger.warning("%s: %s", category.__name__, message)
    logger.debug("(the %s above was raised at %s:%s)", category.__name__, filename, lineno)


set_log_level(None)
