"""A real speller-engine snapshot for GUI tests (no session needed)."""

from __future__ import annotations

import numpy as np

from neurospell.config import load_config


def engine_snapshot(text: str):
    """The snapshot of a real engine with the n-gram LM (real completions and re-ranked candidates)
    after ``text`` was typed."""
    from neurospell.decoder import ScoreModel
    from neurospell.lm_fusion import make_model
    from neurospell.session.engine import SpellerEngine

    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(1, 1, 400), rng.normal(-1, 1, 400)]
    sm = ScoreModel().fit(s, np.r_[np.ones(400, bool), np.zeros(400, bool)])
    config = load_config()
    eng = SpellerEngine.from_config(config.speller.layout(), sm, make_model("ngram", config.lm), config, text=text)
    return eng.snapshot()
