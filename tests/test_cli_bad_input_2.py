"""More bad input, each one clear message naming the cause (issue 18, item 9).

Real files throughout: the g.tec recordings, a 6-channel FIF cut from one with MNE, crash
copies and session folders written by the real writers, then damaged on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from neurospell.cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers.session_writer import write_session  # noqa: E402


def _cli(capfd, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return rc, out, err


def _one_error(rc, err, *names):
    assert rc == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], f"{name!r} not in: {lines[0]}"
    return lines[0]


@pytest.fixture(scope="module")
def lda_model(gtec_files, tmp_path_factory) -> Path:
    """A real LDA trained on S1 (5 characters, 15 repetitions each)."""
    model = tmp_path_factory.mktemp("model") / "s1.pt"
    assert main(["train", str(gtec_files[0]), "--decoder", "lda", "--out", str(model)]) == 0
    return model


# -- recover, spell ---------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [b'{"format": "neurospell-rawlog", "ver', bytes(range(128, 256)) * 3],
                         ids=["truncated-json", "garbage-bytes"])
def test_recover_names_a_damaged_header(tmp_path, capfd, header):
    folder = tmp_path / "x.nsraw"
    folder.mkdir()
    (folder / "header.json").write_bytes(header)
    (folder / "samples.bin").write_bytes(os.urandom(300))
    rc, _, err = _cli(capfd, "recover", folder, "--out", tmp_path / "x_raw.fif")
    _one_error(rc, err, "header.json", "damaged", "`neurospell record`")
    assert not (tmp_path / "x_raw.fif").exists()


def test_spell_replay_source_that_does_not_exist(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capfd, "spell", "--source", "replay:nofile.fif", "--headless")
    _one_error(rc, err, "--source", "'nofile.fif' does not exist")


# -- train ------------------------------------------------------------------------------------------
def test_train_names_recordings_that_cannot_be_pooled(gtec_files, tmp_path, capfd):
    from neurospell.preprocessing import load_recording

    raw = load_recording(gtec_files[0])
    six = tmp_path / "S1_6ch_raw.fif"
    raw.pick(raw.ch_names[:6]).save(six, verbose="error")
    rc, _, err = _cli(capfd, "train", gtec_files[0], six, "--decoder", "lda", "--out", tmp_path / "m.pt")
    line = _one_error(rc, err, "S1_6ch_raw.fif", "S1.mat", "channels: 8 vs 6", "Oz, PO8", "raw.pick(")
    assert "EpochBatch.concatenate" not in line
    assert not (tmp_path / "m.pt").exists()


def test_spell_neural_decoder_with_too_short_a_calibration(capfd):
    # before: the training process's traceback, then the decoder's error, after a calibration
    rc, _, err = _cli(capfd, "spell", "--headless", "--calibrate", "AB", "--decoder", "xdawnts-net", "--copy", "HI")
    line = _one_error(rc, err, "--calibrate", "xdawnts-net", "at least 3", "'AB'")
    assert "xdawncov-ts-lr" in line
    # a classical decoder and a 3-character text both pass this check
    import argparse

    from neurospell.commands.spell import _check_calibration_size
    from neurospell.config import load_config
    cfg = load_config()
    for dec, text in (("xdawncov-ts-lr", "AB"), ("xdawnts-net", "ABC")):
        _check_calibration_size(argparse.Namespace(decoder=dec, calibrate=text, model=None), cfg)


def test_train_refuses_the_same_file_twice(gtec_files, tmp_path, capfd):
    alias = tmp_path / "alias.mat"
    alias.symlink_to(gtec_files[0])
    for second in (gtec_files[0], alias):
        rc, out, err = _cli(capfd, "train", gtec_files[0], second, "--decoder", "lda", "--out", tmp_path / "m.pt")
        _one_error(rc, err, "same file", "item 1", "item 2", "Give each file once")
        assert "Training" not in out


def test_train_n_folds_above_the_characters_names_the_maximum(gtec_files, tmp_path, capfd):
    rc, out, err = _cli(capfd, "train", gtec_files[0], "--decoder", "eegnet", "--n-folds", "1000",
                        "--max-epochs", "1", "--out", tmp_path / "m.pt")
    _one_error(rc, err, "--n-folds", "5 characters", "got 1000", "--n-folds 5 or fewer")
    assert "Training" not in out  # refused before any training


def test_train_help_names_the_decoders_and_no_missing_flag(capfd):
    from neurospell.decoder import list_decoders

    assert main(["train", "--help"]) == 0
    out = " ".join(capfd.readouterr().out.split())
    assert "--list" not in out
    for name in list_decoders():
        assert name in out, name


# -- evaluate, inspect: repetitions, plots --------------------------------------------------------
def test_evaluate_max_repetitions_checked_against_the_recordings(lda_model, gtec_files, tmp_path, capfd,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _cli(capfd, "evaluate", lda_model, gtec_files[1], "--max-repetitions", "100000")
    _one_error(rc, err, "--max-repetitions", "at most 15 repetitions", "got 100000", "--max-repetitions 15 or fewer")
    assert "repetitions  accuracy" not in out
    # within what was recorded, and no PNG without --plot (neither here nor beside the model)
    before = sorted(lda_model.parent.iterdir())
    rc, out, err = _cli(capfd, "evaluate", lda_model, gtec_files[1], "--max-repetitions", "15",
                        "--n-selections", "20")
    assert rc == 0, err
    assert out.count("\n") > 15 and "Wrote" not in out
    assert list(tmp_path.iterdir()) == [] and sorted(lda_model.parent.iterdir()) == before


def test_inspect_writes_a_plot_only_with_plot(gtec_files, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _cli(capfd, "inspect", gtec_files[0])
    assert rc == 0, err
    assert "ERP plot" not in out and list(tmp_path.iterdir()) == []
    rc, out, err = _cli(capfd, "inspect", gtec_files[0], "--plot", "erp.png")
    assert rc == 0 and (tmp_path / "erp.png").read_bytes()[:4] == b"\x89PNG"


# -- timing-check -----------------------------------------------------------------------------------
def test_timing_check_refuses_an_eeg_channel_as_photodiode(gtec_files, capfd):
    rc, out, err = _cli(capfd, "timing-check", gtec_files[0], "--photodiode", "Fz")
    _one_error(rc, err, "--photodiode", "'Fz' (eeg)", "no two clear levels", "'PO8'")
    assert "offset" not in out


# -- replay SESSION_DIR: damage named ---------------------------------------------------------------
@pytest.fixture(scope="module")
def session_root(tmp_path_factory) -> Path:
    folder, _ = write_session(tmp_path_factory.mktemp("sess") / "S01", max_test_phrases=1)
    folder.close()
    return folder.root


def _damaged(session_root, tmp_path, how) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(session_root, root)
    log = root / "derivatives" / "neurospell" / "decisions.jsonl"
    if how == "log-deleted":
        log.unlink()
    elif how == "log-cut":
        data = log.read_bytes()
        log.write_bytes(data[: len(data) // 2])
    else:
        meta = json.loads((root / "derivatives" / "neurospell" / "session.json").read_text())
        run = next(r for r in meta["runs"] if r["task"] == "spelling")
        samples = root / run["rawlog"] / "samples.bin"
        os.truncate(samples, samples.stat().st_size // 2)
    return root


@pytest.mark.parametrize("how, names", [
    ("log-deleted", ("decisions.jsonl", "is missing", "--decoder")),
    ("log-cut", ("decisions.jsonl", "ends in a cut line", "every phase finished")),
    ("samples-cut", ("samples.bin", "holds", "when task-spelling run-1 finished", "BIDS copy")),
])
def test_replay_names_the_damage_of_a_session_folder(session_root, tmp_path, capfd, how, names):
    root = _damaged(session_root, tmp_path, how)
    rc, out, err = _cli(capfd, "replay", root)
    _one_error(rc, err, "changed after its session ended", "restore the files from a backup", *names)
    assert "did not reproduce" not in err + out


# -- config ----------------------------------------------------------------------------------------
def test_config_gui_table_points_to_gui_toml(tmp_path, capfd):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[gui]\ntheme = 'dark'\n")
    rc, _, err = _cli(capfd, "--config", cfg, "lm", "list")
    _one_error(rc, err, "--config", "[gui]", "gui.toml", "--settings")


def test_config_keys_are_not_rewritten_as_flags(tmp_path, capfd):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[speller]\nmax_selections = -3\n")
    rc, _, err = _cli(capfd, "--config", cfg, "spell", "--headless", "--copy", "HI")  # spell has --max-selections
    line = _one_error(rc, err, "[speller] max_selections must be >= 0")
    assert "--max-selections" not in line


# -- library noise on the terminal ------------------------------------------------------------------
def test_liblsl_error_lines_stay_off_the_terminal(tmp_path):
    """A stream that ends under a connected inlet: liblsl would print an ERR| line with its C++ path."""
    script = tmp_path / "lsl_end.py"
    script.write_text(
        "import time\n"
        "from neurospell.lsl import get_pylsl\n"
        "pylsl = get_pylsl()\n"
        "out = pylsl.StreamOutlet(pylsl.StreamInfo('ns-errline', 'EEG', 2, 100, 'float32', 'ns-errline-1'))\n"
        "inlet = pylsl.StreamInlet(pylsl.resolve_byprop('name', 'ns-errline', timeout=10)[0])\n"
        "inlet.open_stream(timeout=10)\n"
        "n, deadline = 0, time.monotonic() + 10\n"
        "while n < 5 and time.monotonic() < deadline:\n"
        "    out.push_sample([1.0, 2.0])\n"
        "    n += len(inlet.pull_chunk(timeout=0.05)[1])\n"
        "assert n >= 5, n\n"
        "del out\n"
        "deadline = time.monotonic() + 2\n"  # the receiver notices the end and reconnects meanwhile
        "while time.monotonic() < deadline:\n"
        "    inlet.pull_chunk(timeout=0.1)\n"
        "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LSLAPICFG", "NEUROSPELL_KEEP_LSLAPICFG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert "ERR|" not in proc.stderr and ".cpp" not in proc.stderr, proc.stderr


def test_mne_export_warning_is_one_clear_line(tmp_path, capfd, caplog):
    """`record --export edf`: MNE's padding warning said once, in the recording's words, no source path."""
    out = tmp_path / "r_raw.fif"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc, _, err = _cli(capfd, "record", "--board", "synthetic", "--duration", "1.5", "--out", out,
                          "--export", "edf")
    assert rc == 0, err
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    lines = [r.getMessage() for r in caplog.records if "EDF stores whole data blocks" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("r_raw.edf: ") and "repeat the final sample" in lines[0], lines
    assert ".py:" not in err and "RuntimeWarning" not in err, err
    assert (tmp_path / "r_raw.edf").stat().st_size > 0


def test_other_library_warnings_are_one_log_line_without_a_path(capfd, caplog):
    from neurospell.logs import log_warning_line

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = log_warning_line
        warnings.warn("something MNE says", RuntimeWarning, stacklevel=1)
    err = capfd.readouterr().err
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == ["RuntimeWarning: something MNE says"], said
    assert ".py:" not in err, err
