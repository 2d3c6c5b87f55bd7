"""Held-out validation of decoders: folds by character and the ROC AUC of scores."""

from __future__ import annotations

import numpy as np

from neurospell.logs import logger
from neurospell.types import EpochBatch

__all__ = ["roc_auc", "group_folds"]


def roc_auc(targets, scores) -> float:
    """Area under the ROC curve (ties count one half). ``nan`` when one class is absent."""
    y = np.asarray(targets).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def group_folds(groups, n_folds: int) -> list[np.ndarray]:
    """Split epochs into folds by group (character): a list of validation masks.

    Groups are assigned to folds in order of first appearance, round robin, so folds are
    balanced in characters; neighbouring (overlapping) epochs of one character never end up
    on both sides of a split.
    """
    groups = np.asarray(groups)
    uniq = list(dict.fromkeys(groups.tolist()))
    n_folds = max(1, min(int(n_folds), len(uniq)))
    return [np.isin(groups, uniq[k::n_folds]) for k in range(n_folds)]


def _trials_or_blocks(batch: EpochBatch, n_blocks: int = 5) -> np.ndarray:
    if batch.trials is not None:
        return np.asarray(batch.trials)
    logger.warning(
        "EpochBatch.trials is None: splitting by contiguous blocks of epochs instead of by "
        "character for validation and calibration."
    )
    n = len(batch)
    return np.minimum((np.arange(n) * n_blocks) // max(n, 1), n_blocks - 1)


def _ids(groups) -> list:
    """Sorted unique group (character) ids as plain Python values."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.unique(groups)]
