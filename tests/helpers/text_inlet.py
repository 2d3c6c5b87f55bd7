"""Test helper: an LSL inlet process that prints every sample of a text stream as a JSON line.

Resolves the stream named ``--name`` (through :func:`neurospell.lsl.get_pylsl`: loopback-only
discovery), prints ``CONNECTED`` once its inlet is open, then ``{"text": ..., "t": ...}`` per
sample, until killed or ``--seconds`` pass.
"""

import argparse
import json
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--seconds", type=float, default=300.0)
    args = p.parse_args()
    from neurospell.lsl import get_pylsl

    pylsl = get_pylsl()
    from pylsl.util import LostError
    found = pylsl.resolve_byprop("name", args.name, timeout=60.0)
    if not found:
        print("NOT FOUND", flush=True)
        return 1
    info = found[0]
    inlet = pylsl.StreamInlet(info, recover=False)
    inlet.open_stream(30.0)
    desc = inlet.info(5.0).desc()
    print(json.dumps({"connected": True, "type": info.type(), "format": desc.child("neurospell").child_value("format"),
                      "n_channels": info.channel_count()}), flush=True)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            sample, t = inlet.pull_sample(timeout=0.2)
        except LostError:  # the outlet closed
            print(json.dumps({"lost": True}), flush=True)
            return 0
        if sample is not None:
            print(json.dumps({"text": sample[0], "t": t}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
