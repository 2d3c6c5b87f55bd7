"""Test helper: an LSL outlet process with a sample-index channel (and a marker stream).

Sample ``i`` has timestamp ``t0 + i / sfreq`` (LSL clock) and is pushed when that time has
come (real-time pacing, catching up in a burst if late). Channel 0 holds ``i``; channel
``k > 0`` holds ``expected(i, k)`` (see :func:`expected`). With ``--marker-every M`` the
marker stream carries ``"flash:<c>"`` at the timestamp of every sample ``i % M == 0``, with
``c = (i // M) % 12 + 1``. Prints ``READY`` once an inlet is connected.
"""

import argparse
import sys
import time

import numpy as np


def expected(idx, n_channels):
    """Known values, shape (n_channels, n): index ramp, then sinusoids of known frequency."""
    idx = np.asarray(idx, dtype=np.float64)
    rows = [idx]
    for k in range(1, n_channels):
        rows.append(1e-5 * np.sin(2 * np.pi * k * idx / 250.0))
    return np.array(rows, dtype=np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--sfreq", type=float, default=500.0)
    p.add_argument("--n-channels", type=int, default=8)
    p.add_argument("--t0", type=float, required=True)
    p.add_argument("--start-index", type=int, default=0)
    p.add_argument("--n-samples", type=int, default=0, help="0: until killed")
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--marker-every", type=int, default=0)
    p.add_argument("--wait-consumers", type=float, default=20.0)
    p.add_argument("--linger", type=float, default=1.0, help="seconds to stay while a consumer is connected")
    args = p.parse_args()

    from neurospell.acquisition import LslEegOutlet, LslMarkerOutlet
    from neurospell.lsl import local_clock

    n_ch = args.n_channels
    ch_names = ["index"] + [f"EEG{k}" for k in range(1, n_ch)]
    ch_types = ["misc"] + ["eeg"] * (n_ch - 1)
    out = LslEegOutlet(args.name, ch_names, ch_types, args.sfreq, source_id=f"acq-test-{args.name}")
    mk = LslMarkerOutlet(args.name + "-markers") if args.marker_every else None
    if not out.wait_for_consumers(args.wait_consumers):
        print("NO CONSUMER", flush=True)
        return 1
    if mk is not None and not mk.wait_for_consumers(args.wait_consumers):
        print("NO MARKER CONSUMER", flush=True)
        return 1
    print("READY", flush=True)
    i = args.start_index
    end = args.start_index + args.n_samples if args.n_samples else None
    while end is None or i < end:
        stop = i + args.chunk if end is None else min(i + args.chunk, end)
        idx = np.arange(i, stop)
        ts = args.t0 + idx / args.sfreq
        delay = ts[-1] - local_clock()
        if delay > 0:
            time.sleep(delay)
        if mk is not None:
            for j in idx[idx % args.marker_every == 0]:
                mk.push(f"flash:{(j // args.marker_every) % 12 + 1}", args.t0 + j / args.sfreq)
        out.push(expected(idx, n_ch), ts)
        i = stop
    print("DONE", flush=True)
    # let the inlet drain before the outlet goes away: at least 1 s, longer (up to --linger s)
    # while a consumer is still connected (a loaded machine may pull late)
    end = time.monotonic() + args.linger
    time.sleep(1.0)
    while out.have_consumers() and time.monotonic() < end:
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
