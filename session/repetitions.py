"""Held-out accuracy as a function of the number of repetitions (the training report's curve),
decided by the speller engine."""

from __future__ import annotations

import numpy as np

from neurospell.types import EpochBatch

from .engine import SpellerEngine

__all__ = ["accuracy_vs_repetitions"]


def accuracy_vs_repetitions(batch: EpochBatch, scores, layout, score_model) -> list[float] | None:
    """Held-out character accuracy after 1, 2, ... repetitions of the calibration flashes.

    Each calibration character's flashes (in onset order) go to a
    :class:`~neurospell.session.engine.SpellerEngine` with the decoder's score model and a
    uniform prior (no language model, no dynamic stopping), as their held-out
    (cross-validated) scores; after each repetition the engine's choice (the argmax of its
    posterior, what it would decide there) is compared with the character. ``None``
    without trial markers or when the scores are not one per epoch.

    Parameters
    ----------
    batch : EpochBatch
        The labelled calibration epochs (``trials`` and ``targets`` set).
    scores : array, shape (n_epochs,)
        Held-out decision scores, in the batch's order.
    layout : SpellerLayout
    score_model : ScoreModel
        The decoder's score densities (``decoder.score_model_``).

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
        true = layout.symbols[int(np.argmax(hits))]
        engine = SpellerEngine(layout, score_model, None, alpha=0.0, stop_threshold=1.0,
                               max_repetitions=-(-idx.size // n_g), beam_width=0, n_completions=0)
        row = []
        for n, (g, s) in enumerate(zip(codes.tolist(), scores[idx].tolist(), strict=True), 1):
            events = engine.on_flash(g, s)
            if events:  # the last repetition: the engine decides
                row.append(events[0].decision.symbol == true)
            elif n % n_g == 0 or n == idx.size:
                row.append(engine.posterior().argmax() == true)
        rows.append(row)
    if not rows:
        return None
    n_rep = min(len(r) for r in rows)
    return [float(np.mean([r[i] for r in rows])) for i in range(n_rep)]
