"""Real-epoch copy-spelling simulation (``neurospell simulate``).

For each recording: a decoder is calibrated on its first characters; the language-model
weight is chosen on the decoder's held-out calibration scores
(:func:`~neurospell.session.calibration.calibrate_model_alpha`); then a
:class:`~neurospell.session.simulator.scores.ScoreSampler` answers every flash the
:class:`~neurospell.session.engine.SpellerEngine` asks for with the decoder's score of a
real epoch of the held-out characters (a target epoch when the flash contains the symbol
being spelled), copy-spelling each phrase from an empty text, with and without the
language model. Every condition uses the same seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from neurospell.check import NeurospellError
from neurospell.decoder import make_decoder
from neurospell.logs import logger

from .calibration import calibrate_model_alpha
from .drivers import copy_spell, copy_spell_words
from .engine import SpellerEngine
from .evaluation import auc, load_epochs, split_by_trials
from .simulator.scores import ScoreSampler
from .spelling import levenshtein, text_chars_typed
from .stats import SpellingFigures, SpellingStats
from .train import decoder_params

__all__ = ["CopySpellResult", "simulate_copy_spelling", "wilson_interval"]


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval of a proportion (95 % for ``z = 1.96``); ``(None, None)``
    without any trial (undefined, as every figure of :mod:`~neurospell.session.stats`)."""
    if n <= 0:
        return None, None
    p = hits / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class CopySpellResult(SpellingFigures):
    """Figures of one condition (a recording or all pooled, with or without the LM).

    The figures come from :attr:`stats` (:class:`~neurospell.session.stats.SpellingStats`);
    an undefined one is ``None``.

    Attributes
    ----------
    recording : str
        File name, or ``"all"`` for the pooled row.
    lm : str
        Language-model name, ``"none"`` without.
    alpha : float
    correct, n_chars : int
        Selections equal to the intended symbol, and selections.
    flashes : int
    seconds : float
        Flashes x SOA + one inter-trial pause per selection.
    edits : int
        Edit distance of the typed texts to the phrases.
    n_symbols : int
    """

    recording: str
    lm: str
    alpha: float
    correct: int = 0
    n_chars: int = 0
    flashes: int = 0
    seconds: float = 0.0
    edits: int = 0
    n_symbols: int = 36
    texts: list = field(default_factory=list, repr=False)
    #: Flashes of each selection, in order (for intervals on the flashes per character).
    char_flashes: list = field(default_factory=list, repr=False)
    #: Characters of the phrases, and of the intended text typed (length minus edit distance).
    text_chars: int = 0
    typed_chars: int = 0
    #: Per phrase: (text_chars, typed_chars, flashes, seconds, selections), for intervals.
    phrases: list = field(default_factory=list, repr=False)

    @property
    def flashes_per_text_char(self) -> float | None:
        """Flashes per character of the intended text (a word cell's flashes count once)."""
        return self.flashes / self.text_chars if self.text_chars else None

    @property
    def effective_cpm(self) -> float | None:
        """Characters of the intended text typed per minute (a word cell counts its characters)."""
        return 60.0 * self.typed_chars / self.seconds if self.seconds else None

    @property
    def keystroke_savings(self) -> float | None:
        """``1 - selections / characters of the text`` (word cells save selections, errors cost)."""
        return 1.0 - self.n_chars / self.text_chars if self.text_chars else None

    def phrase_ci(self, figure: str, n_boot: int = 2000, seed: int = 0) -> tuple:
        """95 % bootstrap interval of ``figure`` (``"flashes_per_text_char"``, ``"effective_cpm"``,
        ``"keystroke_savings"``) resampling phrases (the independent units)."""
        if len(self.phrases) < 2:
            return None, None
        a = np.asarray(self.phrases, dtype=float)
        idx = np.random.default_rng(seed).integers(len(a), size=(n_boot, len(a)))
        s = a[idx].sum(axis=1)  # columns: text_chars, typed_chars, flashes, seconds, selections
        vals = {"flashes_per_text_char": s[:, 2] / s[:, 0], "effective_cpm": 60.0 * s[:, 1] / s[:, 3],
                "keystroke_savings": 1.0 - s[:, 4] / s[:, 0]}[figure]
        return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))

    @property
    def stats(self) -> SpellingStats:
        """The figures (:class:`~neurospell.session.stats.SpellingStats`; undefined: ``None``)."""
        return SpellingStats(self.n_chars, self.flashes, self.seconds, self.n_symbols, self.correct, self.n_chars)

    @property
    def n_selections(self) -> int:
        return self.n_chars


    @property
    def ci95(self) -> tuple[float, float]:
        """95 % Wilson interval of the accuracy over characters."""
        return wilson_interval(self.correct, self.n_chars)




    @property
    def cer(self) -> float | None:
        n = self.text_chars or self.n_chars
        return self.edits / n if n else None

    def add(self, other: CopySpellResult) -> None:
        for k in ("correct", "n_chars", "flashes", "seconds", "edits", "text_chars", "typed_chars"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.char_flashes.extend(other.char_flashes)
        self.phrases.extend(other.phrases)

    def summary(self) -> dict:
        lo, hi = self.ci95
        return {"recording": self.recording, "lm": self.lm, "alpha": self.alpha,
                "accuracy": self.accuracy, "ci95": [lo, hi], "n_chars": self.n_chars,
                "cer": self.cer, "flashes_per_char": self.flashes_per_char,
                "chars_per_min": self.chars_per_minute, "itr_bits_per_min": self.itr,
                "flashes_per_text_char": self.flashes_per_text_char, "effective_cpm": self.effective_cpm,
                "keystroke_savings": self.keystroke_savings,
                **{f"{k}_ci95": list(self.phrase_ci(k)) for k in
                   ("flashes_per_text_char", "effective_cpm", "keystroke_savings")}}


def simulate_copy_spelling(paths: Sequence, decoder: str, phrases: Sequence[str], config, *,
                           lm=None, lm_name: str | None = None, n_calibration: int = 3,
                           dynamic_stopping: bool = True, seed: int = 0,
                           on_step: Callable[[str], None] | None = None) -> list[CopySpellResult]:
    """Copy-spell ``phrases`` with real held-out epochs of each recording.

    Parameters
    ----------
    paths : sequence of path-like
        Labelled recordings (targets and characters), one simulated participant each.
    decoder : str
        Registry name; parameters from ``[decoder]``.
    phrases : sequence of str
        Text on the ``[speller]`` grid, one phrase per copy-spelling run.
    config : Config
    lm : LanguageModel | None
        With a model, every phrase is also spelled with it (the weight chosen on each
        recording's calibration characters unless ``[lm] alpha`` overrides it).
    lm_name : str | None
    n_calibration : int
        Characters of each recording the decoder is calibrated on; the others answer flashes.
    dynamic_stopping : bool
        ``False`` flashes ``[speller] max_repetitions`` repetitions for every character.
    seed : int
    on_step : callable ``(str) -> None`` | None
        Progress lines.

    Returns
    -------
    results : list of CopySpellResult
        Per recording and condition (no LM first), then the pooled ``"all"`` rows.
    """
    layout = config.speller.layout()
    # with [speller] word_cells set (simulate --word-cells): the person corrects with backspace
    # and selects a word cell when it offers the word (session/wordcells.py)
    correcting = config.speller.word_cells is not None
    for ph in phrases:
        bad = sorted(set(ph) - set(layout.symbols))
        if bad:
            raise NeurospellError(f"phrase {ph!r} has symbols {bad} that are not on the [speller] grid.")
    if not phrases:
        raise NeurospellError("simulate: no phrases to spell.")
    step = on_step or (lambda line: logger.info(line))
    lm_name = lm_name or (None if lm is None else getattr(lm, "name", "lm"))
    over = {} if dynamic_stopping else {"stop_threshold": 1.0}
    rows: list[CopySpellResult] = []
    pooled = {"none": CopySpellResult("all", "none", 0.0, n_symbols=len(layout.symbols))}
    if lm is not None:
        pooled[lm_name] = CopySpellResult("all", lm_name, float("nan"), n_symbols=len(layout.symbols))
    for r, path in enumerate(paths):
        t0 = time.perf_counter()
        batch = load_epochs(path, config.preprocessing)
        if batch.targets is None or batch.trials is None:
            raise NeurospellError(f"simulate: {path} has no target labels or characters (--data needs "
                                  "labelled calibration-style recordings).")
        trials = np.unique(batch.trials)
        if len(trials) <= int(n_calibration):
            raise NeurospellError(
                f"simulate: {path} has {len(trials)} characters; calibrating on {n_calibration} leaves "
                "none to answer flashes. Lower --n-calibration or use a longer recording.")
        train, test = split_by_trials(batch, trials[:int(n_calibration)])
        dec = make_decoder(decoder, **decoder_params(decoder, config.decoder)).fit(train, config.preprocessing)
        s_test = dec.decision_function(test)
        y = np.asarray(test.targets, bool)
        alpha = calibrate_model_alpha(dec, lm, config, lm_name=lm_name, seed=seed) if lm is not None else 0.0
        if config.lm.alpha is not None:
            alpha = config.lm.alpha
        name = getattr(path, "name", str(path).rsplit("/", 1)[-1])
        step(f"{name}: {decoder} calibrated on {n_calibration} characters; held-out AUC "
             f"{auc(y, s_test):.3f} on {len(np.unique(test.trials))} characters"
             + (f"; LM weight alpha {alpha:g}" if lm is not None else ""))
        conds = [("none", None)] + ([(lm_name, lm)] if lm is not None else [])
        for cname, model in conds:
            res = CopySpellResult(name, cname, alpha if model is not None else 0.0,
                                  n_symbols=len(layout.symbols))
            for k, ph in enumerate(phrases):
                rng_seed = [seed, r, k]
                who = ScoreSampler(s_test[y], s_test[~y], np.random.default_rng(rng_seed))
                engine = SpellerEngine.from_config(layout, dec.score_model_, model, config,
                                                   alpha=alpha if model is not None else 0.0,
                                                   seed=np.random.default_rng(rng_seed + [1]),
                                                   n_completions=0, **over)
                if correcting:  # word grid: what the person selects (a word cell, a letter, backspace)
                    pairs = copy_spell_words(engine, ph, who)
                    decs, wanted = [d for d, _ in pairs], [w for _, w in pairs]
                else:
                    decs, wanted = copy_spell(engine, ph, who), list(ph)
                res.correct += sum(d.decision.symbol == c for d, c in zip(decs, wanted, strict=True))
                res.n_chars += len(decs)
                fl = sum(d.n_flashes for d in decs)
                res.char_flashes.extend(int(d.n_flashes) for d in decs)
                res.flashes += fl
                res.seconds += fl * config.speller.soa + len(decs) * config.speller.inter_trial
                typed = ph if engine.text == ph + " " else engine.text  # (a word cell's final space)
                res.edits += levenshtein(typed, ph)
                res.texts.append(engine.text)
                res.text_chars += len(ph)
                res.typed_chars += text_chars_typed(engine.text, ph)
                res.phrases.append((len(ph), text_chars_typed(engine.text, ph), fl,
                                    fl * config.speller.soa + len(decs) * config.speller.inter_trial, len(decs)))
            rows.append(res)
            pooled[cname].add(res)
        step(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return rows + list(pooled.values())
