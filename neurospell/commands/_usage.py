"""Usage errors of the command line, and the ``type=`` for numbers in a range.

A ``type=`` callable reports a bad value as :class:`argparse.ArgumentTypeError` (argparse
prints ``neurospell CMD: error: argument --FLAG: MESSAGE``, exit status 2); a pre-flight
check raises :class:`UsageError` (see :mod:`neurospell.commands._args`).
"""

from __future__ import annotations

import argparse
import math

from ..check import NeurospellError


class UsageError(NeurospellError):
    """A command-line argument or option combination is invalid (exit status 2)."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"{option}: {message}")


def number(kind=float, *, min=None, max=None, strict_min=False, unit: str = ""):  # noqa: A002
    """An argparse ``type=`` for an int or a finite float in a range.

    Parameters
    ----------
    kind : type
        ``int`` or ``float``.
    min, max : float | None
        Inclusive bounds (``min`` exclusive with ``strict_min``).
    unit : str
        Shown after the range (e.g. ``"seconds"``).
    """
    what = "an integer" if kind is int else "a number"
    parts = []
    if min is not None:
        parts.append(f"{'>' if strict_min else '>='} {min:g}")
    if max is not None:
        parts.append(f"<= {max:g}")
    desc = what + (" " + " and ".join(parts) if parts else "") + (f" ({unit})" if unit else "")

    def parse(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {desc}, got {text!r}.") from None
        bad = not math.isfinite(value)
        if min is not None:
            bad = bad or value < min or (strict_min and value == min)
        if max is not None:
            bad = bad or value > max
        if bad:
            raise argparse.ArgumentTypeError(f"must be {desc}, got {text!r}. Give a value in that range.")
        return value

    parse.__name__ = desc
    return parse


def _type_error(text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(text)


