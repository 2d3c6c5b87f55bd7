"""Atomic writes (neurospell.fileio): complete or absent, Ctrl-C included."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neurospell.fileio import PARTIAL_PREFIX, atomic_path, atomic_write


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(PARTIAL_PREFIX)]


def test_atomic_write_text_and_binary(tmp_path):
    out = tmp_path / "r.json"
    with atomic_write(out) as fid:
        json.dump({"a": "é"}, fid)
        assert not out.exists()  # nothing at the destination until the block ends
    assert json.loads(out.read_text(encoding="utf-8")) == {"a": "é"}
    with atomic_write(out, "wb") as fid:  # replaces
        fid.write(b"\x00\x01")
    assert out.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would create it
    assert _leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_write(out, "a"):
            pass


def test_error_leaves_the_previous_file(tmp_path):
    out = tmp_path / "model.bin"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(out, "wb") as fid:
            fid.write(b"new, half")
            raise RuntimeError("boom")
    assert out.read_bytes() == b"old"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.npz") as tmp:
            np.savez(tmp, x=np.arange(3))
            raise KeyboardInterrupt
    assert not (tmp_path / "new.npz").exists()
    assert _leftovers(tmp_path) == []


def test_atomic_path_keeps_the_name_ending(tmp_path):
    out = tmp_path / "session_raw.fif"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("session_raw.fif") and tmp != out
        with open(tmp, "wb") as fid:
            np.save(fid, np.arange(4))
    assert np.array_equal(np.load(out), np.arange(4))
    assert _leftovers(tmp_path) == []


def test_ctrl_c_while_writing_leaves_nothing(tmp_path):
    """A real process interrupted by SIGINT in the middle of a write."""
    out = tmp_path / "big.bin"
    code = textwrap.dedent(f"""
        import sys
        from neurospell.fileio import atomic_write
        with atomic_write({str(out)!r}, "wb") as fid:
            fid.write(b"x" * 1024)
            print("writing", flush=True)
            while True:  # until interrupted
                fid.write(b"x" * 1024)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert not out.exists()
    assert _leftovers(tmp_path) == []
