"""One frozen config tree, loaded from TOML; each stage receives only its own section.

Precedence: the defaults shipped in ``defaults.toml`` < a user TOML file (``path`` or
``$NEUROSPELL_CONFIG``) < explicit ``overrides``. Environment variables are used only for
paths and the log level.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..check import NeurospellError, check_fname
from ._base import section_from_dict, section_to_dict
from .sections import (
    AcquisitionConfig,
    DecoderConfig,
    LanguageModelConfig,
    LslConfig,
    PreprocessConfig,
    SpellerConfig,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Config",
    "load_config",
    "default_config",
    "LslConfig",
    "AcquisitionConfig",
    "PreprocessConfig",
    "DecoderConfig",
    "LanguageModelConfig",
    "SpellerConfig",
    "section_to_dict",
    "config_from_dict",
    "recorded_config_from_dict",
    "config_to_toml",
    "write_config",
]

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")

_SECTIONS = {
    "lsl": LslConfig,
    "acquisition": AcquisitionConfig,
    "preprocessing": PreprocessConfig,
    "decoder": DecoderConfig,
    "lm": LanguageModelConfig,
    "speller": SpellerConfig,
}


@dataclass(frozen=True)
class Config:
    """The whole configuration tree."""

    lsl: LslConfig = field(default_factory=LslConfig)
    acquisition: AcquisitionConfig = field(default_factory=AcquisitionConfig)
    preprocessing: PreprocessConfig = field(default_factory=PreprocessConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    lm: LanguageModelConfig = field(default_factory=LanguageModelConfig)
    speller: SpellerConfig = field(default_factory=SpellerConfig)

    def to_dict(self) -> dict:
        return {name: section_to_dict(getattr(self, name)) for name in _SECTIONS}


def _section_hint(unknown) -> str:
    """Where a section that is not the pipeline's belongs (the GUI's own file)."""
    if "gui" in unknown:
        return (" The [gui] table holds the window's display preferences, which live in their own file: gui.toml "
                "in the user's neurospell config folder (e.g. ~/.config/neurospell/gui.toml; `neurospell gui "
                "--settings FILE` names another). Move the [gui] table there.")
    return " Remove or rename it."


def _merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        if key not in _SECTIONS:
            raise NeurospellError(
                f"Unknown config section [{key}]. Allowed sections are {sorted(_SECTIONS)}.{_section_hint([key])}"
            )
        if not isinstance(value, dict):
            raise NeurospellError(f"Config section [{key}] must be a table, got {value!r}.")
        out.setdefault(key, {}).update(value)
    return out


def _read_toml(path: Path) -> dict:
    if Path(path).is_dir():
        raise NeurospellError(f"The config file {str(path)!r} is a folder; give a TOML file.")
    try:
        with open(path, "rb") as fid:
            return tomllib.load(fid)
    except tomllib.TOMLDecodeError as err:
        raise NeurospellError(f"The config file {str(path)!r} is not valid TOML: {err}. Fix the file.") from None
    except UnicodeDecodeError as err:
        raise NeurospellError(
            f"The config file {str(path)!r} is not a UTF-8 text file (undecodable byte at {err.start}); "
            "give a TOML file."
        ) from None


def load_config(path=None, overrides: dict | None = None) -> Config:
    """Load the configuration.

    Parameters
    ----------
    path : path-like | None
        A TOML file; ``None`` uses ``$NEUROSPELL_CONFIG`` if set, else the defaults only.
    overrides : dict | None
        ``{section: {key: value}}`` applied last (used by the command line).

    Returns
    -------
    config : Config
    """
    data = _read_toml(DEFAULTS_PATH)
    if path is None and os.environ.get("NEUROSPELL_CONFIG"):
        path = os.environ["NEUROSPELL_CONFIG"]
    if path is not None:
        data = _merge(data, _read_toml(check_fname(path, "config path")))
    if overrides:
        data = _merge(data, overrides)
    return config_from_dict(data)


def config_from_dict(data: dict) -> Config:
    """A :class:`Config` from ``{section: {key: value}}`` (e.g. :meth:`Config.to_dict`).

    Missing sections and keys take the dataclass defaults; ``None`` is allowed where a key
    may be unset (which TOML cannot say, JSON can). Unknown sections/keys are errors.
    """
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise NeurospellError(f"Unknown config section(s) {unknown}. Allowed sections are {sorted(_SECTIONS)}."
                              f"{_section_hint(unknown)}")
    return Config(**{name: section_from_dict(cls, data.get(name), name) for name, cls in _SECTIONS.items()})


#: Keys added after sessions were first recorded, with the value those sessions ran with: a
#: recorded config that lacks one ran without it (its replay must decide as it did).
BEFORE_KEYS = {"speller": {"eeg_must_agree": False}}


def recorded_config_from_dict(data: dict) -> Config:
    """A recorded session's :class:`Config` (``session.json``): like :func:`config_from_dict`,
    except that a key of :data:`BEFORE_KEYS` it lacks takes the value it ran with, not today's
    default."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, keys in BEFORE_KEYS.items():
        sec = data.setdefault(section, {})
        if isinstance(sec, dict):
            for key, value in keys.items():
                sec.setdefault(key, value)
    return config_from_dict(data)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise NeurospellError(f"config_to_toml: cannot write {value!r} ({type(value).__name__}) as TOML.")


def config_to_toml(config: Config, *, header: str = "") -> str:
    """The whole config as TOML text that :func:`load_config` reads back to an equal config.

    TOML has no "none": an unset key (``None``) is written as a comment. Where the default
    of such a key is set (e.g. ``l_freq``), reading the file back gives the default; keep
    :meth:`Config.to_dict` (JSON) where that matters (:func:`config_from_dict` reads it).

    Parameters
    ----------
    config : Config
    header : str
        Comment lines put first (each line gets ``# ``).

    Returns
    -------
    text : str
    """
    lines = [f"# {ln}" if ln else "#" for ln in header.splitlines()]
    for name, section in config.to_dict().items():
        tables = {k: v for k, v in section.items() if isinstance(v, dict)}
        lines += ["", f"[{name}]"]
        for key, value in section.items():
            if key in tables:
                continue
            if value is None:
                lines.append(f"# {key}: unset (none)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        for key, table in tables.items():
            lines += ["", f"[{name}.{key}]"]
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def write_config(config: Config, path, *, overwrite: bool = False, header: str = ""):
    """Write ``config`` as a TOML file (see :func:`config_to_toml`); returns the path."""
    path = check_fname(path, "path", must_exist=False, overwrite=overwrite)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(config_to_toml(config, header=header), encoding="utf-8")
    os.replace(tmp, path)
    return path


def default_config() -> Config:
    """The shipped defaults (ignores ``$NEUROSPELL_CONFIG``)."""
    return Config()
