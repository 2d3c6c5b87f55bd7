"""The command line's one error-to-message place and its argument helpers (in process)."""

from __future__ import annotations

import argparse
import errno
import threading
import time

import pytest
from brainflow.data_filter import DataFilter
from helpers.acq_boards import synthetic_board_data

from neurospell.check import NeurospellError
from neurospell.cli import _subparser, build_parser, cli_message
from neurospell.commands import _args, _runtime


def _parser_of(*words):
    parser = build_parser()
    return _subparser(parser, argparse.Namespace(command=words[0], lm_command=words[1] if len(words) > 1 else None))


@pytest.mark.parametrize("command, err, want, gone", [
    (("record",), FileExistsError("path: 'a.fif' exists; pass overwrite=True or choose another path."),
     "pass --overwrite or choose", "overwrite=True"),
    (("inspect",), NeurospellError("no sampled stream named 'x'. Pass eeg_stream= one of those names."),
     "Pass --eeg-stream one of those names", "eeg_stream="),
    (("inspect",), NeurospellError("Invalid value for the 'fmt' parameter. Allowed values are 'fif'."),
     "Invalid value for --fmt.", "'fmt' parameter"),
    (("train",), NeurospellError("epochs_from_raw: the recording has no flash annotations; its annotations "
                                 "are none. Read it with load_recording, which maps speller markers to "
                                 "flash annotations."),
     "`neurospell inspect FILE`", "load_recording"),
    (("inspect",), NeurospellError("board_id is only used for BrainFlow files, but 'a.fif' reads as fif."),
     "--board-id is only used for BrainFlow files", "board_id"),
    (("record",), OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300), "Choose a shorter file name",
     "Errno"),
    (("lm", "eval"), PermissionError(errno.EACCES, "Permission denied", "/root/r.json"),
     "Choose a path you can write to", "Errno"),
])
def test_library_words_become_flags(command, err, want, gone):
    text = cli_message(err, _parser_of(*command))
    assert want in text and gone not in text, text


@pytest.mark.parametrize("kind, kw, text, ok", [
    (float, dict(min=0), "0", 0.0),
    (float, dict(min=0, strict_min=True), "0", None),
    (float, dict(min=0), "-1", None),
    (float, dict(min=0), "nan", None),
    (float, dict(min=0), "inf", None),
    (float, dict(max=10), "10.5", None),
    (int, dict(min=1), "3", 3),
    (int, dict(min=1), "2.5", None),
    (int, dict(min=1), "three", None),
])
def test_number(kind, kw, text, ok):
    parse = _args.number(kind, **kw)
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            parse(text)
    else:
        assert parse(text) == ok and type(parse(text)) is kind


def test_output_file_checks(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(_args.UsageError, match="--json: .* already exists. Pass --overwrite"):
        _args.check_output_file("--json", str(tmp_path / "x.json"))
    assert _args.check_output_file("--json", str(tmp_path / "x.json"), overwrite=None).name == "x.json"
    with pytest.raises(_args.UsageError, match="allows at most"):
        _args.check_output_file("--out", str(tmp_path / ("n" * 300 + ".fif")))
    with pytest.raises(_args.UsageError, match="must end with .png"):
        _args.check_output_file("--plot", str(tmp_path / "p.jpg"), suffixes=(".png",))
    with pytest.raises(_args.UsageError, match="is a folder"):
        _args.check_output_file("--out", str(tmp_path))
    with pytest.raises(_args.UsageError, match="does not exist. Create it first"):
        _args.check_output_file("--out", str(tmp_path / "no" / "x.fif"))


def test_interruptible_returns_and_raises():
    assert _runtime.interruptible(lambda a, b: a + b, 1, b=2) == 3

    def boom():
        raise NeurospellError("bad")

    with pytest.raises(NeurospellError, match="bad"):
        _runtime.interruptible(boom)


def test_interruptible_sees_ctrl_c_during_a_blocking_call():
    """KeyboardInterrupt raised in the main thread ends the wait; the worker is left behind."""
    import _thread

    release = threading.Event()
    threading.Timer(0.2, _thread.interrupt_main).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _runtime.interruptible(release.wait, 30)
    assert time.monotonic() - t0 < 5
    release.set()


def test_heartbeat_quiet_for_short_steps_and_reports_long_ones(capsys):
    with _runtime.heartbeat("short step", quiet=5.0):
        pass
    assert capsys.readouterr().err == ""
    with _runtime.heartbeat("long step", every=0.05, quiet=0.05):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "long step: " not in capsys.readouterr().err:
            time.sleep(0.02)
    err = capsys.readouterr().err
    assert "long step: done in" in err


def test_board_spec_accepts_a_file_brainflow_wrote_and_names_what_is_wrong(tmp_path):
    good = tmp_path / "synthetic.csv"
    DataFilter.write_file(synthetic_board_data(50), str(good), "w")
    assert _args.board_spec_problem(f"playback:{good}") is None
    assert _args.board_spec_problem("synthetic") is None
    assert _args.board_spec_problem("lsl:amp+amp-markers") is None
    few = tmp_path / "few.csv"
    few.write_text("1.0\t2.0\t3.0\n")
    assert "has 3 columns, but a recording of board 'synthetic' has" in _args.board_spec_problem(f"playback:{few}")
    assert "unknown board 'cyton2'" in _args.board_spec_problem("cyton2")
    assert "give the LSL stream name" in _args.board_spec_problem("lsl:")
    assert "'playback:FILE'" in _args.board_spec_problem("playback")
