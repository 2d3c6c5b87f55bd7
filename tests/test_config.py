"""Config: one frozen tree from TOML; errors name the section and key."""

import dataclasses
import sys

import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_defaults_toml_matches_dataclass_defaults():
    assert load_config().to_dict() == Config().to_dict()


def test_user_file_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[preprocessing]\nh_freq = 12.0\nbaseline = [-0.1, 0.0]\n[lm]\nalpha = 0.5\n')
    cfg = load_config(p)
    assert cfg.preprocessing.h_freq == 12.0
    assert cfg.preprocessing.baseline == (-0.1, 0.0)
    assert cfg.lm.alpha == 0.5
    assert cfg.decoder == Config().decoder
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lm.alpha = 2.0


@pytest.mark.parametrize(
    "text, match",
    [
        ("[preprocessing]\nhfreq = 3\n", r"Unknown key\(s\) \['hfreq'\] in config section \[preprocessing\]"),
        ("[nope]\na = 1\n", r"Unknown config section \[nope\]"),
        ('[decoder]\nmax_epochs = "ten"\n', r"\[decoder\] max_epochs must be of type"),
        ("[preprocessing]\nl_freq = 30.0\nh_freq = 20.0\n", "must be below h_freq"),
        ('[lsl]\nresolve_scope = "planet"\n', "resolve_scope"),
        ('[speller]\nsymbols = "ABC"\n', "symbols has 3 characters"),
        ("[lm\n", "not valid TOML"),
    ],
)
def test_bad_config_errors(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(NeurospellError, match=match):
        load_config(p)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_shipped_defaults_parse():
    from neurospell.config import DEFAULTS_PATH

    with open(DEFAULTS_PATH, "rb") as f:
        assert set(tomllib.load(f)) == {"lsl", "acquisition", "preprocessing", "decoder", "lm", "speller"}


def test_speller_layout_from_config():
    lay = load_config().speller.layout()
    assert lay.n_groups == 12
