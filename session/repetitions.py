"""Held-out accuracy as a function of the number of repetitions (the training report's curve)."""

from __future__ import annotations

import numpy as np

from neurospell.types import EpochBatch

__all__ = ["accuracy_vs_repetitions"]


def accuracy_vs_repetitions(batch: EpochBatch, scores, layout) -> list[float] | None:
    """Held-out character accuracy after 1, 2, ... repetitions of the calibration flashes.

    Each calibration character is decided from the sum of its flashes' held-out
    (cross-validated) scores over the first ``r`` repetitions (the symbol whose groups score
    highest). ``None`` without trial markers or when the scores are not one per epoch.

    Parameters
    ----------
    batch : EpochBatch
        The labelled calibration epochs (``trials`` and ``targets`` set).
    scores : array, shape (n_epochs,)
        Held-out decision scores, in the batch's order.
    layout : SpellerLayout

    Returns
    -------
    accuracy : list of float | None
        Index 0 = one repetition.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if batch.trials is None or batch.targets is None or scores.shape != (len(batch),):
        return None
    n_g = layout.n_groups
    member = np.zeros((n_g, len(layout.symbols)))
    for g, syms in enumerate(layout.flash_groups):
        member[g, list(syms)] = 1.0
    rows = []
    for t in np.unique(batch.trials):
        idx = np.flatnonzero(batch.trials == t)
        idx = idx[np.argsort(batch.onsets[idx], kind="stable")]
        codes = batch.codes[idx] - 1
        ok = (codes >= 0) & (codes < n_g)
        idx, codes = idx[ok], codes[ok]
        if not idx.size or not batch.targets[idx].any():
            continue
        hits = member[codes[batch.targets[idx]]].sum(0) - member[codes[~batch.targets[idx]]].sum(0)
        true = int(np.argmax(hits))
        row = []
        for r in range(1, -(-idx.size // n_g) + 1):
            k = slice(0, r * n_g)
            row.append(int(np.argmax(scores[idx[k]] @ member[codes[k]])) == true)
        rows.append(row)
    if not rows:
        return None
    n_rep = min(len(r) for r in rows)
    return [float(np.mean([r[i] for r in rows])) for i in range(n_rep)]

