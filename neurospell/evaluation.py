"""Offline evaluation wiring: recordings -> epochs -> decoders -> AUC and simulated spelling.

Core module (imports the stages inside functions only). Used by ``neurospell train`` /
``neurospell evaluate``, ``neurospell.decoder.train`` (torchrun entry point) and
``benchmarks/evaluate_gtec.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .batchio import load_batch, save_batch  # the one writer and reader of epoch files
from .check import NeurospellError, check_fname
from .logs import logger, use_log_level
from .types import EpochBatch, SpellerLayout

__all__ = [
    "load_epochs",
    "save_batch",
    "load_batch",
    "split_by_trials",
    "auc",
    "accuracy_curve",
    "ensure_trials_unique",
]


def load_epochs(paths, cfg=None, *, verbose=None) -> EpochBatch:
    """Read recordings and cut labelled epochs, pooling several recordings.

    Parameters
    ----------
    paths : path-like | sequence of path-like
        Recordings in any format :func:`neurospell.preprocessing.load_recording` reads, or
        ``.npz`` files written by :func:`save_batch`.
    cfg : PreprocessConfig | None
        Filtering and epoching (default: the shipped ``[preprocessing]`` defaults).
    verbose : bool | str | int | None

    Returns
    -------
    batch : EpochBatch
        Epochs of all recordings; ``trials`` are renumbered so that characters of different
        recordings never share an index.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise NeurospellError("load_epochs: give at least one recording path.")
    with use_log_level(verbose):
        if cfg is None:
            from .config import PreprocessConfig

            cfg = PreprocessConfig()
        batches = []
        for p in paths:
            path = check_fname(p, "recording")
            if path.suffix == ".npz":
                b = load_batch(path)
            else:
                from neurospell.preprocessing import epochs_from_raw, load_recording

                raw = load_recording(path)
                _, b = epochs_from_raw(raw, cfg)
            logger.info("%s: %d epochs, %d targets", path.name, len(b),
                        -1 if b.targets is None else int(np.sum(b.targets)))
            batches.append(b)
        return ensure_trials_unique(batches)


def ensure_trials_unique(batches: Sequence[EpochBatch]) -> EpochBatch:
    """Concatenate batches, offsetting ``trials`` so each recording's characters stay distinct."""
    out, offset = [], 0
    for b in batches:
        tr = b.trials if b.trials is not None else np.zeros(len(b), np.int64)
        tr = np.asarray(tr) - (tr.min() if len(tr) else 0) + offset
        offset = int(tr.max()) + 1 if len(tr) else offset
        out.append(EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, b.ch_names,
                              b.targets, tr))
    return out[0] if len(out) == 1 else EpochBatch.concatenate(out)


def split_by_trials(batch: EpochBatch, train_trials) -> tuple[EpochBatch, EpochBatch]:
    """(train, test): epochs whose ``trials`` are in ``train_trials`` vs the others."""
    if batch.trials is None:
        raise NeurospellError("split_by_trials: the batch has no trials (character indices).")
    m = np.isin(batch.trials, list(train_trials))
    return batch.subset(m), batch.subset(~m)


def auc(targets, scores) -> float:
    """ROC AUC of scores against boolean targets."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(targets).astype(int), np.asarray(scores)))


def accuracy_curve(scores, targets, score_model, *, layout: SpellerLayout | None = None,
                   max_repetitions: int = 15, n_selections: int = 500, seed: int = 0) -> np.ndarray:
    """Simulated character accuracy after 1..max_repetitions repetitions.

    Parameters
    ----------
    scores : array, shape (n_epochs,)
        Held-out decision scores.
    targets : array of bool, shape (n_epochs,)
    score_model : ScoreModel
        The decoder's calibrated score densities.
    layout : SpellerLayout | None
        Default: the 6 x 6 row/column grid.

    Returns
    -------
    accuracy : array, shape (max_repetitions,)
    """
    from .simulation import SimulatedParticipant, simulate_accuracy

    targets = np.asarray(targets, bool)
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    who = SimulatedParticipant(scores[targets], scores[~targets], rng)
    layout = SpellerLayout.row_column() if layout is None else layout
    return simulate_accuracy(who, layout, score_model, max_repetitions=max_repetitions,
                             n_selections=n_selections, rng=rng)
