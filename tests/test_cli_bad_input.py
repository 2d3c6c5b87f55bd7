"""Bad input on the command line, as a careful user meets it (issue 9).

Every case runs ``python -m neurospell ...`` in a real subprocess, in a folder holding real
files (a text file, a binary file, an empty ``.nsraw`` folder, a saved model trained on other
channels, a FIF recording...). Each must end within its deadline with exit status 2 and one
message naming the option, print no traceback, and leave the folder as it was (nothing
written, nothing deleted). The arguments are checked before any heavy import where possible,
so most cases take well under a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FIF = ROOT / "sample_data" / "neurospell_sample_raw.fif"
SAMPLE_XDF = ROOT / "sample_data" / "neurospell_sample.xdf"
LONG = "n" * 300  # longer than NAME_MAX (255 bytes) on every common file system


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    """A real LDA model trained on 3 channels at 64 Hz (the sample recording has 8 at 250 Hz)."""
    from neurospell.config import PreprocessConfig
    from neurospell.decoder import make_decoder
    from neurospell.types import EpochBatch

    rng = np.random.default_rng(0)
    n_chars, n_reps, n_groups, n_times = 4, 3, 12, 52
    n = n_chars * n_reps * n_groups
    codes = np.tile(np.arange(1, n_groups + 1), n_chars * n_reps)
    trials = np.repeat(np.arange(n_chars), n_reps * n_groups)
    targets = np.isin(codes, [2, 9])
    data = rng.normal(0, 1e-5, (n, 3, n_times)).astype(np.float32)
    data[targets, :, 15:25] += 2e-5
    batch = EpochBatch(data, codes, np.arange(n) * 0.2, 0.0, 64.0, ("C3", "Cz", "C4"),
                       targets=targets, trials=trials)
    path = tmp_path_factory.mktemp("model") / "other.pt"
    make_decoder("lda").fit(batch, PreprocessConfig()).save(path)
    # and a real FIF recording without any flash marker (2 EEG channels, 10 s at 100 Hz)
    import mne

    info = mne.create_info(["Cz", "Pz"], 100.0, "eeg")
    mne.io.RawArray(rng.normal(0, 1e-5, (2, 1000)), info, verbose="error").save(
        path.parent / "noflash_raw.fif", verbose="error")
    return path


def _prepare(folder: Path, other_model: Path) -> None:
    """The real files the cases point at."""
    (folder / "phrases.txt").write_text("hello there\nhow are you\n")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    (folder / "afolder").mkdir()
    (folder / "empty.nsraw").mkdir()
    (folder / "notamodel.pt").write_text("this is not a model\n")
    (folder / "fake.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    (folder / "bad_playback.csv").write_text("time,Fz,Cz\n0.0,1.0,2.0\n")
    (folder / "unknown_lm.toml").write_text('[lm]\nname = "gpt9"\n')
    (folder / "binary.toml").write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe\x00")
    (folder / "unknown_decoder.toml").write_text('[decoder]\nname = "resnet"\n')
    (folder / "taken.fif").write_bytes(b"an earlier recording")
    (folder / "exported.edf").write_bytes(b"an earlier export")
    (folder / "model.pt").write_bytes(other_model.read_bytes())
    os.symlink(SAMPLE_FIF, folder / "rec_raw.fif")
    os.symlink(SAMPLE_XDF, folder / "rec.xdf")
    os.symlink(other_model.parent / "noflash_raw.fif", folder / "noflash_raw.fif")


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.is_dir(), p.is_dir() or p.stat().st_size,
                                         p.is_dir() or p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


# (id, arguments, text the message must contain: the option or argument it names, deadline s)
CASES = [
    # devices / stream / record
    ("devices-wait-negative", ["devices", "--wait", "-1"], "--wait", 10),
    ("recover-missing", ["recover", "nosuch.nsraw", "--out", "x.fif"], "FILE.nsraw", 15),
    ("simulate-phrases-missing", ["simulate", "--data", "nofile.mat", "--decoder", "lda", "--phrases", "nophrases.txt"],
     "--data", 20),
    ("gui-quit-after-negative", ["gui", "--quit-after", "-1"], "--quit-after", 15),
    # simulated participant
    ("participant-hit-prob", ["simulate-participant", "--phrase", "HI", "--hit-prob", "1.5"], "--hit-prob", 15),
    ("participant-data-missing", ["simulate-participant", "--phrase", "HI", "--data", "nofile.mat"], "--data", 15),
    ("devices-wait-text", ["devices", "--wait", "soon"], "--wait", 10),
    ("stream-duration-zero", ["stream", "--board", "synthetic", "--duration", "0"], "--duration", 10),
    ("stream-board-unknown", ["stream", "--board", "nosuchboard", "--duration", "1"], "--board", 15),
    ("stream-board-lsl", ["stream", "--board", "lsl:X", "--duration", "1"], "--board", 15),
    ("record-out-edf", ["record", "--board", "synthetic", "--duration", "1", "--out", "x.edf"], "--out", 15),
    ("record-out-too-long", ["record", "--board", "synthetic", "--duration", "1", "--out", LONG + ".fif"],
     "--out", 15),
    ("record-out-missing-folder", ["record", "--board", "synthetic", "--duration", "1", "--out", "nodir/x.fif"],
     "--out", 15),
    ("record-out-is-folder", ["record", "--board", "synthetic", "--duration", "1", "--out", "afolder"],
     "--out", 15),
    ("record-out-exists", ["record", "--board", "synthetic", "--duration", "1", "--out", "taken.fif"],
     "--overwrite", 15),
    ("record-export-exists", ["record", "--board", "synthetic", "--duration", "1", "--out", "exported.fif",
                              "--export", "edf"], "exported.edf", 15),
    ("record-export-unknown", ["record", "--board", "synthetic", "--out", "y.fif", "--export", "gdf"],
     "--export", 10),
    ("record-playback-unplayable", ["record", "--board", "playback:bad_playback.csv", "--duration", "1",
                                    "--out", "p.fif"], "--board", 15),
    ("record-playback-missing", ["record", "--board", "playback:nofile.csv", "--duration", "1",
                                 "--out", "p.fif"], "--board", 15),
    # inspect / replay
    ("inspect-missing", ["inspect", "nofile.fif"], "file", 10),
    ("inspect-folder", ["inspect", "afolder"], "file", 10),
    ("inspect-empty-nsraw", ["inspect", "empty.nsraw"], "header.json", 10),
    ("inspect-plot-and-no-plot", ["inspect", "rec_raw.fif", "--plot", "a.png", "--no-plot"], "--plot", 10),
    ("inspect-plot-missing-folder", ["inspect", "rec_raw.fif", "--plot", "nodir/a.png"], "--plot", 10),
    ("inspect-xdf-stream-unknown", ["inspect", "rec.xdf", "--eeg-stream", "nope", "--no-plot"],
     "--eeg-stream", 20),
    ("train-no-flash-markers", ["train", "noflash_raw.fif", "--decoder", "lda", "--out", "m.pt"],
     "no flash annotations", 40),
    ("inspect-fmt-unknown", ["inspect", "rec_raw.fif", "--fmt", "wav", "--no-plot"], "--fmt", 10),
    ("replay-decoder-folder", ["replay", "rec_raw.fif", "--decoder", "afolder"], "--decoder", 10),
    ("replay-decoder-not-model", ["replay", "rec_raw.fif", "--decoder", "notamodel.pt"], "--decoder", 10),
    ("replay-decoder-mismatch", ["replay", "rec_raw.fif", "--decoder", "model.pt", "--lm", "uniform"],
     "--decoder", 40),
    ("replay-speed-without-lsl", ["replay", "rec_raw.fif", "--speed", "2"], "--speed", 10),
    ("replay-lm-without-decoder", ["replay", "rec_raw.fif", "--lm", "ngram"], "--lm", 10),
    ("replay-lm-hf-no-path", ["replay", "rec_raw.fif", "--decoder", "model.pt", "--lm", "hf"], "--lm", 10),
    ("replay-save-epochs-lsl", ["replay", "rec_raw.fif", "--as-lsl", "--save-epochs", "e.npz"],
     "--save-epochs", 10),
    # train / evaluate
    ("train-recording-folder", ["train", "afolder", "--out", "m.pt"], "RECORDING", 10),
    ("train-decoder-unknown", ["train", "rec_raw.fif", "--decoder", "resnet", "--out", "m.pt"], "--decoder", 30),
    ("train-out-exists", ["train", "rec_raw.fif", "--decoder", "lda", "--out", "model.pt"], "--overwrite", 30),
    ("train-neural-option-for-classical", ["train", "rec_raw.fif", "--decoder", "lda", "--max-epochs", "5",
                                           "--out", "m.pt"], "--max-epochs", 30),
    ("train-max-epochs-zero", ["train", "rec_raw.fif", "--max-epochs", "0", "--out", "m.pt"], "--max-epochs", 10),
    ("train-config-decoder-unknown", ["--config", "unknown_decoder.toml", "train", "rec_raw.fif", "--out", "m.pt"],
     "[decoder] name", 30),
    ("evaluate-model-folder", ["evaluate", "afolder", "rec_raw.fif"], "MODEL", 10),
    ("evaluate-repetitions-zero", ["evaluate", "model.pt", "rec_raw.fif", "--max-repetitions", "0"],
     "--max-repetitions", 10),
    ("evaluate-plot-missing-folder", ["evaluate", "model.pt", "rec_raw.fif", "--plot", "nodir/p.png"],
     "--plot", 10),
    # lm
    ("lm-eval-text-folder", ["lm", "eval", "--text", "afolder"], "--text", 10),
    ("lm-eval-text-binary", ["lm", "eval", "--text", "binary.txt", "--lm", "uniform"], "--text", 10),
    ("lm-eval-text-not-utf8", ["lm", "eval", "--text", "latin1.txt", "--lm", "uniform"], "--text", 10),
    ("lm-eval-json-missing-folder", ["lm", "eval", "--text", "phrases.txt", "--lm", "uniform", "--json",
                                     "nodir/r.json"], "--json", 10),
    ("lm-eval-lm-unknown", ["lm", "eval", "--text", "phrases.txt", "--lm", "gpt9"], "--lm", 10),
    ("lm-predict-k-negative", ["lm", "predict", "hi", "-k", "-3"], "-k", 10),
    ("lm-predict-k-zero", ["lm", "predict", "hi", "-k", "0"], "-k", 10),
    ("lm-predict-off-grid", ["lm", "predict", "it's", "--lm", "ngram"], "TEXT", 10),
    ("lm-predict-lm-path-without-hf", ["lm", "predict", "hi", "--lm", "ngram", "--lm-path", "afolder"],
     "--lm-path", 10),
    ("lm-build-word-order", ["lm", "build-word", "--text", "phrases.txt", "--order", "7", "--out", "w.npz"],
     "--order", 10),
    ("lm-build-word-text-missing", ["lm", "build-word", "--text", "nophrases.txt", "--out", "w.npz"], "--text", 10),
    ("lm-train-heads", ["lm", "train", "--d-model", "100", "--heads", "3", "--out", "lmdir"], "--d-model", 10),
    ("lm-build-ngram-order", ["lm", "build-ngram", "--order", "0"], "--order", 10),
    ("lm-heldout-out-folder", ["lm", "heldout", "--out", "afolder"], "--out", 10),
    ("lm-eval-no-text", ["lm", "eval", "--lm", "uniform"], "--text", 10),
    ("lm-eval-set-without-name", ["lm", "eval", "--set", "phrases.txt", "--lm", "uniform"], "--set", 10),
    ("lm-eval-set-empty-name", ["lm", "eval", "--set", "=phrases.txt", "--lm", "uniform"], "--set", 10),
    ("lm-eval-set-missing-file", ["lm", "eval", "--set", "a=nofile.txt", "--lm", "uniform"], "--set", 10),
    ("lm-eval-set-binary", ["lm", "eval", "--set", "a=binary.txt", "--lm", "uniform"], "--set", 10),
    ("lm-eval-set-twice", ["lm", "eval", "--set", "phrases=phrases.txt", "--text", "phrases.txt",
                           "--lm", "uniform"], "--set", 10),
    ("lm-eval-lm-file-missing", ["lm", "eval", "--text", "phrases.txt", "--lm", "nosuch.npz"], "--lm", 10),
    ("lm-eval-lm-file-not-a-model", ["lm", "eval", "--text", "phrases.txt", "--lm", "notamodel.pt"], "--lm", 30),
    ("lm-eval-lm-file-not-an-ngram", ["lm", "eval", "--text", "phrases.txt", "--lm", "fake.npz"], "--lm", 20),
    ("lm-eval-lm-file-with-lm-path", ["lm", "eval", "--text", "phrases.txt", "--lm", "fake.npz",
                                      "--lm-path", "afolder"], "--lm-path", 10),
    ("lm-eval-ks-lines-negative", ["lm", "eval", "--text", "phrases.txt", "--lm", "uniform", "--ks-lines", "-1"],
     "--ks-lines", 10),
    ("lm-eval-completions-zero", ["lm", "eval", "--text", "phrases.txt", "--lm", "uniform", "--completions", "0"],
     "--completions", 10),
    ("lm-build-ngram-order-17", ["lm", "build-ngram", "--order", "17", "--out", "n.npz"], "--order", 10),
    ("lm-build-ngram-text-binary", ["lm", "build-ngram", "--text", "binary.txt", "--out", "n.npz"], "--text", 10),
    ("lm-build-ngram-min-count-zero", ["lm", "build-ngram", "--min-count", "0", "--out", "n.npz"],
     "--min-count", 10),
    ("lm-corpus-sources-missing", ["lm", "corpus", "--out", "c", "--sources", "nodir"], "--sources", 10),
    ("lm-corpus-sources-file", ["lm", "corpus", "--out", "c", "--sources", "phrases.txt"], "--sources", 10),
    ("lm-corpus-out-file", ["lm", "corpus", "--out", "phrases.txt", "--sources", "afolder"], "--out", 10),
    ("lm-corpus-source-unknown", ["lm", "corpus", "--out", "c", "--sources", "afolder", "--source", "reddit"],
     "--source", 10),
    ("lm-corpus-sources-empty", ["lm", "corpus", "--out", "c", "--sources", "afolder", "--source", "wordnet"],
     "wordnet", 20),
    # demo
    ("demo-lm-unknown", ["demo", "--lm", "gpt9"], "--lm", 10),
    ("demo-lm-hf-no-path", ["demo", "--lm", "hf"], "--lm", 30),
    ("demo-decoder-unknown", ["demo", "--decoder", "resnet"], "--decoder", 30),
    ("demo-recording-folder", ["demo", "--recording", "afolder"], "--recording", 10),
    # spell (live session)
    ("spell-source-unknown", ["spell", "--source", "bogus", "--headless"], "--source", 10),
    ("spell-copy-off-grid", ["spell", "--headless", "--copy", "hello"], "--copy", 10),
    ("spell-no-headless", ["spell", "--copy", "HI"], "--headless", 10),
    ("spell-out-is-a-file", ["spell", "--headless", "--out", "phrases.txt"], "--out", 10),
    ("spell-amplitude-not-simulated", ["spell", "--source", "synthetic", "--headless", "--amplitude", "3"],
     "--amplitude", 10),
    # timing-check
    ("timing-check-missing", ["timing-check", "nofile.fif", "--photodiode", "PD"], "RECORDING_OR_SESSION_DIR", 10),
    ("timing-check-no-channel", ["timing-check", "rec_raw.fif", "--photodiode", "PD"], "--photodiode", 30),
    ("timing-check-empty-channel", ["timing-check", "rec_raw.fif", "--photodiode", " "], "--photodiode", 10),
    # config (checked at load, for every command)
    ("config-unknown-lm", ["--config", "unknown_lm.toml", "lm", "list"], "[lm] name", 10),
    ("config-binary", ["--config", "binary.toml", "lm", "list"], "--config", 10),
    ("config-folder", ["--config", "afolder", "lm", "list"], "--config", 10),
]


def _run(args, cwd: Path, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if k != "NEUROSPELL_CONFIG"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
               COLUMNS="200")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "neurospell", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc, time.monotonic() - t0


@pytest.mark.parametrize("args, names, deadline", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_error_before_any_work(tmp_path, other_model, args, names, deadline):
    _prepare(tmp_path, other_model)
    before = _snapshot(tmp_path)
    proc, elapsed = _run(args, tmp_path, timeout=deadline)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, f"exit status {proc.returncode}, output:\n{output}"
    assert "Traceback" not in output, output
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, f"expected one error message, got:\n{proc.stderr}"
    assert names in errors[0], f"the message does not name {names!r}: {errors[0]}"
    # no Python API words on the command line
    for word in ("overwrite=True", "eeg_stream=", "load_recording", "params["):
        assert word not in errors[0], errors[0]
    assert _snapshot(tmp_path) == before, "the command wrote or deleted files"
    assert elapsed < deadline


def test_every_subcommand_has_a_bad_input_case():
    from neurospell.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = set(sub.choices) - {"lm"}
    lm = next(a for a in sub.choices["lm"]._actions if a.dest == "lm_command")
    commands |= {f"lm {c}" for c in lm.choices} - {"lm list"}  # lm list takes no argument
    covered = {" ".join(c[1][c[1].index(w):][:2]) if w == "lm" else w
               for c in CASES for w in c[1] if w in sub.choices}
    missing = sorted(commands - covered)
    assert not missing, f"subcommands without a bad-input case: {missing}"


def test_traceback_only_with_verbose_debug(tmp_path):
    """The same failure prints a traceback with --verbose debug, and only then."""
    (tmp_path / "taken.fif").write_bytes(b"x")
    args = ["record", "--board", "synthetic", "--duration", "1", "--out", "taken.fif"]
    plain, _ = _run(args, tmp_path, timeout=20)
    debug, _ = _run(["--verbose", "debug", *args], tmp_path, timeout=20)
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "--overwrite" in debug.stderr


def test_devices_wait_is_interruptible(tmp_path):
    """Ctrl-C stops `devices --wait` at once: exit status 130, no traceback."""
    import signal

    env = {k: v for k, v in os.environ.items() if k != "NEUROSPELL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "neurospell", "devices", "--wait", "600"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # printed (flushed) just before the wait starts
        assert line.startswith("Looking for LSL streams for 600 s"), line
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert time.monotonic() - t0 < 10


def test_ctrl_c_during_lm_eval_leaves_no_partial_file(tmp_path):
    """Ctrl-C while `lm eval` loads or scores: exit status 130, no traceback, no JSON half-written."""
    import signal

    (tmp_path / "phrases.txt").write_text("how are you doing today my friend\n" * 400)
    env = {k: v for k, v in os.environ.items() if k != "NEUROSPELL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "neurospell", "lm", "eval", "--text", "phrases.txt",
                             "--lm", "transformer", "--json", "r.json"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "set phrases: ..." is printed (flushed) before the model loads
        assert line.startswith("set phrases"), (line, proc.stderr.read())
        proc.send_signal(signal.SIGINT)  # while it loads or scores (keystroke savings alone take seconds)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phrases.txt"]
