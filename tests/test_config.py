"""Config: one frozen tree from TOML; errors name the section and key."""

import dataclasses
import sys

import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config, config_from_dict, load_config, recorded_config_from_dict

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


def _documented_keys(text: str) -> dict[str, dict[str, bool]]:
    """``{section: {key: has_comment}}`` of defaults.toml: keys set (``k = v``) or shown
    commented out (``# k = v``), and whether a description comment precedes their group."""
    import re

    key_re = re.compile(r"^(?:#\s*)?([a-z_][a-z0-9_]*)\s*=")
    out: dict[str, dict[str, bool]] = {}
    section = None
    described = False
    for line in text.splitlines():
        s = line.strip()
        head = re.match(r"^\[([a-z_.]+)\]$", s)
        if head:
            name = head.group(1)
            if "." in name:  # a sub-table is a key of its parent section
                parent, key = name.split(".", 1)
                out.setdefault(parent, {})[key] = described
            else:
                section = name
                out.setdefault(section, {})
            described = False
            continue
        if not s:
            described = False
            continue
        m = key_re.match(s)
        if m and section is not None:
            out[section][m.group(1)] = described
        elif s.startswith("#"):
            described = True
    return out


def test_defaults_toml_documents_every_key():
    """Every field of every config dataclass is in defaults.toml, with a comment."""
    from neurospell.config import _SECTIONS, DEFAULTS_PATH

    doc = _documented_keys(DEFAULTS_PATH.read_text())
    for section, cls in _SECTIONS.items():
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(fields - set(doc.get(section, {})))
        assert not missing, f"[{section}] keys missing from defaults.toml: {missing}"
        bare = sorted(k for k in fields if not doc[section][k])
        assert not bare, f"[{section}] keys without a comment in defaults.toml: {bare}"
        unknown = sorted(set(doc[section]) - fields)
        assert not unknown, f"[{section}] keys in defaults.toml that the config does not have: {unknown}"


def test_defaults_toml_commented_examples_are_valid(tmp_path):
    """The commented-out examples (keys whose default is none) load when uncommented."""
    import re

    from neurospell.config import DEFAULTS_PATH

    text = DEFAULTS_PATH.read_text()
    uncommented = re.sub(r"(?m)^#\s*([a-z_][a-z0-9_]*\s*=)", r"\1", text)
    assert uncommented != text
    p = tmp_path / "all.toml"
    p.write_text(uncommented)
    cfg = load_config(p)
    assert cfg.preprocessing.notch == 50.0
    assert cfg.preprocessing.baseline == (-0.1, 0.0)
    assert cfg.preprocessing.resample_sfreq == 125.0
    assert cfg.preprocessing.reject_uv == 150.0


@pytest.mark.parametrize("content, match", [
    (b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe", "not a UTF-8 text file"),
    (None, "is a folder"),
])
def test_config_file_not_text(tmp_path, content, match):
    p = tmp_path / "cfg.toml"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(NeurospellError, match=match):
        load_config(p)


def test_a_recorded_config_without_a_later_key_runs_as_it_did():
    """A session recorded before ``[speller] eeg_must_agree`` existed ran without it: its
    replay reads ``false``; today's default is ``true``; a recorded value is kept."""
    data = Config().to_dict()
    del data["speller"]["eeg_must_agree"]
    assert Config().speller.eeg_must_agree is True
    assert config_from_dict(data).speller.eeg_must_agree is True
    assert recorded_config_from_dict(data).speller.eeg_must_agree is False
    data["speller"]["eeg_must_agree"] = True
    assert recorded_config_from_dict(data).speller.eeg_must_agree is True
    assert "eeg_must_agree" not in Config().to_dict()["lm"]  # (the input is not changed)
