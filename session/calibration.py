"""Calibration a live session can use: the LM weight chosen on calibration data and stored
with the trained model.

:func:`calibrate_model_alpha` runs :func:`~neurospell.session.spelling.calibrate_alpha`
(copy-spelling through the speller engine, with a participant answering with the decoder's
held-out calibration scores) right after the decoder is fitted, and stores the weight in
the model's provenance (``provenance_["lm_alpha"]``), which
:meth:`SpellerEngine.from_config <neurospell.session.engine.SpellerEngine.from_config>`
uses unless ``[lm] alpha`` overrides it.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger

from .spelling import CALIBRATION_PHRASES, calibrate_alpha

__all__ = ["calibrate_model_alpha"]


def calibrate_model_alpha(decoder, lm, config, *, lm_name: str | None = None, phrases=None,
                          seed: int = 0) -> float:
    """Choose the LM weight on the decoder's held-out calibration scores and store it.

    Parameters
    ----------
    decoder : BaseDecoder
        Just fitted (its ``heldout_scores_`` / ``heldout_targets_`` are the cross-validated
        scores of the calibration epochs).
    lm : LanguageModel | None
        ``None`` stores nothing and returns 0.
    config : Config
        ``[lm] floor``/``backspace_p`` and the grid of ``[speller]``.
    lm_name : str | None
        Recorded with the weight (the weight suits this model).
    phrases : sequence of str | None
        Calibration text (default :data:`~neurospell.session.spelling.CALIBRATION_PHRASES`).
    seed : int

    Returns
    -------
    alpha : float
    """
    if lm is None:
        return 0.0
    scores = getattr(decoder, "heldout_scores_", None)
    targets = getattr(decoder, "heldout_targets_", None)
    if scores is None or targets is None:
        raise NeurospellError(
            "calibrate_model_alpha: the decoder has no held-out calibration scores; call it right "
            "after fit() (a loaded model does not keep them)."
        )
    y = np.asarray(targets, bool)
    s = np.asarray(scores, float)
    alpha, grid_scores = calibrate_alpha(
        lm, config.speller.layout(), decoder.score_model_, s[y], s[~y],
        phrases=CALIBRATION_PHRASES if phrases is None else phrases, floor=config.lm.floor,
        backspace_p=config.lm.backspace_p, seed=seed)
    decoder.provenance_["lm_alpha"] = {
        "alpha": float(alpha), "lm": lm_name or getattr(lm, "name", "lm"),
        "mean_log_posterior": float(np.max(grid_scores)),
    }
    logger.info("LM weight alpha = %g chosen on the calibration scores (%s)", alpha,
                decoder.provenance_["lm_alpha"]["lm"])
    return float(alpha)
