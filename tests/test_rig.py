"""The live rig (neurospell.session.rig.open_rig): one marker outlet, every source built with
the ``[acquisition]`` settings, every resource closed after a normal exit and after a failure
while opening. Real LSL on loopback, real participant processes, real outlet processes."""

import ast
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from neurospell.acquisition import LslSource, list_streams
from neurospell.check import NeurospellError, StreamError
from neurospell.cli import main
from neurospell.config import load_config
from neurospell.lsl import local_clock
from neurospell.session.markerlink import session_source_id
from neurospell.session.rig import ConnectRequest, open_rig

ROOT = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).parent / "helpers"
#: Not the defaults (30, 0.005, 2, 0.05): each must reach the source.
ACQ = {"buffer_seconds": 7.0, "poll_interval": 0.004, "stall_timeout": 3.5, "gap_tolerance": 0.02}


@pytest.fixture
def config():
    return load_config(None, {"acquisition": ACQ})


def _tag() -> str:
    return f"test-rig-{uuid.uuid4().hex[:8]}"


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _named(name: str, wait: float = 1.0) -> list[dict]:
    """The LSL streams named ``name`` that are visible."""
    return [s for s in list_streams(wait) if s["name"] == name]


def _count(name: str, wait: float = 1.0) -> int:
    return len(_named(name, wait))


def _gone(*names: str) -> None:
    """Every stream in ``names`` stops being resolvable (within seconds)."""
    _wait(lambda: not any(_count(n, 0.5) for n in names), 15.0, f"the LSL streams {names} to vanish")


def _children_with(text: str) -> list[int]:
    """Pids of live child processes of this one whose command line contains ``text``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and text in cmd:
            out.append(int(d.name))
    return out


def _acquisition_threads() -> set:
    return {t for t in threading.enumerate() if t.name.startswith("neurospell-lsl") and t.is_alive()}


def _check_settings(source) -> None:
    for key, value in ACQ.items():
        assert getattr(source, key) == value, (key, getattr(source, key), value)


def _publisher(name: str) -> subprocess.Popen:
    """Another process publishing the EEG stream ``name`` until killed."""
    cmd = [sys.executable, str(HELPERS / "acq_outlet.py"), "--name", name, "--t0", repr(local_clock()),
           "--n-channels", "4", "--sfreq", "250"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _recording(path: Path) -> Path:
    """A small FIF recording with flash annotations, to replay."""
    sfreq, n = 250.0, 250 * 20
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(1e-6 * rng.standard_normal((4, n)),
                          mne.create_info(["Fz", "Cz", "Pz", "Oz"], sfreq, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations(np.arange(1.0, 19.0, 0.5), 0.0, ["flash:1"] * 36))
    raw.save(path, verbose="error")
    return path


def _samples_arrive(rig) -> None:
    _wait(lambda: rig.read_samples() is not None, 20.0, "samples from the rig's source")


@pytest.mark.parametrize("kind", ["replay", "lsl", "simulated"])
def test_spell_builds_its_lsl_source_with_the_acquisition_settings(kind, tmp_path, capsys):
    """``neurospell spell --source replay:FILE | lsl:NAME | simulated``: the LSL source the
    session reads carries every [acquisition] setting of the --config file (the session runs
    in this process; the source is found by its acquisition thread while it runs)."""
    cfg = tmp_path / "acq.toml"
    cfg.write_text("[acquisition]\n" + "".join(f"{k} = {v}\n" for k, v in ACQ.items()))
    pub = None
    if kind == "replay":
        source = f"replay:{_recording(tmp_path / 'rec_raw.fif')}"
    elif kind == "lsl":
        stream = f"rig-eeg-{uuid.uuid4().hex[:8]}"
        pub = _publisher(stream)
        source = f"lsl:{stream}"
    else:
        source = "simulated"
    seen, done = [], threading.Event()

    def watch():  # the sources whose acquisition thread runs in this process
        while not done.is_set() and not seen:
            for t in threading.enumerate():
                source = getattr(getattr(t, "_target", None), "__self__", None)
                if type(source) is LslSource:
                    seen.append({k: getattr(source, k) for k in ACQ})
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        rc = main(["--config", str(cfg), "spell", "--source", source, "--headless", "--calibrate", "A",
                   "--calibration-repetitions", "1", "--max-minutes", "0.05", "--lm", "uniform"])
    finally:
        done.set()
        watcher.join(10)
        if pub is not None:
            pub.kill()
            pub.wait(10)
    out = capsys.readouterr().out
    assert rc == 0 and "stopped         max_minutes" in out, out
    assert seen and all(s == ACQ for s in seen), (seen, out)


def test_the_gui_connector_opens_one_marker_outlet_for_an_lsl_stream_and_closes_it(config, tmp_path):
    """``kind="lsl"`` through the GUI command's connector: exactly one marker stream of the
    session's name is published, with the source id that makes the participant behind the
    stream follow this session (as ``neurospell spell --source lsl:NAME`` does), the source
    carries the [acquisition] settings, and closing the connection leaves nothing resolvable
    and the source stopped."""
    from neurospell.commands.gui import Connector

    stream = f"rig-eeg-{uuid.uuid4().hex[:8]}"
    pub = _publisher(stream)
    try:
        conn = Connector(folder=tmp_path / "sessions", lm_name="uniform").connect(
            ConnectRequest("lsl", stream=stream), config)
        try:
            name = conn.marker_outlet.name
            found = _named(name, 2.0)
            assert len(found) == 1, f"the marker stream {name!r} is published {len(found)} times"
            assert found[0]["source_id"] == session_source_id(name, stream), found
            _check_settings(conn.source)
            _wait(lambda: conn.read_samples() is not None, 20.0, "samples")
            assert conn.folder is not None and conn.folder.is_dir()
        finally:
            conn.close()
        assert not conn.source.running
        _gone(name)
    finally:
        pub.kill()
        pub.wait(10)


@pytest.mark.parametrize("kind", ["simulated", "recording", "synthetic"])
def test_every_kind_carries_the_settings_and_closes_everything(kind, config, tmp_path):
    tag = _tag()
    recording = _recording(tmp_path / "rec_raw.fif") if kind == "recording" else None
    request = ConnectRequest(kind, phrase="HI" if kind == "simulated" else None,
                             recording=None if recording is None else str(recording))
    said = []
    with open_rig(request, config, out=tmp_path / "session", lm_name="uniform", tag=tag, say=said.append) as rig:
        _check_settings(rig.source)
        assert rig.source.running
        _samples_arrive(rig)
        assert rig.folder == tmp_path / "session" and (rig.folder / "derivatives").is_dir()
        own = []  # the LSL streams this rig publishes
        if kind != "synthetic":
            own = [rig.marker_outlet.name]
            assert _count(own[0], 2.0) == 1
        if kind == "simulated":
            assert rig.participant.proc.poll() is None and said == ["starting the simulated participant ..."]
            own.append(rig.participant.name)
        if kind == "recording":
            own.append(f"neurospell-replay-{tag}")
        else:
            assert rig.source.describe()["kind"] in ("lsl", "brainflow")
    assert not rig.source.running
    if kind == "simulated":
        assert rig.participant.proc.returncode is not None and not _children_with(tag)
    assert rig.close_errors == []
    _gone(*own)


def test_lm_is_loaded_and_kept(config, tmp_path):
    with open_rig(ConnectRequest("synthetic"), config, lm_name="ngram") as rig:
        assert rig.lm is not None and rig.lm_name == "ngram" and rig.folder is None
        assert rig.marker_outlet is None  # the markers go through the board
    assert not rig.source.running


def test_an_lsl_source_carries_the_settings(config):
    stream = f"rig-eeg-{uuid.uuid4().hex[:8]}"
    pub = _publisher(stream)
    try:
        with open_rig(ConnectRequest("lsl", stream=stream), config, lm_name="uniform", tag=_tag()) as rig:
            _check_settings(rig.source)
            assert rig.source.describe()["marker_name"] == rig.marker_outlet.name
            _samples_arrive(rig)
        assert not rig.source.running
        _gone(rig.marker_outlet.name)
    finally:
        pub.kill()
        pub.wait(10)


@pytest.mark.parametrize("failure", ["participant exits", "participant never connects", "folder is a file",
                                     "recording missing"])
def test_a_failure_while_opening_closes_what_was_opened(failure, config, tmp_path):
    """Whatever opened before the failure is closed: no participant process left, no stream
    of this rig resolvable, no acquisition thread running; the error is the real one."""
    tag = _tag()
    threads = _acquisition_threads()
    kw = {"lm_name": "uniform", "tag": tag, "connect_timeout": 3.0}
    request = ConnectRequest("simulated", phrase="HI")
    if failure == "participant exits":
        kw["participant_args"] = ["--no-such-option"]
        expected = StreamError
    elif failure == "participant never connects":  # (its last --marker-stream wins: a stream nobody publishes)
        kw["participant_args"] = ["--marker-stream", f"nobody-{tag}"]
        expected = NeurospellError
    elif failure == "folder is a file":
        (tmp_path / "file").write_text("x")
        kw["out"] = tmp_path / "file"
        expected = NeurospellError
    else:
        request = ConnectRequest("recording", recording=str(tmp_path / "missing_raw.fif"))
        expected = Exception
    with pytest.raises(expected) as info:
        open_rig(request, config, **kw)
    if failure == "participant never connects":
        assert "did not connect" in str(info.value)
    if failure == "recording missing":
        assert "missing_raw.fif" in str(info.value)
    _wait(lambda: not _children_with(tag), 15.0, "the participant process to end")
    _wait(lambda: _acquisition_threads() <= threads, 15.0, "the source's acquisition thread to end")
    _gone(f"neurospell-markers-{tag}")


def test_the_rig_closes_everything_even_when_one_close_fails(config):
    """Each close is attempted: a resource whose close raises does not keep the others open."""
    rig = open_rig(ConnectRequest("synthetic"), config, lm_name="uniform")

    def broken():
        raise OSError("this close fails")

    rig._own("a broken resource", broken)  # (owned last: closed first)
    rig.close()
    assert not rig.source.running and [str(e) for e in rig.close_errors] == ["this close fails"]
    rig.close()  # idempotent


def test_the_rig_is_assembled_in_one_place():
    """``neurospell spell``, the GUI command and the live benchmark open their rig with
    open_rig: none builds a source, an outlet, a participant process or a replay itself."""
    builders = {"LslSource", "LslMarkerOutlet", "ParticipantProcess", "replay_lsl", "open_source", "SessionFolder"}
    for rel in ("neurospell/commands/spell.py", "neurospell/commands/gui.py", "benchmarks/bench_live.py"):
        tree = ast.parse((ROOT / rel).read_text())
        called = {n.func.id if isinstance(n.func, ast.Name) else n.func.attr for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute))}
        assert not called & builders, f"{rel} builds {sorted(called & builders)} itself; use open_rig"
        assert "open_rig" in called or "RigConnector" in called, rel
