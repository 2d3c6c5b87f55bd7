"""Copy-spelling of held-out English phrases with the real-epoch speller simulation on the
g.tec P300 recordings S1-S3: accuracy (95 % CI over characters), flashes per character,
characters per minute and ITR, with and without each language model.

A thin call of ``neurospell simulate`` (see :mod:`neurospell.session.copyspell`): per
subject the decoder is calibrated on characters 1-3, the LM weight is chosen on its
held-out calibration scores, and the simulated participant answers flashes with the
decoder's scores of real epochs of characters 4-5. Test phrases come from the corpus'
*test* split (the LM never trained on them).

    python benchmarks/evaluate_lm_speller.py [--phrases 12] [--decoder xdawncov-ts-lr]
        [--lms mixture,everyday] [--text test_requests.txt] [--json OUT] [--png OUT]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from neurospell.check import shared_data_dir  # noqa: E402
from neurospell.cli import main as cli  # noqa: E402
from neurospell.config import Config  # noqa: E402
from neurospell.lm_fusion import read_lines  # noqa: E402
from neurospell.lm_fusion.text import heldout_lines  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phrases", type=int, default=12, help="test phrases (per subject)")
    ap.add_argument("--max-len", type=int, default=30, help="longest phrase (characters)")
    ap.add_argument("--decoder", default="xdawncov-ts-lr")
    ap.add_argument("--lms", default="mixture", help="comma-separated language models, each vs no LM")
    ap.add_argument("--text", default=None, metavar="FILE",
                    help="take the phrases from this held-out file (one a line, e.g. test_requests.txt of "
                         "`neurospell lm corpus`) instead of the Chit Chat test split")
    ap.add_argument("--subjects", default="S1,S2,S3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="JSON figures (one file per LM: NAME inserted)")
    ap.add_argument("--png", default=None, help="plot (one file per LM: NAME inserted)")
    args = ap.parse_args(argv)
    data = shared_data_dir()
    if data is None:
        print("shared data not found (../shared/data or $NEUROSPELL_SHARED_DATA)", file=sys.stderr)
        return 2
    symbols = Config().speller.symbols
    if args.text:
        lines = [t for t in read_lines(args.text, tuple(symbols))[0] if 8 <= len(t) <= args.max_len]
    else:
        lines = [t for t in heldout_lines("test", alphabet=tuple(symbols)) if 8 <= len(t) <= args.max_len]
    rng = np.random.default_rng(args.seed)
    phrases = [lines[i] for i in rng.choice(len(lines), args.phrases, replace=False)]
    recs = [str(data / "gtec_p300" / f"{s}.mat") for s in args.subjects.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        pf = os.path.join(tmp, "phrases.txt")
        with open(pf, "w") as fid:
            fid.write("\n".join(phrases) + "\n")
        for lm in args.lms.split(","):
            argv = ["simulate", "--data", *recs, "--decoder", args.decoder, "--phrases", pf, "--lm", lm,
                    "--seed", str(args.seed)]
            for flag, val in (("--json", args.json), ("--plot", args.png)):
                if val:
                    root, ext = os.path.splitext(val)
                    argv += [flag, f"{root}_{lm}{ext}" if len(args.lms.split(",")) > 1 else val]
            code = cli(argv)
            if code:
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
