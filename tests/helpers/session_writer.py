"""A stand-in for the live session (tests only): writes a session folder from a recording
exactly as the live session (``session/live/``) does (see the replay contract in the session layer):

- one rawlog per phase run (``folder.rawlog_writer(task, ...)``) and one fresh stream driver
  (``make_driver``) per rawlog, fed the float32-rounded samples that are recorded, in random
  chunk sizes, with markers arriving one chunk late (as a live reader delivers them);
- flashes (``on_score``) and decisions (``on_events``) go to the decision log as they happen;
- calibration: the recording's calibration phrase is recorded, converted, and an LDA trained
  on it is saved with the n-gram LM's identity; spelling: each test phrase is one run of
  task-spelling.

Run as a script (``python tests/helpers/session_writer.py ROOT --speed X``) it writes a
session paced at X times real time and prints ``<wall time> <last timestamp written>`` after
each chunk, so a test can ``kill -9`` it and measure what was lost.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from neurospell.config import Config
from neurospell.decoder import make_decoder
from neurospell.lm_fusion import make_model
from neurospell.markers import parse_phrase
from neurospell.preprocessing import epochs_from_raw, load_recording
from neurospell.session.drivers import GapIndexer
from neurospell.session.replay import iter_recording
from neurospell.session.sessiondir import SessionFolder, make_driver, make_engine
from neurospell.types import SampleChunk

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "neurospell_sample_raw.fif"


def phrase_segments(raw):
    """``[(kind, text, tmin, tmax)]``: the recording cut at its phrase markers (seconds)."""
    marks = [(float(on), parse_phrase(d)) for on, d in zip(raw.annotations.onset - raw.first_time,
                                                            raw.annotations.description, strict=True)]
    marks = [(on, ph) for on, ph in marks if ph is not None]
    out = []
    for i, (on, ph) in enumerate(marks):
        end = marks[i + 1][0] - 1.0 / raw.info["sfreq"] if i + 1 < len(marks) else raw.times[-1]
        out.append((ph.kind, ph.text, max(0.0, on - 0.5), end))
    return out


def play_phase(folder, task, raw_seg, *, t0, config=None, decoder=None, lm=None, lm_name=None, rng=0,
               speed=None, progress=None, phase_name=None, drop=None, undo_after=None):
    """Record one phase run of ``raw_seg`` into ``folder`` and, with a decoder, spell it live.

    ``drop``: ``(start, stop)`` seconds of the segment whose samples never arrive (a gap).
    ``undo_after``: after that many decisions the user presses backspace (a direct selection,
    applied between flashes and logged as a ``select`` record, as the live session does).
    Returns the stream driver (``None`` without decoder).
    """
    rng = np.random.default_rng(rng)
    sfreq = raw_seg.info["sfreq"]
    ch_names, ch_types = raw_seg.ch_names, raw_seg.get_channel_types()
    writer = folder.rawlog_writer(task, ch_names, ch_types, sfreq, start_lsl=t0)
    run = folder.current_run(task)
    folder.log_phase(phase_name or task, task=task, run=run, text="", t=t0)
    driver = None
    if decoder is not None:
        engine = make_engine(config, decoder, lm, lm_name)
        last_t = [t0]

        def on_score(onset, group, score, trial):
            folder.log_flash(onset, group, score, trial=trial, task=task, run=run)

        n_decided = [0]

        def on_events(k, events):
            folder.log_decision(events, t=last_t[0], task=task, run=run)
            n_decided[0] += 1

        driver = make_driver(engine, decoder, config, sfreq, ch_names, ch_types, on_score=on_score,
                             on_events=on_events)
    late = []
    wall0 = time.perf_counter()
    # as the live session: float32-rounded values, indexed on the stream's clock from the run's start
    feed = GapIndexer(sfreq, (config or Config()).acquisition.gap_tolerance, as_recorded=True)
    for chunk, markers in iter_recording(raw_seg, chunk_seconds=0.05, t0=t0, rng=rng):
        if drop is not None:
            rel = chunk.timestamps - t0
            keep = (rel < drop[0]) | (rel >= drop[1])
            if not keep.all():
                if not keep.any():  # no sample arrives, the markers still do
                    for m in markers:
                        writer.write_event({"type": "marker", "t": m.timestamp, "code": m.code, "label": m.label})
                    late += list(markers)
                    continue
                chunk = SampleChunk(chunk.data[:, keep], chunk.timestamps[keep], chunk.ch_names,
                                    chunk.ch_types, chunk.sfreq)
        if speed is not None:
            due = wall0 + (chunk.timestamps[-1] - t0) / speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        writer.write_samples(chunk.data, chunk.timestamps)
        for m in markers:
            writer.write_event({"type": "marker", "t": m.timestamp, "code": m.code, "label": m.label})
        if driver is not None:
            # what was recorded, as recorded: float32 values, indices on the stream's clock
            last_t[0] = float(chunk.timestamps[-1])
            pieces = feed.split(chunk)
            for piece in pieces[:-1]:
                driver.push(piece)
            driver.push(pieces[-1], late)  # markers arrive a chunk late, as over LSL
            late = []
            if undo_after is not None and n_decided[0] == undo_after:
                undo_after = None
                engine.select("<")
                folder.log({"type": "select", "t": last_t[0], "symbol": "<", "text": engine.text, "task": task,
                            "run": run})
        late += list(markers)
        if progress is not None:
            progress(chunk)
    if driver is not None:
        driver.push(None, late)
        driver.finish()
    writer.close()
    folder.finish_phase(task)
    return driver


def write_session(root, *, config=None, recording=SAMPLE, lm_name="ngram", max_test_phrases=None,
                  speed=None, progress=None, overwrite=False, pace_from="calibration", drop=None,
                  undo_after=None):
    """A whole session from ``recording``: calibration (recorded, LDA trained and saved),
    then one spelling run per test phrase. Returns ``(folder, drivers)``.

    ``speed`` paces the phases from ``pace_from`` on (the earlier ones run at full speed);
    ``drop``: a gap ``(start, stop)`` (seconds) and ``undo_after``: a backspace after that many
    decisions, in the first spelling run."""
    config = config or Config()
    raw = load_recording(recording)
    folder = SessionFolder.create(root, subject="01", session="01", config=config, overwrite=overwrite)
    segs = phrase_segments(raw)
    t0 = 1000.0
    drivers = []
    lm = None if lm_name == "uniform" else make_model(lm_name, config.lm)
    folder.set_lm(lm_name, lm, config.lm)
    decoder = None
    n_test = 0
    for kind, _text, tmin, tmax in segs:
        seg = raw.copy().crop(tmin, tmax)
        if kind == "calibration":
            play_phase(folder, "calibration", seg, t0=t0, speed=speed if pace_from == "calibration" else None,
                       progress=progress)
            _, batch = epochs_from_raw(seg, config.preprocessing)
            decoder = make_decoder("lda").fit(batch, config.preprocessing)
            folder.save_model(decoder, source="calibration run-1")
        else:
            if max_test_phrases is not None and n_test >= max_test_phrases:
                break
            n_test += 1
            drivers.append(play_phase(folder, "spelling", seg, t0=t0, config=config, decoder=decoder, lm=lm,
                                      lm_name=lm_name, rng=n_test, speed=speed, progress=progress,
                                      phase_name="copy", drop=drop if n_test == 1 else None,
                                      undo_after=undo_after if n_test == 1 else None))
        t0 += seg.times[-1] + 5.0
    folder.close()
    return folder, drivers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root")
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--pace-from", default="calibration", choices=("calibration", "spelling"))
    args = p.parse_args(argv)

    def progress(chunk):
        print(f"{time.time():.6f} {float(chunk.timestamps[-1])!r}", flush=True)

    write_session(args.root, speed=args.speed, progress=progress, pace_from=args.pace_from)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
