"""Markers on neurospell's own LSL path: which marker stream belongs to an EEG stream, and
one marker coding from a recording, through `replay --as-lsl` and `record`, back to a file."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

from neurospell.cli import main
from neurospell.markers import (
    marker_to_annotation,
    parse_phrase,
    phrase_to_annotation,
    phrase_to_str,
)
from neurospell.preprocessing import load_recording
from neurospell.rawlog import annotation_description

HELPERS = Path(__file__).parent / "helpers"
SAMPLE = Path(__file__).parents[1] / "sample_data" / "neurospell_sample_raw.fif"


def test_marker_stream_of_an_eeg_stream_rule_by_rule():
    # own LSL session id: streams of other processes on this machine stay invisible
    proc = subprocess.run([sys.executable, str(HELPERS / "acq_marker_rules.py"), "--session", uuid.uuid4().hex],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["source_id"]["marker_stream"] == "stim1" and "source id" in got["source_id"]["rule"]
    assert got["source_id"]["labels"] == ["flash:3:target"]
    assert got["name"]["marker_stream"] == "E2-markers" and "name" in got["name"]["rule"]
    assert got["only"]["marker_stream"] == "stim" and "only marker stream" in got["only"]["rule"]
    assert got["only"]["labels"] == ["phrase:test:HI"]
    assert got["none"]["marker_stream"] is None and "no marker stream" in got["none"]["rule"]
    assert got["ambiguous"]["marker_stream"] is None
    assert "'stimA', 'stimB'" in got["ambiguous"]["rule"] and "lsl:NAME+MARKERS" in got["ambiguous"]["rule"]
    # nothing is recorded silently: the two cases without markers are logged as warnings
    assert "E4" in proc.stderr and "without markers" in proc.stderr and "E5" in proc.stderr


def test_phrase_marker_coding():
    assert phrase_to_str("test", "HELLO") == "phrase:test:HELLO"
    assert phrase_to_annotation("calibration", "A B") == "phrase/calibration/A B"
    assert parse_phrase("phrase:test:A:B/C") == ("test", "A:B/C")
    assert parse_phrase("phrase/calibration/THE FOX") == ("calibration", "THE FOX")
    assert parse_phrase("phrase:other:X") is None and parse_phrase("flash:3") is None
    for lsl, ann in [("phrase:test:HELLO", "phrase/test/HELLO"), ("flash:3:target", "flash/3/target"),
                     ("flash:4", "flash/4"), ("trial:2:A", "trial/2/A"), ("trial/2/A", "trial/2/A"),
                     ("phrase/test/YES", "phrase/test/YES"), ("note:free text", "note:free text")]:
        assert marker_to_annotation(lsl) == ann
    assert annotation_description(-1, "phrase:calibration:THE QUICK") == "phrase/calibration/THE QUICK"
    assert annotation_description(103, "") == "flash/3/target"


def test_replay_as_lsl_then_record_keeps_every_marker_as_in_the_source(tmp_path, capsys):
    name = f"rtrip-{uuid.uuid4().hex[:8]}"
    speed, duration = 10.0, 4.0
    replay = subprocess.Popen(
        [sys.executable, "-m", "neurospell", "replay", str(SAMPLE), "--as-lsl", "--speed", str(speed),
         "--name", name, "--wait", "30", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out = tmp_path / "rt_raw.fif"
    try:
        rc = main(["record", "--board", f"lsl:{name}", "--duration", str(duration), "--out", str(out)])
        printed = capsys.readouterr().out
    finally:
        replay.kill()
        replay.wait(10)
    assert rc == 0, printed
    assert f"Markers: from '{name}-markers'" in printed
    src = load_recording(SAMPLE)
    got = load_recording(out)
    sfreq = src.info["sfreq"]
    assert got.info["sfreq"] == sfreq and got.ch_names == src.ch_names
    # the recording starts at the replay's first sample: the EEG is the source's, sample for sample
    n = got.n_times
    assert n > 0.8 * speed * duration * sfreq  # ~40 s of the session recorded in 4 s
    np.testing.assert_allclose(got.get_data(), src.get_data()[:, :n], rtol=1e-6, atol=1e-12)
    # and the markers are the source's, same descriptions, same samples
    s_on = np.asarray(src.annotations.onset) - (src.first_time if src.annotations.orig_time is not None else 0)
    g_on = np.asarray(got.annotations.onset) - (got.first_time if got.annotations.orig_time is not None else 0)
    end = (n - 0.5 * sfreq) / sfreq  # markers of the last half second may still be in flight
    keep_s, keep_g = s_on < end, g_on < end
    want = list(np.asarray(src.annotations.description)[keep_s])
    have = list(np.asarray(got.annotations.description)[keep_g])
    assert have == want
    assert any(d.startswith("phrase/calibration/") for d in have)
    assert {d.split("/")[0] for d in have} == {"phrase", "trial", "flash"}
    np.testing.assert_allclose(g_on[keep_g], s_on[keep_s], atol=1.0 / sfreq)
