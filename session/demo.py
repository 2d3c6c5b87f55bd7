"""The main job on the embedded default: calibrate on the sample session, spell the rest.

:func:`run_demo` loads neurospell's own synthetic speller session (``sample_data/``),
splits it by its ``phrase/calibration|test/<text>`` annotations, trains a decoder on the
calibration phrase (and chooses the LM weight on its held-out calibration scores), then
decodes every test phrase into text flash by flash through the speller engine, with and
without the language model, and returns the report. No hardware, nothing downloaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.config import Config
from neurospell.decoder import make_decoder, roc_auc
from neurospell.lm_fusion import make_model
from neurospell.logs import logger
from neurospell.markers import parse_phrase
from neurospell.preprocessing import epochs_from_raw, load_recording

from .calibration import calibrate_model_alpha
from .spelling import decode_recording, intended_text_from_raw

SAMPLE_RECORDING = Path(__file__).resolve().parent.parent / "sample_data" / "neurospell_sample_raw.fif"


@dataclass(frozen=True)
class Phrase:
    """One phrase of a speller session: its kind, its text and the trials that spell it."""

    kind: str  # "calibration" or "test"
    text: str
    trials: np.ndarray


def split_phrases(raw, batch) -> list[Phrase]:
    """Assign each trial of ``batch`` to the ``phrase/<calibration|test>/<text>`` it follows.

    Parameters
    ----------
    raw : mne.io.Raw
        The recording (its annotations carry the phrase markers).
    batch : EpochBatch
        Its epochs, with ``trials`` and ``onsets`` in the recording's time (seconds).

    Returns
    -------
    phrases : list of Phrase
        In recording order; trials before the first phrase marker count as calibration.
    """
    marks = []
    for onset, desc in zip(raw.annotations.onset, raw.annotations.description, strict=True):
        ph = parse_phrase(desc)
        if ph is not None:
            marks.append((float(onset) - raw.first_time, ph.kind, ph.text))
    if not marks:
        raise NeurospellError(
            "The recording has no phrase/calibration/<text> or phrase/test/<text> annotations, "
            "so it cannot be split into calibration and test parts. Pass a neurospell speller "
            "session (e.g. sample_data/neurospell_sample_raw.fif)."
        )
    marks.sort()
    starts = np.array([m[0] for m in marks])
    members: list[list[int]] = [[] for _ in marks]
    for t in np.unique(batch.trials):
        i = int(np.searchsorted(starts, batch.onsets[batch.trials == t].min(), side="right")) - 1
        members[max(i, 0)].append(int(t))
    phrases = [Phrase(kind, text, np.array(m, dtype=int)) for (_, kind, text), m in zip(marks, members, strict=True) if m]
    kinds = {p.kind for p in phrases}
    if kinds != {"calibration", "test"}:
        raise NeurospellError(
            f"The recording needs both calibration and test phrases with flashes; found {sorted(kinds)}."
        )
    return phrases


def run_demo(recording=None, *, decoder: str | None = None, lm: str | None = None, config=None,
             on_decision=None, on_step=None):
    """Calibrate on the session's calibration phrase and decode its test phrases.

    Parameters
    ----------
    recording : path-like | None
        A neurospell speller session; default: the shipped sample session.
    decoder : str | None
        Registry name of the decoder to calibrate; default ``config.decoder.name``.
    lm : str | None
        Registry name of the language model; default ``config.lm.name``.
    config : Config | None
    on_decision : callable ``(SelectionDecided) -> None`` | None
        Called after each decision of the with-LM pass.
    on_step : callable ``(str) -> None`` | None
        Called with a line describing each step (the command line prints it).

    Returns
    -------
    reports : list of SpellingReport
        One per test phrase (each decoded from an empty text).
    info : dict
        Timings, the test AUC and the phrases.
    """
    config = Config() if config is None else config
    decoder = config.decoder.name if decoder is None else decoder
    step = on_step or (lambda line: logger.info(line))
    path = check_fname(SAMPLE_RECORDING if recording is None else recording, "recording")
    t0 = time.perf_counter()
    raw = load_recording(path)
    _, batch = epochs_from_raw(raw, config.preprocessing)
    phrases = split_phrases(raw, batch)
    cal_trials = np.concatenate([p.trials for p in phrases if p.kind == "calibration"])
    cal = batch.subset(np.isin(batch.trials, cal_trials))
    tests = [p for p in phrases if p.kind == "test"]
    step(
        f"recording: {path.name}: {len(raw.ch_names)} channels at {raw.info['sfreq']:g} Hz, "
        f"{raw.times[-1]:.0f} s, {len(batch)} flashes"
    )
    step(f"calibration: {len(cal_trials)} characters "
         f"({' / '.join(p.text for p in phrases if p.kind == 'calibration')!r}), {len(cal)} flashes; "
         f"test: {len(tests)} phrases")
    t1 = time.perf_counter()
    dec = make_decoder(decoder).fit(cal, config.preprocessing)
    t_fit = time.perf_counter() - t1
    test_all = batch.subset(~np.isin(batch.trials, cal_trials))
    test_auc = roc_auc(test_all.targets, dec.decision_function(test_all))
    step(f"decoder: {decoder} calibrated in {t_fit:.1f} s; single-flash AUC on the test phrases {test_auc:.3f}")
    lm_name = config.lm.name if lm is None else lm
    t2 = time.perf_counter()
    model = make_model(lm_name, config.lm)
    alpha = calibrate_model_alpha(dec, model, config, lm_name=lm_name)
    step(f"language model: {lm_name} loaded in {time.perf_counter() - t2:.1f} s; weight alpha "
         + (f"{config.lm.alpha:g} ([lm] alpha)" if config.lm.alpha is not None else
            f"{alpha:g} (chosen on the calibration phrase)"))
    intended = intended_text_from_raw(raw)
    reports = []
    for phrase in tests:
        step(f"spelling test phrase {phrase.text!r}")
        sub = batch.subset(np.isin(batch.trials, phrase.trials))
        reports.append(decode_recording(
            sub, dec, config.speller.layout(), model, config,
            intended={int(t): intended.get(int(t), "?") for t in phrase.trials},
            on_decision=on_decision,
        ))
    info = {"decoder": decoder, "lm": lm_name, "fit_seconds": t_fit, "test_auc": test_auc,
            "total_seconds": time.perf_counter() - t0, "phrases": phrases}
    return reports, info
