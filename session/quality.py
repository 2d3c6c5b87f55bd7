"""When a calibration or a model's posteriors cannot be trusted, and what to say about it.

One home for two rules:

- :func:`calibration_warning`: a calibration whose held-out AUC is below
  :data:`WEAK_AUC` spells near chance. The real recordings in ``../shared/data/gtec_p300``
  give 0.85-0.95 on a calibration of the default size (780 flashes; ``benchmarks/participant_auc.py
  --real``); at 0.61 a live session copy-spelled
  "HELLO WORLD" at 64 % with 77 flashes per character, at 0.57 "SEE YOU" at 14 %. In
  ``../shared/data/bnci003`` (900 calibration flashes) s7 gives 0.79 and spells 99 % right
  after 15 repetitions (``neurospell evaluate``, simulated), while s6, a poor performer,
  gives 0.67 and spells 44 % right after 15 repetitions: hence 0.70 (it was 0.65, under
  which s6 went unwarned). The AUC's 95 % interval (Hanley & McNeil) is given too: when it
  includes 0.5 the EEG shows no response to the flashes at all.
- :func:`calibration_error_warning`: posteriors whose expected calibration error exceeds
  :data:`MAX_ECE` claim confidences they do not have (e.g. a model of one participant
  applied to another), so the dynamic stopping rule stops on them wrongly.
"""

from __future__ import annotations

import math

__all__ = ["MAX_ECE", "WEAK_AUC", "auc_interval", "calibration_error_warning", "calibration_warning"]

#: Held-out calibration AUC below which a session warns before spelling (and ``neurospell
#: train`` / ``evaluate`` warn): BNCI 003-2015 s6, a poor performer, gives 0.67.
WEAK_AUC = 0.70
#: Expected calibration error above which posteriors are said not to be trustworthy.
MAX_ECE = 0.1


def auc_interval(auc: float, n_targets: int, n_nontargets: int) -> tuple[float, float]:
    """95 % interval of an AUC (Hanley & McNeil 1982 standard error)."""
    a = min(max(float(auc), 1e-6), 1 - 1e-6)
    n1, n0 = max(int(n_targets), 1), max(int(n_nontargets), 1)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return max(0.0, a - 1.96 * se), min(1.0, a + 1.96 * se)


def calibration_warning(auc: float, n_targets: int, n_nontargets: int, *,
                        what: str = "calibration AUC") -> str | None:
    """What a held-out calibration AUC below :data:`WEAK_AUC` means and what to try; ``None``
    for a usable calibration. ``what`` names the figure (e.g. ``"held-out AUC"``)."""
    if auc is None or not math.isfinite(auc) or auc >= WEAK_AUC:
        return None
    lo, hi = auc_interval(auc, n_targets, n_nontargets)
    means = ("the EEG shows no response to the flashes (its 95 % interval includes chance, 0.5)" if lo <= 0.5
             else "the responses to the flashes are barely distinguishable")
    return (f"{what} {auc:.3f} (95 % interval {lo:.2f}-{hi:.2f}) is near chance (below {WEAK_AUC:g}; real "
            f"participants mostly give 0.79-0.95 on a calibration of 780-900 flashes): {means}, so spelling would be slow "
            "and mostly wrong. Check that the "
            "electrodes have contact and the EEG stream is the participant's, that the session's marker stream "
            "reaches the recording (a simulated participant must read it), then calibrate again, with more "
            "repetitions (--calibration-repetitions) or a longer calibration text. Some people show a weak P300 "
            "whatever the set-up (Guger et al. 2009); if a second calibration is no better, expect this speller "
            "to stop at its maximum repetitions without confident decisions for this person, and a confident "
            "decision with a language model to be the language model's guess, not the EEG's.")


def calibration_error_warning(ece: float) -> str | None:
    """What an expected calibration error above :data:`MAX_ECE` means; ``None`` below."""
    if ece is None or not math.isfinite(ece) or ece <= MAX_ECE:
        return None
    return (f"ECE {ece:.3f} > {MAX_ECE:g}: the posteriors cannot be trusted (their confidence is not the accuracy "
            "they reach), and dynamic stopping stops on them wrongly. Usually the model was trained on another "
            "participant or session, or on too little data: calibrate on this participant.")
