"""The generic (cross-subject) model shipped with the package: where it is, and its provenance.

``benchmarks/train_generic.py`` (``make generic-model``) trains it on every development
recording it is given (aligned ``xdawncov-ts-lr``: each recording re-centred on its own
epochs) and writes it here, with ``generic.json`` (its inputs' names and SHA-256, the
command, the software versions). ``neurospell evaluate generic RECORDING`` loads it.
"""

from __future__ import annotations

from pathlib import Path

from neurospell.check import NeurospellError

__all__ = ["GENERIC_DIR", "generic_model_path"]

#: folder of the shipped generic model (package data: ``generic/*.pt``, ``generic/*.json``)
GENERIC_DIR = Path(__file__).resolve().parent / "generic"


def generic_model_path() -> Path:
    """The shipped generic model file; a clear error when this installation has none."""
    path = GENERIC_DIR / "generic.pt"
    if not path.is_file():
        raise NeurospellError(
            f"No generic model is installed ({path} does not exist). Train it from the development "
            "recordings with `make generic-model DATA='rec1 rec2 ...'` (benchmarks/train_generic.py), "
            "or give a MODEL file written by `neurospell train`.")
    return path
