"""Lab Streaming Layer discovery: which streams are markers, XPath predicates, resolving.

pylsl is always obtained through :func:`neurospell.lsl.get_pylsl` (loopback-only discovery
unless the ``[lsl]`` config says otherwise).
"""

from __future__ import annotations

from neurospell.check import NeurospellError
from neurospell.lsl import get_pylsl

#: Stream types read as markers (compared regardless of case): neurospell's and most LSL
#: apps' ``"Markers"``, and MNE-LSL's ``"annotations"`` (a numerical stream with one channel
#: per annotation description).
MARKER_TYPES = ("markers", "annotations")
#: Suffixes of the name / source id a marker stream has when it belongs to the EEG stream
#: ``NAME`` (``neurospell replay --as-lsl`` and ``neurospell stream`` publish
#: ``NAME-markers``; MNE-LSL's PlayerLSL publishes ``NAME-annotations``).
MARKER_SUFFIXES = ("-markers", "-annotations")
_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"


def _quoted(key, value) -> str:
    if "'" in str(value):
        raise NeurospellError(f"The LSL stream {key} must not contain a quote, got {value!r}.")
    return f"'{value}'"


def _type_test(stypes) -> str:
    """An XPath test that the stream type is one of ``stypes``, regardless of case."""
    stypes = (stypes,) if isinstance(stypes, str) else tuple(stypes)
    low = f"translate(type,'{_UPPER}','{_LOWER}')"
    tests = [f"{low}={_quoted('type', t.lower())}" for t in stypes]
    return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"


def _predicate(name, stype, source_id) -> str:
    """The liblsl XPath predicate of a stream (type compared regardless of case)."""
    parts = []
    for key, value in (("name", name), ("type", stype), ("source_id", source_id)):
        if value is None:
            continue
        parts.append(_type_test(value) if key == "type" else f"{key}={_quoted(key, value)}")
    return " and ".join(parts)


def _describe(name, stype, source_id) -> str:
    """The stream properties in words, for messages."""
    parts = [f"{k}={v!r}" for k, v in (("name", name), ("type", stype), ("source_id", source_id)) if v is not None]
    text = " and ".join(parts)
    return text + (" (type in any case)" if stype is not None else "")


def list_streams(wait_time: float = 1.0) -> list[dict]:
    """The LSL streams visible within the configured scope (name, type, channels, rate, source id)."""
    pylsl = get_pylsl()
    return [
        {"name": s.name(), "type": s.type(), "n_channels": s.channel_count(),
         "sfreq": s.nominal_srate(), "source_id": s.source_id(), "hostname": s.hostname()}
        for s in pylsl.resolve_streams(wait_time)
    ]


def _resolve(pred: str, timeout: float):
    pylsl = get_pylsl()
    found = pylsl.resolve_bypred(pred, 1, timeout)
    return found[0] if found else None
