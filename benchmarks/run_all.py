"""Run every performance benchmark in one go (`make bench`).

Each benchmark prints its figures as ratios against a baseline measured in the same run
(the machines are shared and noisy). The long real-EEG evaluations are separate:
``benchmarks/evaluate_gtec.py`` (decoders) and ``benchmarks/evaluate_lm_speller.py``
(language models in the speller), and ``benchmarks/gpu_train_check.py`` on a GPU machine.

Usage: ``python benchmarks/run_all.py [--quick]`` (``--quick`` shortens every run).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test of the benchmarks)")
    args = ap.parse_args()
    q = args.quick
    runs = [
        ("LSL acquisition (64 ch, 1 kHz)", ["bench_lsl_acquisition.py", "--duration", "5" if q else "30"]),
        ("online preprocessing (64 ch, 1 kHz)", ["bench_online_preprocessing.py", "--seconds", "20" if q else "120",
                                                 "--repeats", "1" if q else "3"]),
        ("decoders (training, per-flash latency)", ["bench_decoder.py", "--repeats", "20" if q else "200"]),
        ("language models (latency, memory)", ["bench_lm.py"]),
        ("speller engine step (flash in -> events out, default LM)",
         ["bench_engine.py", "--selections", "40" if q else "200"]),
        ("GUI scope frame rate (8-64 ch, 250/1000 Hz, offscreen Qt)",
         ["bench_scope.py", "--seconds", "1" if q else "5"]),
        ("GUI thread timer lateness through a live session (calibrate, train, copy)",
         ["bench_gui_latency.py", "--runs", "1" if q else "3"]),
    ]
    failed = []
    for title, cmd in runs:
        print(f"\n=== {title}: python benchmarks/{' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"=== {title}: {'ok' if res.returncode == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s",
              flush=True)
        if res.returncode:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
