"""One frozen config tree, loaded from TOML; each stage receives only its own section.

Precedence: the defaults shipped in ``defaults.toml`` < a user TOML file (``path`` or
``$NEUROSPELL_CONFIG``) < explicit ``overrides``. Environment variables are used only for
paths and the log level.
"""

from __future__ import annotations

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


def _merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        if key not in _SECTIONS:
            raise NeurospellError(
                f"Unknown config section [{key}]. Allowed sections are {sorted(_SECTIONS)}."
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
    return Config(**{name: section_from_dict(cls, data.get(name), name) for name, cls in _SECTIONS.items()})


def default_config() -> Config:
    """The shipped defaults (ignores ``$NEUROSPELL_CONFIG``)."""
    return Config()
