"""Online adaptation of a live session: self-labelled selections, refits in the training
process, models swapped in between two selections.

**Self-labelling.** A selection is *kept* when the next one (a flashed decision or a
symbol chosen directly) is not a backspace ``"<"``; its flashes are then labelled: the
flashes whose group contains the kept symbol are targets, the others non-targets. An
undone selection (the next one is ``"<"``) labels nothing, nor does the last selection of
a run (nothing confirmed it). The labels come from what the user keeps, never from a copy
phrase.

**The refit rule.** Once ``[speller] adapt_min_selections`` selections are kept, and then
each time ``adapt_every`` more are, while no refit is running, the decoder is refitted on
every labelled epoch so far: its own ``fit`` (same class and parameters as the session's
starting model, so its score model is refitted on its held-out scores too), in the
session's training process (never in this process's threads: flashing goes on with the old
model meanwhile). A decoder that aligns its feature space on the data it is given (per
recording re-centering) does so in that ``fit``: that is its business (hook:
:func:`refit_decoder`).

**The swap.** A finished refit is looked at right after a decision, between two
selections. It is *applied* when its cross-validated AUC on the labelled epochs is at least
the AUC of the scores those same epochs got live (the models that were in force then, none
of which had seen them): a refit that does not beat what the session already does is
logged, not used. An applied model scores from the next flash on
(:class:`~neurospell.session.modelswitch.SwitchingDecoder`); the engine's LM weight stays
the starting model's.

**The log.** Each finished refit is a ``refit`` record in the decision log: ``k``, the
selections it used (run, trial, symbol, epochs), ``n_epochs``, ``n_targets``, the model file
(``derivatives/neurospell/models/refit-<k>.pkl``) and its SHA-256, both AUCs, ``applied``,
and, when applied, ``after_flash`` (the run's flash index from which it scores) and
``from_selection`` (the 0-based index in the run of the first decision it makes). A replay
(:mod:`~neurospell.session.sessionreplay`) switches models at the same flashes.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from neurospell.decoder.validation import roc_auc
from neurospell.fileio import file_sha256
from neurospell.logs import logger
from neurospell.lsl import local_clock
from neurospell.markers import BACKSPACE
from neurospell.types import EpochBatch

from ..modelswitch import REFIT_RECORD, SwitchingDecoder
from ..sessionformat import SPELLING
from .training import _fit_decoder, training_pool

__all__ = ["Adaptation", "prepare_adaptation", "refit_decoder", "refit_applies", "label_selection", "MODELS_DIR"]

#: Where the refitted models go, inside ``derivatives/neurospell/``.
MODELS_DIR = "models"


def label_selection(batch: EpochBatch, layout, symbol: str) -> EpochBatch:
    """``batch`` (the epochs of one selection) labelled for ``symbol``: a flash whose group
    contains it is a target; flashes of unknown group (code < 1) are left out."""
    codes = np.asarray(batch.codes)
    keep = np.flatnonzero(codes >= 1)
    member = layout.membership()[:, layout.symbols.index(symbol)]
    b = batch.subset(list(keep))
    return EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, b.ch_names,
                      targets=member[np.asarray(b.codes) - 1], trials=b.trials)


def refit_decoder(name: str, params: dict, batch: EpochBatch, preprocessing, n_threads):
    """The refit itself: a fresh ``name`` decoder's own ``fit`` on the labelled epochs.

    The hook for decoders that align on the session's data: their ``fit`` sees every epoch
    it is given."""
    return _fit_decoder(name, params, batch, preprocessing, n_threads)


def refit_applies(targets, live_scores, cv_auc: float, *, require_better: bool) -> tuple[bool, float]:
    """The rule that swaps a refit in (``[speller] adapt_require_better``): ``(apply, live AUC)``.

    The live AUC is that of the scores the epochs got live (``live_scores``; non-finite ones
    left out) against their self-labels; a refit applies when the rule is off, when that AUC
    is undefined (one class), or when the refit's cross-validated AUC ``cv_auc`` is at least it.
    """
    y, s = np.asarray(targets, bool), np.asarray(live_scores, float)
    ok = np.isfinite(s)
    live_auc = roc_auc(y[ok], s[ok]) if ok.sum() >= 2 else float("nan")
    return bool(not require_better or not np.isfinite(live_auc) or cv_auc >= live_auc), float(live_auc)


def _refit_job(job: dict):
    """In the training process: fit, keep the session's LM weight, save."""
    dec = refit_decoder(job["name"], job["params"], job["batch"], job["preprocessing"], job["n_threads"])
    if job["lm_alpha"] is not None:
        dec.provenance_["lm_alpha"] = job["lm_alpha"]
    dec.provenance_["live_session"] = job["provenance"]
    if job["path"] is not None:
        Path(job["path"]).parent.mkdir(parents=True, exist_ok=True)
        dec.save(job["path"], overwrite=True)
    return dec


def prepare_adaptation(session) -> None:
    """Before a spelling run is built: with ``[speller] adapt``, the session's decoder becomes
    a :class:`SwitchingDecoder` (once; again after a new calibration trained a new one)."""
    s = session
    if not s.config.speller.adapt or s.decoder is None:
        return
    if s._adapt is None:
        s._adapt = Adaptation(s)
    elif not isinstance(s.decoder, SwitchingDecoder):  # a calibration trained a new model meanwhile
        s._adapt.wrapper = s.decoder = SwitchingDecoder(s.decoder)


class Adaptation:
    """The online adaptation of a :class:`~neurospell.session.live.LiveSession` (see the module
    docstring). Its worker thread calls :meth:`attach` when a spelling run starts,
    :meth:`after_decision` after each decision and :meth:`after_direct` after a symbol
    chosen directly."""

    def __init__(self, session):
        s = self.session = session
        sp = s.config.speller
        self.min_selections = int(sp.adapt_min_selections)
        self.every = int(sp.adapt_every)
        self.require_better = bool(sp.adapt_require_better)
        self.wrapper = s.decoder = SwitchingDecoder(s.decoder)
        self.labelled: list[EpochBatch] = []  # one batch per kept selection
        self.live_scores: list = []  # the scores its epochs got live, per kept selection
        self.selections: list[dict] = []  # what each of them is (run, trial, symbol, n_epochs)
        self.refits: list[dict] = []  # the refit records logged
        self._n_at_submit = 0
        self._future: Future | None = None
        self._job_selections = 0
        self._run = None
        self._n_runs = 0
        self._epochs: dict = {}  # trial -> list of EpochBatch (this run)
        self._scores: dict = {}  # onset -> live score (this run)
        self._pending = None  # (trial, symbol): the last decision, not confirmed yet
        self._n_decisions = 0  # decisions of this run

    @property
    def n_labelled_epochs(self) -> int:
        return int(sum(len(b) for b in self.labelled))

    # -- the run ---------------------------------------------------------------------------------
    def attach(self, run) -> None:
        """A spelling run starts: bind the decoder to its driver, read its epochs and scores."""
        s = self.session
        self._n_runs += 1
        number = s.folder.current_run(SPELLING) if s.folder is not None else None
        self._run = run
        self._run_number = int(number) if number is not None else self._n_runs
        self.wrapper.bind(run.driver, self._run_number)
        self._epochs, self._scores, self._pending, self._n_decisions = {}, {}, None, 0
        driver = run.driver
        on_score = driver.on_score

        def score(onset, group, value, trial):
            self._scores[onset] = value
            if on_score is not None:
                on_score(onset, group, value, trial)

        driver.on_score = score

        def push(chunk, markers=()):
            batch = driver.push(chunk, markers)
            if len(batch) and batch.trials is not None:
                for t in np.unique(batch.trials):
                    if t >= 0:
                        self._epochs.setdefault(int(t), []).append(batch.subset(list(np.flatnonzero(batch.trials == t))))
            return batch

        s._stream.consumer = push
        if s._train_pool is None:  # (no folder, no calibration: the session did not start one)
            s._train_pool = training_pool(warm=True)

    def after_decision(self, rec) -> None:
        """A flashed decision (``rec``: its :class:`DecisionRecord`) of the open trial."""
        self._next_selection(rec.symbol)
        self._pending = (self.session._trial, rec.symbol)
        self._n_decisions += 1
        self._poll()
        self._maybe_submit()

    def after_direct(self, symbol) -> None:
        """A symbol chosen directly (a backspace key, a clicked symbol or completion)."""
        self._next_selection(symbol if isinstance(symbol, str) else "")
        self._pending = None

    def _next_selection(self, symbol: str) -> None:
        if self._pending is None:
            return
        trial, kept = self._pending
        self._pending = None
        if symbol == BACKSPACE:
            logger.info("LiveSession: selection %r (trial %d) undone: not used for adaptation", kept, trial)
            return
        parts = self._epochs.pop(trial, [])
        if not parts:
            return
        batch = EpochBatch.concatenate(parts)
        scored = [i for i, o in enumerate(batch.onsets) if float(o) in self._scores]
        if not scored:
            return
        if len(scored) < len(batch):  # (artifact epochs, skipped unscored: not trained on)
            batch = batch.subset(scored)
        batch = label_selection(batch, self.session.layout, kept)
        if not len(batch):
            return
        self.labelled.append(batch)
        self.live_scores.append(np.array([self._scores.get(float(o), np.nan) for o in batch.onsets]))
        self.selections.append({"run": self._run_number, "trial": int(trial), "symbol": kept,
                                "n_epochs": int(len(batch))})

    # -- refits ------------------------------------------------------------------------------------
    def _maybe_submit(self) -> None:
        n = len(self.labelled)
        if self._future is not None or n < self.min_selections:
            return
        if self._n_at_submit and n - self._n_at_submit < self.every:
            return
        s = self.session
        base = self.wrapper.base
        params = dict(base.get_params())
        if "progress" in params:
            params["progress"] = False
        batch = EpochBatch.concatenate(self.labelled)
        k = len(self.refits) + 1
        path = None if s.folder is None else s.folder.deriv / MODELS_DIR / f"refit-{k}.pkl"
        torch = sys.modules.get("torch")
        job = {"name": base.name, "params": params, "batch": batch, "preprocessing": s.config.preprocessing,
               "n_threads": torch.get_num_threads() if torch is not None else None,
               "lm_alpha": base.provenance_.get("lm_alpha"), "path": None if path is None else str(path),
               "provenance": {"refit": k, "n_selections": n, "n_epochs": int(len(batch)),
                              "session": None if s.folder is None else str(s.folder.root)}}
        self._n_at_submit = n
        self._job = (k, path, batch, list(self.selections), np.concatenate(self.live_scores))
        logger.info("LiveSession: refit %d on %d kept selections (%d epochs) started", k, n, len(batch))
        self._future = s._train_pool.submit(_refit_job, job)

    def _poll(self) -> None:
        """Right after a decision: a finished refit is logged, and applied when it is better."""
        fut = self._future
        if fut is None or not fut.done():
            return
        self._future = None
        k, path, batch, selections, live = self._job
        s = self.session
        rec = {"type": REFIT_RECORD, "t": local_clock(), "k": k, "decoder": self.wrapper.base.name,
               "n_epochs": int(len(batch)), "n_targets": int(np.sum(batch.targets)),
               "selections": selections, "applied": False}
        try:
            dec = fut.result()
        except Exception as err:  # noqa: BLE001 - a failed refit: spelling goes on with the model it has
            logger.warning("LiveSession: refit %d failed: %s; spelling goes on with the current model.", k, err)
            self.refits.append({**rec, "error": str(err)})
            s._log(self.refits[-1])
            return
        applies, live_auc = refit_applies(batch.targets, live, dec.heldout_auc_, require_better=self.require_better)
        rec.update(cv_auc=float(dec.heldout_auc_), live_auc=live_auc)
        if path is not None:
            rec.update(model=s.folder.relative(path), sha256=file_sha256(path))
        if applies:
            after = int(self._run.driver.n_flashes)
            self.wrapper.switch(dec, after)
            rec.update(applied=True, run=self._run_number, after_flash=after, from_selection=self._n_decisions)
        logger.info("LiveSession: refit %d: cross-validated AUC %.3f vs %.3f live on the same epochs: %s", k,
                    dec.heldout_auc_, live_auc, "applied" if rec["applied"] else "not used")
        self.refits.append(rec)
        s._log(rec)
