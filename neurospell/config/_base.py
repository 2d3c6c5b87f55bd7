"""Building frozen config sections from plain dicts (TOML tables), with clear errors."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from ..check import NeurospellError


def _type_ok(value, tp) -> tuple[bool, Any]:
    """Check and convert ``value`` to the annotated type ``tp``; return (ok, converted)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, conv = _type_ok(value, arg)
            if ok:
                return True, conv
        return False, value
    if tp is type(None):
        return value is None, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if tp is str:
        return isinstance(value, str), value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            out = []
            for v in value:
                ok, conv = _type_ok(v, args[0])
                if not ok:
                    return False, value
                out.append(conv)
            return True, tuple(out)
        if len(args) != len(value):
            return False, value
        out = []
        for v, a in zip(value, args, strict=True):
            ok, conv = _type_ok(v, a)
            if not ok:
                return False, value
            out.append(conv)
        return True, tuple(out)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            return False, value
        return True, types.MappingProxyType(dict(value))
    if isinstance(tp, type) and isinstance(value, tp):
        return True, value
    return False, value


def section_from_dict(cls, data: dict | None, section: str):
    """Create the frozen dataclass ``cls`` from ``data``; unknown keys and wrong types are errors."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise NeurospellError(
            f"Unknown key(s) {unknown} in config section [{section}]. Allowed keys are {sorted(fields)}."
        )
    kwargs = {}
    for name, value in data.items():
        ok, conv = _type_ok(value, hints[name])
        if not ok:
            raise NeurospellError(
                f"Config [{section}] {name} must be of type {hints[name]}, got {value!r} "
                f"({type(value).__name__})."
            )
        kwargs[name] = conv
    return cls(**kwargs)


def section_to_dict(obj) -> dict:
    """A plain dict of a config section (for saving provenance or writing TOML)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, types.MappingProxyType):
            v = dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out
