"""Benchmark: LSL acquisition through neurospell's LslSource vs a bare pylsl pull loop.

An outlet process streams ``--channels`` (64) float32 channels at ``--sfreq`` (1000 Hz) in
chunks of ``--chunk`` samples, each stamped with the LSL time of its push. In this process,
for ``--duration`` seconds each (default 30):

1. bare: ``StreamInlet.pull_chunk(dest_obj=..., min_samples=1)`` in a loop;
2. acquisition only: ``LslSource``'s thread and ring buffer, with a consumer that wakes on
   each chunk and notes the newest timestamp without building a ``SampleChunk``;
3. neurospell: ``LslSource`` and a reader that waits for and reads validated
   ``SampleChunk``\\ s (what the online session does).

Prints the CPU share of one core used by this process (user + system time / wall time,
liblsl's own threads included in both) and the push-to-availability latency of each
chunk's last sample (median, p99), and the ratios. Targets: CPU <= 1.5x bare, p99 <= 5 ms.

Channel 0 carries the running sample index, so every variant measures the latency of the
*last sample of each pushed chunk* (stamped with the push time) when it becomes readable.
A read that ends inside a chunk is not a latency sample: the outlet back-dates the earlier
samples of a chunk by 1/sfreq each, so "now - timestamp" of a partial chunk's last sample
would count up to one chunk period (10 ms) of back-dating, not delay.

    python benchmarks/bench_lsl_acquisition.py [--duration 30] [--channels 64] [--sfreq 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid

import numpy as np


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_outlet(name: str, n_ch: int, sfreq: float, chunk: int, duration: float) -> int:
    from neurospell.acquisition import LslEegOutlet
    from neurospell.lsl import local_clock

    out = LslEegOutlet(name, [f"ch{i}" for i in range(n_ch)], ["eeg"] * n_ch, sfreq)
    rng = np.random.default_rng(0)
    block = (1e-5 * rng.standard_normal((n_ch, 10 * int(sfreq)))).astype(np.float32)
    print("READY", flush=True)
    t_start = local_clock()
    i = 0
    offsets = np.arange(chunk)[::-1] / sfreq
    while local_clock() - t_start < duration:
        due = t_start + (i + chunk) / sfreq
        delay = due - local_clock()
        if delay > 0:
            time.sleep(delay)
        j = i % (block.shape[1] - chunk)
        data = block[:, j : j + chunk].copy()
        data[0] = np.arange(i, i + chunk)  # sample-index channel (exact in float32 below 2**24)
        now = local_clock()
        out.push(data, now - offsets)
        i += chunk
    return 0


def _chunk_end_latency(now: float, index, ts, chunk: int):
    """``now`` minus the push time of the last chunk completed among the samples read."""
    index = np.rint(np.asarray(index)).astype(np.int64)
    ends = np.flatnonzero((index + 1) % chunk == 0)
    return None if ends.size == 0 else now - ts[ends[-1]]


def bench_bare(name: str, duration: float, chunk: int):
    from neurospell.lsl import get_pylsl

    pylsl = get_pylsl()
    local_clock = pylsl.local_clock
    info = pylsl.resolve_byprop("name", name, 1, 10.0)[0]
    inlet = pylsl.StreamInlet(info, max_buflen=30, processing_flags=pylsl.proc_clocksync | pylsl.proc_monotonize)
    inlet.open_stream(10.0)
    n_ch = info.channel_count()
    max_samples = int(info.nominal_srate())
    buf = np.empty((max_samples, n_ch), dtype=np.float32)
    lat, n = [], 0
    inlet.pull_chunk(timeout=1.0, max_samples=max_samples, dest_obj=buf, min_samples=1)  # warm-up
    cpu0, t0 = _cpu(), time.monotonic()
    while time.monotonic() - t0 < duration:
        _, ts = inlet.pull_chunk(timeout=0.1, max_samples=max_samples, dest_obj=buf, min_samples=1)
        if len(ts):
            d = _chunk_end_latency(local_clock(), buf[: len(ts), 0], np.asarray(ts), chunk)
            if d is not None:
                lat.append(d)
            n += len(ts)
    cpu = (_cpu() - cpu0) / (time.monotonic() - t0)
    inlet.close_stream()
    return cpu, np.array(lat), n


def bench_source_only(name: str, duration: float, chunk: int):
    """The acquisition thread + ring buffer; the consumer wakes per chunk but builds no SampleChunk."""
    from neurospell.acquisition import LslSource
    from neurospell.lsl import get_pylsl

    local_clock = get_pylsl().local_clock
    lat = []
    with LslSource(name, timeout=10.0) as src:
        rd = src.reader()
        rd.wait(1.0)
        rd._cursor = src._ring.n_written
        cpu0, t0 = _cpu(), time.monotonic()
        while time.monotonic() - t0 < duration:
            if rd.wait(0.1):
                now = local_clock()
                ring = src._ring
                with ring.condition:  # peek at the newest sample's index and time, no copy
                    end = ring.n_written
                    last = end - 1
                    idx = int(round(ring._data[0, last % ring.capacity]))
                    final = (idx + 1) // chunk * chunk - 1  # index of the last chunk-final sample
                    pos = last - (idx - final)
                    t = ring._ts[pos % ring.capacity] if pos >= rd._cursor else None
                if t is not None:
                    lat.append(now - t)
                rd._cursor = end  # consume without copying
        cpu = (_cpu() - cpu0) / (time.monotonic() - t0)
    return cpu, np.array(lat)


def bench_neurospell(name: str, duration: float, chunk: int):
    from neurospell.acquisition import LslSource
    from neurospell.lsl import local_clock

    lat, n = [], 0
    with LslSource(name, timeout=10.0) as src:
        rd = src.reader()
        rd.wait(1.0)
        rd.read()  # warm-up
        cpu0, t0 = _cpu(), time.monotonic()
        while time.monotonic() - t0 < duration:
            rd.wait(0.1)
            got, _ = rd.read()
            if got is not None:
                d = _chunk_end_latency(local_clock(), got.data[0], got.timestamps, chunk)
                if d is not None:
                    lat.append(d)
                n += got.n_samples
        cpu = (_cpu() - cpu0) / (time.monotonic() - t0)
        gaps = len(src.gaps)
    return cpu, np.array(lat), n, gaps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per variant (default 30)")
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--sfreq", type=float, default=1000.0)
    p.add_argument("--chunk", type=int, default=10, help="samples per push (default 10, i.e. every 10 ms at 1 kHz)")
    p.add_argument("--outlet", metavar="NAME", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.duration <= 0:
        p.error(f"--duration must be > 0, got {args.duration}")
    if args.outlet:
        return run_outlet(args.outlet, args.channels, args.sfreq, args.chunk, args.duration)

    from neurospell.lsl import configure_lsl

    configure_lsl()
    name = f"bench-{uuid.uuid4().hex[:6]}"
    total = 3 * args.duration + 15
    proc = subprocess.Popen(
        [sys.executable, __file__, "--outlet", name, "--duration", str(total), "--channels", str(args.channels),
         "--sfreq", str(args.sfreq), "--chunk", str(args.chunk)],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        if proc.stdout.readline().strip() != "READY":
            print("the outlet process failed to start", file=sys.stderr)
            return 1
        print(f"LSL acquisition: {args.channels} ch @ {args.sfreq:g} Hz, chunks of {args.chunk}, "
              f"{args.duration:g} s per variant")
        cpu_b, lat_b, n_b = bench_bare(name, args.duration, args.chunk)
        cpu_s, lat_s = bench_source_only(name, args.duration, args.chunk)
        cpu_n, lat_n, n_n, gaps = bench_neurospell(name, args.duration, args.chunk)
    finally:
        proc.kill()
        proc.wait(10)
    expected = args.sfreq * args.duration
    for label, cpu, lat, n in (("bare pylsl loop", cpu_b, lat_b, n_b), ("neurospell LslSource", cpu_n, lat_n, n_n)):
        print(f"  {label:22s} CPU {100 * cpu:5.2f} % of a core | latency median {1e3 * np.median(lat):6.3f} ms, "
              f"p99 {1e3 * np.percentile(lat, 99):6.3f} ms | {n} samples ({n / expected:.3f} of expected)")
    print(f"  {'acquisition only':22s} CPU {100 * cpu_s:5.2f} % of a core | latency median "
          f"{1e3 * np.median(lat_s):6.3f} ms, p99 {1e3 * np.percentile(lat_s, 99):6.3f} ms | "
          f"(thread + ring; the consumer builds no SampleChunk) {cpu_s / cpu_b:.2f}x bare")
    ratio = cpu_n / cpu_b if cpu_b > 0 else float("inf")
    p99 = 1e3 * np.percentile(lat_n, 99)
    print(f"  CPU ratio neurospell/bare: {ratio:.2f}x (target <= 1.5x) -> {'OK' if ratio <= 1.5 else 'ABOVE TARGET'}")
    print(f"  latency p99 neurospell: {p99:.3f} ms (target <= 5 ms) -> {'OK' if p99 <= 5 else 'ABOVE TARGET'}; "
          f"median ratio {np.median(lat_n) / np.median(lat_b):.2f}x; gaps reported: {gaps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
