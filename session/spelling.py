"""Text out of a recorded speller session: flash scores -> character likelihoods ->
fusion with the language model -> decisions, with and without the language model.

:func:`decode_recording` takes a recording (MNE ``Raw`` with ``flash/<code>`` and
``trial/<i>/<symbol>`` annotations, a path, or an :class:`~neurospell.types.EpochBatch`
with ``codes`` and ``trials``), a fitted decoder, the grid layout and a language model, and
drives the :class:`~neurospell.session.engine.SpellerEngine` character by character
(:func:`~neurospell.session.drivers.run_trials`). Dynamic stopping uses only the first
repetitions of each recorded character when the posterior is already confident; the
flashes it saves count as time saved. :func:`calibrate_alpha` chooses the LM weight on
calibration scores through the same engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, validate_type
from neurospell.config import Config
from neurospell.lm_fusion import choose_alpha, lm_prior, make_model
from neurospell.logs import logger, use_log_level
from neurospell.markers import decode_symbol, parse_trial
from neurospell.preprocessing import epochs_from_raw, load_recording
from neurospell.types import Decision, EpochBatch, SpellerLayout

from .drivers import run_trials, spell_symbol
from .engine import SelectionDecided, SpellerEngine, model_alpha
from .simulator.scores import ScoreSampler
from .stats import SpellingFigures, SpellingStats, itr_bits

__all__ = ["SpellingResult", "SpellingReport", "decode_recording", "decode_batch",
           "spelling_result", "itr_bits", "levenshtein", "intended_text_from_raw",
           "calibrate_alpha", "CALIBRATION_PHRASES"]

#: Everyday phrases (written for this project) used to choose the LM weight when no other
#: calibration text is given.
CALIBRATION_PHRASES = (
    "HOW ARE YOU TODAY",
    "I WOULD LIKE SOME WATER PLEASE",
    "CAN YOU CALL MY SISTER",
    "THANK YOU VERY MUCH",
    "I AM FEELING A LITTLE TIRED",
    "WHAT TIME IS IT NOW",
    "PLEASE OPEN THE WINDOW",
    "SEE YOU TOMORROW MORNING",
)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def text_chars_typed(typed: str, phrase: str) -> int:
    """Characters of ``phrase`` that ``typed`` delivers: its length minus the edit distance (a
    word cell's final space after the phrase does not count against it). Effective characters
    per minute are these per minute of spelling."""
    typed = phrase if typed == phrase + " " else typed
    return max(0, len(phrase) - levenshtein(typed, phrase))


@dataclass(frozen=True)
class SpellingResult(SpellingFigures):
    """Decoded text and its figures, for one condition (with or without the LM).

    The figures come from :attr:`stats` (:class:`~neurospell.session.stats.SpellingStats`);
    an undefined one is ``None``.

    Attributes
    ----------
    decoded : str
        The text made of the decisions (backspaces applied).
    intended : str | None
        The text the participant was asked to spell (from the trial annotations).
    corrected : str
        The best candidate of the beam (EEG + LM re-ranking), possibly correcting decisions.
    decisions : tuple of Decision
    n_flashes : tuple of int
        Flashes used per selection.
    lm : str
        Name of the language model (``"none"`` without).
    seconds : float
        Spelling time: flashes x SOA + one inter-trial pause per selection.
    """

    decoded: str
    intended: str | None
    corrected: str
    decisions: tuple[Decision, ...]
    n_flashes: tuple[int, ...]
    lm: str
    seconds: float
    n_symbols: int
    symbols: tuple[str, ...] = field(default=(), repr=False)

    @property
    def stats(self) -> SpellingStats:
        """The figures (:class:`~neurospell.session.stats.SpellingStats`): the accuracy is out
        of the intended symbols (a selection missing counts as wrong)."""
        hits = None
        if self.intended:
            hits = sum(d.symbol == t for d, t in zip(self.decisions, self.intended, strict=False))
        return SpellingStats(len(self.decisions), int(sum(self.n_flashes)), self.seconds, self.n_symbols,
                             hits, len(self.intended) if self.intended else None)

    @property
    def n_selections(self) -> int:
        return len(self.decisions)


    @property
    def cer(self) -> float | None:
        """Character error rate of the decoded text against the intended text (``None`` without)."""
        if not self.intended:
            return None
        return levenshtein(self.decoded, self.intended) / len(self.intended)




    def summary(self) -> dict:
        return {"lm": self.lm, "decoded": self.decoded, "corrected": self.corrected,
                "intended": self.intended, "accuracy": self.accuracy, "cer": self.cer,
                "chars_per_minute": self.chars_per_minute, "itr_bits_per_min": self.itr,
                "flashes_per_char": self.flashes_per_char, "seconds": self.seconds}


@dataclass(frozen=True)
class SpellingReport:
    """:func:`decode_recording`'s result: the same session decoded with and without the LM."""

    with_lm: SpellingResult
    without_lm: SpellingResult

    def table(self) -> list[dict]:
        return [self.without_lm.summary(), self.with_lm.summary()]


def intended_text_from_raw(raw) -> dict[int, str]:
    """``{trial index: symbol}`` from ``trial/<i>/<symbol>`` annotations of a ``Raw``."""
    out = {}
    for d in raw.annotations.description:
        tr = parse_trial(d)
        if tr is not None and tr[1] is not None:
            out[tr[0]] = decode_symbol(tr[1])
    return out


def spelling_result(decisions: Sequence[SelectionDecided], layout: SpellerLayout, speller_cfg, *,
                    intended: str | None = None, corrected: str | None = None,
                    lm_name: str = "none") -> SpellingResult:
    """The figures of a run of decisions (one phrase, one condition).

    Parameters
    ----------
    decisions : sequence of SelectionDecided
        From one engine, starting from an empty text.
    layout : SpellerLayout
    speller_cfg : SpellerConfig
        ``soa`` and ``inter_trial`` give the spelling time.
    intended : str | None
    corrected : str | None
        The engine's best candidate (default: the decoded text).
    lm_name : str
    """
    decisions = list(decisions)
    text = decisions[-1].text if decisions else ""
    n_flashes = tuple(d.n_flashes for d in decisions)
    seconds = sum(n_flashes) * speller_cfg.soa + len(decisions) * speller_cfg.inter_trial
    return SpellingResult(
        decoded=text, intended=intended, corrected=text if corrected is None else corrected,
        decisions=tuple(d.decision for d in decisions), n_flashes=n_flashes, lm=lm_name,
        seconds=seconds, n_symbols=len(layout.symbols), symbols=layout.symbols,
    )


def decode_batch(batch: EpochBatch, scores, score_model, layout: SpellerLayout, lm, config, *,
                 intended: str | dict | None = None, on_decision: Callable | None = None,
                 dynamic_stopping: bool = True, lm_name: str | None = None,
                 alpha: float | None = None) -> SpellingResult:
    """Decode epochs already scored by a decoder (one condition), from an empty text.

    Parameters
    ----------
    batch : EpochBatch
        Flashes with ``codes`` (group index + 1) and ``trials`` (character index).
    scores : array, shape (n_epochs,)
        Decoder decision scores of the epochs.
    score_model : ScoreModel
    layout : SpellerLayout
    lm : LanguageModel | None
    config : Config
    intended : str | dict | None
        Intended text (one symbol per trial, in trial order) or ``{trial: symbol}``.
    on_decision : callable ``(SelectionDecided) -> None`` | None
    dynamic_stopping : bool
        ``False`` uses every recorded repetition (up to ``max_repetitions``).
    lm_name : str | None
    alpha : float | None
        The LM weight stored with the model (used unless ``[lm] alpha`` overrides it).

    Returns
    -------
    SpellingResult
    """
    validate_type(batch, EpochBatch, "batch")
    if batch.trials is None:
        raise NeurospellError("decode: the epochs have no trial (character) indices; "
                              "the recording needs trial/<i> annotations or pauses between characters.")
    codes = np.asarray(batch.codes)
    if np.any(codes < 1) or np.any(codes > layout.n_groups):
        raise NeurospellError(
            f"decode: flash codes must be group indices + 1 in [1, {layout.n_groups}] for this layout; "
            f"got values from {codes.min()} to {codes.max()}. Recordings without row/column codes "
            "(such as the g.tec files) cannot be decoded into text; use the speller simulation."
        )
    trials = np.unique(batch.trials[batch.trials >= 0])
    if isinstance(intended, dict):
        intended_str = "".join(intended.get(int(t), "?") for t in trials)
    else:
        intended_str = intended
    threshold = config.speller.stop_threshold if dynamic_stopping else 1.0
    engine = SpellerEngine.from_config(layout, score_model, lm, config, model_alpha=alpha,
                                       stop_threshold=threshold)
    decisions = run_trials(engine, codes - 1, scores, batch.trials, batch.onsets, on_decision=on_decision)
    best = engine.candidates.best
    return spelling_result(decisions, layout, config.speller, intended=intended_str,
                           corrected=best.text if best else engine.text,
                           lm_name=lm_name or ("none" if lm is None else getattr(lm, "name", "lm")))


def decode_recording(raw_or_batch, decoder, layout: SpellerLayout | None = None, lm=None, config=None,
                     *, intended: str | dict | None = None, on_decision: Callable | None = None,
                     dynamic_stopping: bool = True, verbose=None) -> SpellingReport:
    """Decode a recorded speller session into text, with and without the language model.

    Parameters
    ----------
    raw_or_batch : mne.io.Raw | path-like | EpochBatch
        A recording whose flashes carry their row/column codes (``flash/<code>``) and whose
        characters are marked ``trial/<i>/<symbol>`` (the symbol gives the intended text),
        or epochs already cut (then pass ``intended``).
    decoder : BaseDecoder
        A fitted decoder (``decision_function``, ``score_model_``).
    layout : SpellerLayout | None
        Default: the ``[speller]`` grid of ``config``.
    lm : LanguageModel | str | None
        The prior (a model or a registry name); ``None`` decodes only without it.
    config : Config | None
        Default: the shipped defaults.
    intended : str | dict | None
        Overrides the intended text read from the trial annotations.
    on_decision : callable ``(SelectionDecided) -> None`` | None
        Called after each decision of the with-LM pass (e.g. to show progress).
    dynamic_stopping : bool
    verbose : bool | str | int | None

    Returns
    -------
    SpellingReport
        ``with_lm`` (same as ``without_lm`` when ``lm`` is None) and ``without_lm``.
    """
    with use_log_level(verbose):
        if config is None:
            config = Config()
        layout = config.speller.layout() if layout is None else layout
        validate_type(layout, SpellerLayout, "layout")
        if isinstance(lm, str):
            lm = make_model(lm, config.lm)
        if isinstance(raw_or_batch, (str, Path)):
            raw_or_batch = load_recording(raw_or_batch)
        if isinstance(raw_or_batch, EpochBatch):
            batch = raw_or_batch
        else:
            if intended is None:
                intended = intended_text_from_raw(raw_or_batch) or None
            _, batch = epochs_from_raw(raw_or_batch, config.preprocessing)
        scores = decoder.decision_function(batch)
        sm = decoder.score_model_
        without = decode_batch(batch, scores, sm, layout, None, config, intended=intended,
                               dynamic_stopping=dynamic_stopping, lm_name="none",
                               on_decision=on_decision if lm is None else None)
        if lm is None:
            return SpellingReport(without, without)
        with_lm = decode_batch(batch, scores, sm, layout, lm, config, intended=intended,
                               on_decision=on_decision, dynamic_stopping=dynamic_stopping,
                               alpha=model_alpha(decoder, getattr(lm, "name", None)))
        logger.info("decoded %r (no LM: %r), intended %r", with_lm.decoded, without.decoded, with_lm.intended)
        return SpellingReport(with_lm, without)


def calibrate_alpha(lm, layout: SpellerLayout, score_model, target_scores, nontarget_scores, *,
                    phrases=None, n_repetitions: int = 3, floor: float = 1e-3,
                    backspace_p: float = 0.05, seed: int = 0, grid=None) -> tuple[float, np.ndarray]:
    """Choose the LM weight ``alpha`` on calibration data (never on the test data).

    Simulates copy-spelling ``phrases`` through the :class:`SpellerEngine` (stopping
    disabled) with a participant who answers flashes with held-out calibration scores,
    records the EEG log-likelihood after 1..``n_repetitions`` repetitions and the LM prior
    of every selection (each in the context of the intended text so far), and picks the
    ``alpha`` that maximises the mean log posterior of the intended symbol
    (:func:`neurospell.lm_fusion.choose_alpha`).

    Parameters
    ----------
    lm : LanguageModel
    layout : SpellerLayout
    score_model : ScoreModel
        The decoder's calibrated score densities.
    target_scores, nontarget_scores : array, shape (n,)
        Held-out decoder scores of calibration epochs.
    phrases : sequence of str | None
        Calibration text on the grid alphabet (default :data:`CALIBRATION_PHRASES`).
    n_repetitions : int
    floor : float
    backspace_p : float
    seed : int
    grid : sequence of float | None

    Returns
    -------
    alpha : float
    scores : array
        Mean log posterior of the intended symbol for each candidate ``alpha``.
    """
    phrases = CALIBRATION_PHRASES if phrases is None else tuple(phrases)
    for ph in phrases:
        for sym in ph:
            if sym not in layout.symbols:
                raise NeurospellError(f"calibrate_alpha: {sym!r} of {ph!r} is not on the grid.")
    rng = np.random.default_rng(seed)
    who = ScoreSampler(target_scores, nontarget_scores, rng)
    # the engine without prior: its posterior is the normalised EEG likelihood
    engine = SpellerEngine(layout, score_model, None, alpha=0.0, stop_threshold=1.0,
                           max_repetitions=int(n_repetitions), beam_width=0, n_completions=0, seed=rng)
    lls, priors, targets = [], [], []
    for ph in phrases:
        for i, sym in enumerate(ph):
            # the LM prior in the context of the intended text (teacher forcing), as the engine makes it
            prior = lm_prior(lm, ph[:i], layout.symbols, backspace_p=backspace_p)

            def level(r, post, sym=sym, prior=prior):
                lls.append(post.logp.copy())
                priors.append(prior)
                targets.append(layout.symbols.index(sym))

            spell_symbol(engine, sym, who, on_repetition=level)
    return choose_alpha(np.array(lls), priors, np.array(targets), floor=floor, grid=grid)
