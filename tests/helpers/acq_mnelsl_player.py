"""Test helper: MNE-LSL's PlayerLSL replaying a stretch of neurospell's sample session.

Publishes ``NAME`` (type ``eeg``, as MNE-LSL does for an all-EEG recording) and
``NAME-annotations`` (MNE-LSL's one-hot annotation stream) with source id ``--source-id``,
on neurospell's loopback LSL configuration. Prints ``READY`` once playing; runs until killed.
"""

import argparse
import sys
import time
from pathlib import Path

SAMPLE = Path(__file__).parents[2] / "sample_data" / "neurospell_sample_raw.fif"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--source-id", required=True)
    p.add_argument("--tmin", type=float, default=1.9)
    p.add_argument("--tmax", type=float, default=40.0)
    args = p.parse_args()
    from neurospell.lsl import configure_lsl

    configure_lsl()  # $LSLAPICFG before MNE-LSL's own liblsl reads it: loopback only, like neurospell
    import mne
    from mne_lsl.player import PlayerLSL

    raw = mne.io.read_raw_fif(SAMPLE, preload=True, verbose=False).crop(args.tmin, args.tmax)
    player = PlayerLSL(raw, chunk_size=10, n_repeat=1, name=args.name, source_id=args.source_id)
    player.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(0.5)
    finally:
        player.stop()


if __name__ == "__main__":
    sys.exit(main())
