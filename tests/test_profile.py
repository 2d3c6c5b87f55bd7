"""Participant profiles: the folder a participant's models live in between sessions, and
``neurospell spell --profile DIR --no-calibration`` starting from its last model."""

import json
from pathlib import Path

import pytest

from neurospell.cli import main
from neurospell.decoder import load_decoder
from neurospell.session.profile import PROFILE_JSON, Profile, ProfileError
from neurospell.session.sessiondir import SessionFolder

SESSIONS = Path(__file__).resolve().parent / "data" / "sessions"
MODEL = SESSIONS / "parametric-18uv-hello" / "derivatives" / "neurospell" / "model.pkl"


def test_profile_saves_models_atomically_with_provenance_and_reads_the_last(tmp_path):
    root = tmp_path / "anna"
    prof = Profile.open_or_new(root)
    assert prof.latest is None and not root.exists()  # nothing written before the first save
    dec = load_decoder(MODEL)
    p1 = prof.save_model(dec, session=tmp_path / "s1", n_labelled_epochs=0, started_from=str(MODEL))
    p2 = prof.save_model(dec, session=tmp_path / "s2", n_labelled_epochs=240, started_from=str(p1))
    assert p1 != p2 and p1.is_file() and p2.is_file()
    assert "profile" not in dec.provenance_  # the caller's model is left as it was
    again = Profile.open(root, must_have_model=True)
    assert again.model_path() == p2
    entry = again.latest
    assert entry["n_labelled_epochs"] == 240 and entry["session"] == str(tmp_path / "s2")
    assert entry["started_from"] == str(p1) and len(entry["sha256"]) == 64
    loaded = again.load_model()
    assert loaded.provenance_["profile"]["n_labelled_epochs"] == 240
    assert sorted(f.name for f in root.rglob("*")) == sorted(["models", PROFILE_JSON, p1.name, p2.name])  # no temp


def test_profile_errors_name_the_problem(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        Profile.open(tmp_path / "nobody")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProfileError, match="holds no model yet"):
        Profile.open(tmp_path / "empty", must_have_model=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(ProfileError, match="not a neurospell participant profile"):
        Profile.open(other)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / PROFILE_JSON).write_text("{not json")
    with pytest.raises(ProfileError, match="damaged"):
        Profile.open(bad)
    (bad / PROFILE_JSON).write_text(json.dumps({"format": "something-else", "models": []}))
    with pytest.raises(ProfileError, match="not a neurospell-profile file"):
        Profile.open(bad)
    good = tmp_path / "good"
    prof = Profile.open_or_new(good)
    path = prof.save_model(load_decoder(MODEL))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ProfileError, match="SHA-256 differs"):
        Profile.open(good).load_model()
    path.unlink()
    with pytest.raises(ProfileError, match="missing"):
        Profile.open(good).load_model()
    with pytest.raises(ProfileError, match="does not exist"):
        Profile.open_or_new(tmp_path / "no" / "such" / "place")


@pytest.mark.parametrize("argv, flag, words", [
    (["--no-calibration"], "--no-calibration", "needs a model"),
    (["--no-calibration", "--calibrate", "AB", "--model", str(MODEL)], "--model", "not both"),
    (["--no-calibration", "--profile", "{tmp}/nobody"], "--profile", "does not exist"),
    (["--no-calibration", "--profile", "{tmp}"], "--profile", "holds no model yet"),
])
def test_spell_start_options_bad_input(capsys, tmp_path, argv, flag, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["spell", "--headless", "--copy", "HI", *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and words in err, err


def test_spell_no_calibration_profile_round_trip(capsys, tmp_path):
    """A session from a given model writes it to a new profile; the next one starts from the
    profile's model, and both session folders name what they started from."""
    prof = tmp_path / "anna"
    common = ["spell", "--headless", "--source", "simulated", "--no-calibration", "--copy", "HI", "--lm",
              "uniform", "--soa", "0.1", "--inter-trial", "0.2", "--max-repetitions", "3", "--max-selections", "4"]
    assert main([*common, "--model", str(MODEL), "--profile", str(prof), "--out", str(tmp_path / "s1")]) == 0
    out = capsys.readouterr().out
    assert "calibration" not in out.split("copy 'HI'")[0].split("->")[-1]  # no calibration phase
    p = Profile.open(prof, must_have_model=True)
    first = p.model_path()
    assert p.latest["session"] == str(tmp_path / "s1") and p.latest["started_from"] == str(MODEL)
    meta = SessionFolder.open(tmp_path / "s1").meta
    assert meta["start"] == {"no_calibration": True, "adapt": True, "model": str(MODEL), "profile": str(prof)}
    assert meta["model"]["source"] == "given model"  # the replay's model
    assert main([*common, "--no-adapt", "--profile", str(prof), "--out", str(tmp_path / "s2")]) == 0
    out = capsys.readouterr().out
    assert f"--profile {prof} starts from it" in out and "adaptation" not in out
    meta = SessionFolder.open(tmp_path / "s2").meta
    assert meta["start"]["model"] == str(first) and meta["start"]["adapt"] is False
    p = Profile.open(prof)
    assert len(p.models) == 2 and p.latest["started_from"] == str(first) and p.latest["n_labelled_epochs"] == 0
    assert main(["replay", str(tmp_path / "s2")]) == 0
    assert "decisions reproduced" in capsys.readouterr().out
