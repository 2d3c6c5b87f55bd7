"""Test helper: which marker stream LslSource(find_markers=True) picks, rule by rule.

Runs in its own process with its own LSL session id (``--session``), so that streams of
other processes on the machine are invisible and "the only marker stream" is well defined.
Prints one JSON object: scenario -> {"marker_stream", "rule", "labels"}.
"""

import argparse
import json
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--session", required=True)
    args = p.parse_args()
    from neurospell.config import LslConfig
    from neurospell.lsl import configure_lsl

    configure_lsl(LslConfig(session_id=args.session))
    from neurospell.acquisition import LslEegOutlet, LslMarkerOutlet, LslSource
    from neurospell.lsl import get_pylsl

    pylsl = get_pylsl()

    def pick(eeg_name, markers, *, stype="EEG", eeg_sid=None, eeg_stype="EEG", push=None):
        outlets = [LslMarkerOutlet(n, source_id=sid, stype=t) for n, sid, t in markers]
        eeg = LslEegOutlet(eeg_name, ["C3", "C4"], ["eeg", "eeg"], 100.0, source_id=eeg_sid, stype=eeg_stype)
        # every stream of the scenario visible first: the rule, not discovery timing, decides
        for stream_name in (eeg_name, *(n for n, _, _ in markers)):
            pylsl.resolve_byprop("name", stream_name, 1, 10.0)
        try:
            src = LslSource(eeg_name, stype, find_markers=True, timeout=5.0)
            labels = []
            with src:
                if push is not None and src.marker_stream is not None:
                    out = next(o for o in outlets if o.name == src.marker_stream)
                    deadline = time.monotonic() + 10
                    while not out.have_consumers() and time.monotonic() < deadline:
                        time.sleep(0.01)
                    out.push(push)
                    rd = src.reader(from_start=True)
                    while not labels and time.monotonic() < deadline:
                        rd.wait(0.2)
                        labels = [e.label for e in rd.read()[1]]
                return {"marker_stream": src.marker_stream, "rule": src.marker_rule, "labels": labels}
        finally:
            eeg.close()
            for o in outlets:
                o.close()

    out = {
        # the source-id rule wins over a stream that only has the right name
        "source_id": pick("E1", [("E1-markers", "unrelated", "Markers"), ("stim1", "dev-1-markers", "Markers")],
                          eeg_sid="dev-1", push="flash:3:target"),
        "name": pick("E2", [("E2-markers", "zzz", "Markers"), ("other-markers", "yyy", "Markers")], eeg_sid="amp"),
        # types compared regardless of case, both for the EEG and the marker stream
        "only": pick("E3", [("stim", "s", "markers")], stype="EEG", eeg_stype="eeg", push="phrase:test:HI"),
        "none": pick("E4", []),
        "ambiguous": pick("E5", [("stimA", "a", "Markers"), ("stimB", "b", "Markers")]),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
