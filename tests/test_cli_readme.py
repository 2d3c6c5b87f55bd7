"""The README's command table is true: every command in it exists with the options it shows,
answers ``--help``, and the cheap ones run for real (in subprocesses, on real files)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from neurospell.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FIF = ROOT / "sample_data" / "neurospell_sample_raw.fif"


def _table_commands() -> list[str]:
    """The first cell of each row of the README's "Command line" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [re.match(r"\| `([^`]+)`", row).group(1).replace("\\|", "|") for row in rows]
    assert len(cells) >= 10, cells
    return cells


def _expand(cell: str) -> list[tuple[list[str], list[str]]]:
    """(subcommand words, flags shown) for a table cell; ``lm list|eval`` gives one per name."""
    words = cell.split()
    if words[0] == "torchrun":  # the distributed entry point: a module with its own parser
        return [(["torchrun", words[words.index("-m") + 1]], [])]
    assert words[0] == "neurospell", cell
    flags = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", cell)
    if words[1] == "lm":
        return [(["lm", name], flags) for name in words[2].split("|")]
    return [([words[1]], flags)]


CASES = [case for cell in _table_commands() for case in _expand(cell)]


def _subparser(words):
    parser = build_parser()
    for w in words:
        sub = next(a for a in parser._actions if a.dest in ("command", "lm_command"))
        parser = sub.choices[w]
    return parser


@pytest.mark.parametrize("words, flags", CASES, ids=[" ".join(w) for w, _ in CASES])
def test_readme_command_exists_with_its_options(words, flags, capsys):
    if words[0] == "torchrun":
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-m", words[1], "--help"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "usage" in proc.stdout
        return
    parser = _subparser(words)
    known = {o for a in parser._actions for o in a.option_strings}
    missing = [f for f in flags if f not in known]
    assert not missing, f"README shows {missing} for `neurospell {' '.join(words)}`, which has {sorted(known)}"
    assert main([*words, "--help"]) == 0
    assert "usage: neurospell " + " ".join(words) in capsys.readouterr().out


def _run(args, cwd, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "NEUROSPELL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "neurospell", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"neurospell {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def test_cheap_commands_run_for_real(tmp_path):
    """devices, stream, record (with both exports), inspect, replay, lm list/predict/eval."""
    import mne

    out = _run(["devices", "--wait", "0"], tmp_path).stdout
    assert "SYNTHETIC_BOARD" in out and "LSL streams visible" in out
    assert "Streamed" in _run(["stream", "--board", "synthetic", "--duration", "1"], tmp_path).stdout

    _run(["record", "--board", "synthetic", "--duration", "1", "--out", "rec_raw.fif",
          "--export", "edf", "--export", "brainvision"], tmp_path)
    fif = mne.io.read_raw_fif(tmp_path / "rec_raw.fif", verbose="error")
    vhdr = mne.io.read_raw_brainvision(tmp_path / "rec_raw.vhdr", verbose="error")
    edf = mne.io.read_raw_edf(tmp_path / "rec_raw.edf", verbose="error")
    assert fif.n_times > 0 and vhdr.n_times == fif.n_times and edf.n_times >= fif.n_times
    assert vhdr.ch_names == fif.ch_names
    assert not (tmp_path / "rec_raw.nsraw").exists()

    out = _run(["inspect", str(SAMPLE_FIF), "--plot", "erp.png"], tmp_path).stdout
    assert "flashes:" in out and (tmp_path / "erp.png").stat().st_size > 0
    out = _run(["replay", str(SAMPLE_FIF), "--no-progress"], tmp_path).stdout
    assert "epochs:" in out

    assert "mixture" in _run(["lm", "list"], tmp_path).stdout
    assert "ARE" in _run(["lm", "predict", "how ar", "--lm", "ngram", "-k", "3"], tmp_path).stdout
    (tmp_path / "t.txt").write_text("see you tomorrow\nthanks, bye!\n")
    proc = _run(["lm", "eval", "--text", "t.txt", "--lm", "ngram", "--json", "r.json"], tmp_path)
    assert "ngram" in proc.stdout and (tmp_path / "r.json").exists()
    # characters off the grid are reported with their counts, not dropped silently
    assert "2 characters of 't.txt' are not on the speller grid" in proc.stderr
    assert "',' x1" in proc.stderr and "'!' x1" in proc.stderr
