"""Offline evaluation wiring: recordings -> epochs -> decoders -> AUC and simulated spelling.

Used by ``neurospell train`` / ``neurospell evaluate``, ``neurospell.session.train``
(torchrun entry point) and ``benchmarks/evaluate_gtec.py``. The simulated figures
(:func:`accuracy_curve`, :func:`reliability`) come from the speller engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from neurospell.batchio import load_batch, save_batch  # the one writer and reader of epoch files
from neurospell.check import NeurospellError, check_distinct_paths, check_fname
from neurospell.config import PreprocessConfig
from neurospell.logs import logger, use_log_level
from neurospell.parts import split_part
from neurospell.preprocessing import epochs_from_raw, load_recording
from neurospell.types import EpochBatch, SpellerLayout

from .drivers import spell_symbol
from .engine import SpellerEngine
from .pooling import pool_batches
from .simulator.scores import ScoreSampler, simulate_accuracy

__all__ = [
    "load_epochs",
    "save_batch",
    "load_batch",
    "split_by_trials",
    "auc",
    "accuracy_curve",
    "reliability",
    "ensure_trials_unique",
    "recorded_repetitions",
]


def load_epochs(paths, cfg=None, *, sfreq=None, verbose=None) -> EpochBatch:
    """Read recordings and cut labelled epochs, pooling several recordings.

    Parameters
    ----------
    paths : path-like | sequence of path-like
        Recordings in any format :func:`neurospell.preprocessing.load_recording` reads, or
        ``.npz`` files written by :func:`save_batch`.
    cfg : PreprocessConfig | None
        Filtering and epoching (default: the shipped ``[preprocessing]`` defaults).
    sfreq : float | None
        Common rate of pooled recordings; default: the lowest of their rates (recordings at
        other rates are resampled after filtering, see :mod:`.pooling`).
    verbose : bool | str | int | None

    Returns
    -------
    batch : EpochBatch
        Epochs of all recordings (channels matched by name to the first recording's); ``trials``
        are renumbered so that characters of different recordings never share an index, and
        ``recording`` says which recording each epoch came from (``None`` for one recording).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise NeurospellError("load_epochs: give at least one recording path.")
    check_distinct_paths("recordings", paths, why="Its epochs would count twice, and the same characters "
                         "would fall on both sides of a cross-validation split.")
    with use_log_level(verbose):
        if cfg is None:
            cfg = PreprocessConfig()
        batches = []
        for p in paths:
            path = check_fname(split_part(p)[0], "recording")  # FILE:PART: one part of a file
            if path.suffix == ".npz":
                b = load_batch(path)
            else:
                raw = load_recording(p)
                _, b = epochs_from_raw(raw, cfg)
            logger.info("%s: %d epochs, %d targets", path.name, len(b),
                        -1 if b.targets is None else int(np.sum(b.targets)))
            batches.append(b)
        return pool_batches(batches, [str(p) for p in paths], sfreq=sfreq)


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
    return float(roc_auc_score(np.asarray(targets).astype(int), np.asarray(scores)))


def recorded_repetitions(batch: EpochBatch, layout: SpellerLayout | None = None) -> int | None:
    """The most repetitions of ``layout`` that one character of ``batch`` was recorded with.

    A character's target flashes divided by the flashes that light up a symbol in one
    repetition (2 on the row/column grid); ``None`` when the batch has no targets or trials.
    """
    if batch.targets is None or batch.trials is None or not len(batch):
        return None
    layout = SpellerLayout.row_column() if layout is None else layout
    per_rep = max(1, int(layout.membership().sum(axis=0).min()))
    trials = np.asarray(batch.trials)[np.asarray(batch.targets, bool)]
    if not trials.size:
        return None
    return int(np.unique(trials, return_counts=True)[1].max()) // per_rep


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
    targets = np.asarray(targets, bool)
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    who = ScoreSampler(scores[targets], scores[~targets], rng)
    layout = SpellerLayout.row_column() if layout is None else layout
    return simulate_accuracy(who, layout, score_model, max_repetitions=max_repetitions,
                             n_selections=n_selections, rng=rng)


def reliability(scores, targets, score_model, config, *, layout: SpellerLayout | None = None,
                n_selections: int = 500, n_bins: int = 10, seed: int = 0) -> dict:
    """Reliability of the speller's posteriors: mean posterior of decided symbols vs accuracy.

    Selections are simulated through the :class:`~neurospell.session.engine.SpellerEngine`
    (no language model, the ``[speller]`` stopping rule of ``config``) with a participant
    answering flashes with held-out scores; each decision's posterior is binned.

    Parameters
    ----------
    scores : array, shape (n_epochs,)
        Held-out decision scores.
    targets : array of bool, shape (n_epochs,)
    score_model : ScoreModel
    config : Config
    layout : SpellerLayout | None
        Default: the ``[speller]`` grid.
    n_selections : int
    n_bins : int
        Equal-width bins of the posterior over ``[0, 1]``.
    seed : int

    Returns
    -------
    table : dict
        ``edges`` (n_bins + 1,), ``count``, ``mean_posterior``, ``accuracy`` (n_bins,;
        NaN for empty bins), ``posterior`` and ``correct`` of every decision, and ``ece``
        (expected calibration error: count-weighted mean |posterior - accuracy|).
    """
    targets = np.asarray(targets, bool)
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    who = ScoreSampler(scores[targets], scores[~targets], rng)
    layout = config.speller.layout() if layout is None else layout
    engine = SpellerEngine.from_config(layout, score_model, None, config, beam_width=0,
                                       n_completions=0, seed=rng)
    post, correct = np.empty(int(n_selections)), np.empty(int(n_selections), bool)
    for k in range(int(n_selections)):
        sym = layout.symbols[rng.integers(len(layout.symbols))]
        dec = spell_symbol(engine, sym, who)
        post[k], correct[k] = dec.decision.posterior, dec.decision.symbol == sym
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    idx = np.clip(np.digitize(post, edges[1:-1]), 0, int(n_bins) - 1)
    count = np.bincount(idx, minlength=int(n_bins))
    with np.errstate(invalid="ignore"):
        mean_post = np.bincount(idx, post, int(n_bins)) / count
        acc = np.bincount(idx, correct.astype(float), int(n_bins)) / count
    ok = count > 0
    ece = float(np.sum(count[ok] * np.abs(mean_post[ok] - acc[ok])) / count.sum())
    return {"edges": edges, "count": count, "mean_posterior": mean_post, "accuracy": acc,
            "posterior": post, "correct": correct, "ece": ece}
