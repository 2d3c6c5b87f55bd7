"""Install the chosen mixture as the shipped default (``[lm] name = "everyday"``).

Copies the component files into ``lm_fusion/data/`` and writes ``lm_fusion/data/everyday.json``:
components, weights and mode (from the ``best`` entry of ``choose_lm_mixture.py --json``,
i.e. chosen on validation text only), each file's size and SHA-256, how each was built, the
training text and the validation figures.

    python benchmarks/write_default_lm.py --choice choice.json \\
        --file transformer=/tmp/tf/char_transformer.pt --file ngram=/tmp/ng10.npz --file word=/tmp/word3.npz \\
        --built-by transformer="neurospell lm train ..." --train-manifest /work/lmdata/manifest.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from neurospell.fileio import file_sha256

DATA = Path(__file__).resolve().parents[1] / "lm_fusion" / "data"
NAMES = {"transformer": "char_transformer_everyday.pt", "ngram": "ngram_everyday.npz", "word": "word_everyday.npz"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--choice", required=True, help="JSON of choose_lm_mixture.py")
    ap.add_argument("--labels", required=True, help="component labels of the choice, in order, as KIND=LABEL,...")
    ap.add_argument("--file", action="append", required=True, help="KIND=PATH (transformer, ngram, word)")
    ap.add_argument("--built-by", action="append", default=[], help="KIND=command line")
    ap.add_argument("--train-manifest", default=None, help="manifest.json of `neurospell lm corpus`")
    ap.add_argument("--train-text", default=None, help="the training text (its SHA-256 is recorded)")
    ap.add_argument("--extra", default=None, help="JSON file merged into the report (notes, test figures)")
    args = ap.parse_args(argv)
    choice = json.load(open(args.choice))
    best = choice["best"]
    kinds = dict(x.split("=", 1) for x in args.labels.split(","))  # kind -> label in the choice
    label_to_kind = {v: k for k, v in kinds.items()}
    components = [label_to_kind[label] for label in best["components"]]
    files = dict(x.split("=", 1) for x in args.file)
    built = dict(x.split("=", 1) for x in args.built_by)
    report = {"name": "everyday", "components": components, "weights": best["weights"], "mode": best["mode"],
              "chosen_on": {"valid_files": list(best["valid_bpc"]), "objective": "mean bits/char over the files, "
                            "each line from an empty context, on the grid alphabet", "max_lines": choice["max_lines"],
                            "valid_bpc": best["valid_bpc"], "valid_mean_bpc": best["valid_mean_bpc"],
                            "components_alone": {label_to_kind.get(k, k): v for k, v in choice["single"].items()
                                                 if k in label_to_kind}},
              "files": {}}
    for kind in components:
        dst = DATA / NAMES[kind]
        if Path(files[kind]).resolve() != dst.resolve():
            shutil.copyfile(files[kind], dst)
        report["files"][kind] = {"file": dst.name, "bytes": os.path.getsize(dst), "sha256": file_sha256(dst),
                                 "built_by": built.get(kind, "")}
    report["total_bytes"] = sum(f["bytes"] for f in report["files"].values())
    if args.train_manifest:
        report["training_text"] = json.load(open(args.train_manifest))
    if args.train_text:
        report["training_text_sha256"] = file_sha256(args.train_text)
    if args.extra:
        report.update(json.load(open(args.extra)))
    with open(DATA / "everyday.json", "w") as fid:
        json.dump(report, fid, indent=1)
    print(json.dumps({k: report[k] for k in ("components", "weights", "mode", "files", "total_bytes")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
