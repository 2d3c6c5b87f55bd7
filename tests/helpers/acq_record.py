"""Test helper: record an LSL stream with a Recorder until killed.

Prints ``RECORDING`` once the recorder runs, then ``N <n_samples>`` lines every 0.2 s.
"""

import argparse
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    from neurospell.acquisition import LslSource, Recorder

    src = LslSource(args.name, timeout=10.0)
    rec = Recorder(src, args.out, flush_interval=0.5).start()
    print("RECORDING", flush=True)
    while True:
        time.sleep(0.2)
        print(f"N {rec.n_samples}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
