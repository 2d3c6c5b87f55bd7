"""The training report's accuracy-by-repetitions curve is decided by the speller engine."""

import numpy as np

from neurospell.config import Config
from neurospell.decoder import ScoreModel
from neurospell.session.drivers import run_trials
from neurospell.session.engine import SpellerEngine
from neurospell.session.repetitions import accuracy_vs_repetitions
from neurospell.types import EpochBatch


def _calibration(layout, chars, n_rep, rng):
    codes, trials, targets = [], [], []
    for t, sym in enumerate(chars):
        for _ in range(n_rep):
            for g in rng.permutation(layout.n_groups):
                codes.append(g + 1)
                trials.append(t)
                targets.append(sym in layout.flash_groups[g])
    codes, trials, targets = np.array(codes), np.array(trials), np.array(targets)
    n = codes.size
    return EpochBatch(np.zeros((n, 1, 4)), codes, np.arange(n) * 0.1, 0.0, 100.0, ("Cz",),
                      targets=targets, trials=trials)


def test_the_curve_is_what_the_engine_decides_after_each_repetition():
    layout = Config().speller.layout()
    rng = np.random.default_rng(3)
    chars = rng.choice(len(layout.symbols), 12, replace=False)
    n_rep = 4
    batch = _calibration(layout, chars, n_rep, rng)
    scores = rng.normal(0.0, 1.0, len(batch)) + 0.8 * batch.targets
    # separate variances: the log-likelihood ratio is not linear in the score
    model = ScoreModel("gaussian-separate").fit(np.r_[rng.normal(0, 1, 400), rng.normal(0.8, 1.6, 400)],
                                                np.r_[np.zeros(400), np.ones(400)].astype(bool))
    curve = accuracy_vs_repetitions(batch, scores, layout, model)
    assert len(curve) == n_rep
    for r in range(1, n_rep + 1):
        # the same flashes decided by run_trials through an engine that stops after r repetitions
        engine = SpellerEngine(layout, model, None, alpha=0.0, stop_threshold=1.0, max_repetitions=r,
                               beam_width=0, n_completions=0)
        decs = run_trials(engine, batch.codes - 1, scores, batch.trials, batch.onsets)
        hits = [d.decision.symbol == layout.symbols[c] for d, c in zip(decs, chars, strict=True)]
        assert curve[r - 1] == float(np.mean(hits)), r


def test_the_score_model_decides_not_the_raw_scores():
    """A score far above every target score is evidence against a target under the model:
    the engine picks the true symbol where the largest summed score points elsewhere."""
    layout = Config().speller.layout()
    rng = np.random.default_rng(0)
    true, n_g = 0, layout.n_groups
    other = next(s for s in range(len(layout.symbols))
                 if not any(s in g and true in g for g in layout.flash_groups))
    batch = _calibration(layout, [true], 1, rng)
    groups = batch.codes - 1
    scores = np.array([1.0 if true in layout.flash_groups[g] else 6.0 if other in layout.flash_groups[g] else 0.0
                       for g in groups])
    # targets score near 1 (narrow), non-targets anywhere (wide): 6 is a non-target's score
    model = ScoreModel("gaussian-separate").fit(np.r_[rng.normal(0, 2.0, 500), rng.normal(1.0, 0.2, 500)],
                                                np.r_[np.zeros(500), np.ones(500)].astype(bool))
    member = np.zeros((n_g, len(layout.symbols)))
    for g, syms in enumerate(layout.flash_groups):
        member[g, list(syms)] = 1.0
    assert int(np.argmax(scores @ member[groups])) == other  # the raw scores' argmax is wrong
    assert accuracy_vs_repetitions(batch, scores, layout, model) == [1.0]
