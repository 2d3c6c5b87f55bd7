"""Train the generic cross-subject model and install it into the package (``decoder/generic/``).

Pools every development recording given (default: the six development participants,
``../shared/data/gtec_p300/S1-S3.mat`` and ``../shared/data/bnci003/s6-s8.mat``), resampled to
the lowest of their rates and matched by channel name, aligns each on its own epochs (Riemannian
re-centering; no labels used), trains ``xdawncov-ts-lr`` on them with the shipped
``[preprocessing]`` defaults and writes ``decoder/generic/generic.pt`` and ``generic.json``
(the inputs' names, sizes and SHA-256, the command, held-out AUC, the model's SHA-256 and
size, software versions). ``neurospell evaluate generic RECORDING`` then loads it.

It lives beside the benchmarks because, like them (and ``write_default_lm.py``, which installs
the shipped language model), it reads the shared development data that never enters the
repository; ``make generic-model`` runs it.

    python benchmarks/train_generic.py [RECORDING ...] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from neurospell.check import NeurospellError, shared_data_dir  # noqa: E402
from neurospell.fileio import file_sha256  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEVELOPMENT = ("gtec_p300/S1.mat", "gtec_p300/S2.mat", "gtec_p300/S3.mat",
               "bnci003/s6.mat", "bnci003/s7.mat", "bnci003/s8.mat")


def _shown(path: Path) -> str:
    """A path as provenance shows it: relative to the shared data folder when it lies there (no
    machine's absolute paths in a shipped file), else as given."""
    root = shared_data_dir()
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except (TypeError, ValueError):
        return str(path)


def default_recordings() -> list[Path]:
    root = shared_data_dir()
    if root is None:
        raise NeurospellError("Shared data not found: set NEUROSPELL_SHARED_DATA or give the recordings.")
    return [root / r for r in DEVELOPMENT]


def train_generic(recordings, out_dir, *, decoder: str = "xdawncov-ts-lr", argv=None) -> dict:
    """Train the aligned pooled model on ``recordings`` and write it with its provenance to
    ``out_dir`` (``generic.pt``, ``generic.json``); returns the provenance written."""
    from neurospell.config import load_config
    from neurospell.decoder import make_decoder
    from neurospell.session.evaluation import load_epochs

    recordings = [Path(r) for r in recordings]
    missing = [str(r) for r in recordings if not r.is_file()]
    if missing:
        raise NeurospellError(f"recordings not found: {', '.join(missing)}.")
    if len(recordings) < 2:
        raise NeurospellError(f"a cross-subject model needs at least 2 recordings, got {len(recordings)}.")
    cfg = load_config(None)
    t0 = time.perf_counter()
    batch = load_epochs(recordings, cfg.preprocessing)
    dec = make_decoder(decoder).fit(batch, cfg.preprocessing, sources=recordings, align=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / "generic.pt"
    dec.save(model)
    info = {
        "name": "generic",
        "decoder": decoder,
        "aligned": dec.aligns,
        "alignment": dec.provenance_["alignment"],
        "sfreq": batch.sfreq,
        "ch_names": list(batch.ch_names),
        "n_epochs": len(batch),
        "heldout_auc": float(dec.heldout_auc_),
        "inputs": [{"file": r.name, "path": _shown(r), "bytes": r.stat().st_size, "sha256": file_sha256(r)}
                   for r in recordings],
        "model": {"file": model.name, "bytes": model.stat().st_size, "sha256": file_sha256(model)},
        "command": "python benchmarks/train_generic.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "versions": dec.provenance_["versions"],
        "created": dec.provenance_["created"],
    }
    with open(out_dir / "generic.json", "w") as fid:
        json.dump(info, fid, indent=1)
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recordings", nargs="*", help="development recordings (default: the six participants)")
    ap.add_argument("--out-dir", default=str(ROOT / "decoder" / "generic"),
                    help="where to write generic.pt and generic.json (default: the package's decoder/generic/)")
    args = ap.parse_args(argv)
    try:
        recs = args.recordings or default_recordings()
        info = train_generic(recs, args.out_dir, argv=argv)
    except NeurospellError as err:
        print(f"train_generic: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: info[k] for k in ("decoder", "aligned", "sfreq", "n_epochs", "heldout_auc", "model")},
                     indent=1))
    print(f"Wrote {Path(args.out_dir) / 'generic.pt'} and generic.json "
          f"({len(info['inputs'])} recordings: {', '.join(i['file'] for i in info['inputs'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
