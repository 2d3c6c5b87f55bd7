"""The live session's training phase, in a training process.

:func:`train_decoder` does all of a training phase's work (fit, LM weight, model file, the
report a GUI plots); :func:`train_in_process` runs it in a :class:`TrainingPool` process so
that no thread of the session's process (a GUI's event loop, the acquisition thread) waits
for the GIL meanwhile.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout  # (not the builtin before 3.11)

import numpy as np

from neurospell.check import NeurospellError
from neurospell.config import config_from_dict
from neurospell.decoder import DECODERS, make_decoder
from neurospell.lifecycle import exit_with_parent
from neurospell.lm_fusion import available_models, make_model
from neurospell.types import EpochBatch

from ..calibration import calibrate_model_alpha
from ..repetitions import accuracy_vs_repetitions

__all__ = ["train_decoder", "train_in_process", "fit_in_process", "TrainingPool", "training_pool",
           "TRAINING_STAGES"]


def _fit_decoder(name: str, params: dict, batch: EpochBatch, preprocessing, n_threads: int | None):
    """Fit a decoder; run in the training process (see :func:`fit_in_process`)."""
    _lower_priority()
    if n_threads is not None:
        import torch  # optional heavy dependency: only when the parent had it loaded

        torch.set_num_threads(n_threads)
    return make_decoder(name, **params).fit(batch, preprocessing)


def fit_in_process(name: str, params: dict, batch: EpochBatch, preprocessing):
    """Fit a decoder in a fresh ('spawn') process and return the fitted decoder.

    Compiled code that holds the GIL for a long time (pyriemann, scikit-learn, torch fits)
    then delays no thread of this process (a GUI's event loop, the acquisition thread).
    The fit runs the same code on the same data with the same parameters (seed included)
    and torch's thread count, so the model is the one a fit here would give.
    """
    torch = sys.modules.get("torch")
    n_threads = torch.get_num_threads() if torch is not None else None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as pool:  # (it ends if this process is killed)
        return pool.submit(_fit_decoder, name, params, batch, preprocessing, n_threads).result()


def train_decoder(name: str, params: dict, batch: EpochBatch, config, layout, *, lm=None,
                  lm_name: str | None = None, seed: int = 0, provenance: dict | None = None,
                  model_path=None, progress: Callable[[float, str], None] | None = None) -> tuple:
    """All the work of a live session's training phase, in one call.

    Fits decoder ``name`` on the labelled calibration ``batch``, chooses the LM weight on
    its held-out scores (:func:`~neurospell.session.calibration.calibrate_model_alpha`,
    with ``lm``), adds ``provenance`` to the model's provenance (``"live_session"``), saves
    the model to ``model_path``, and computes the report a GUI plots: the target and
    non-target ERP averages and the held-out accuracy vs repetitions.
    :func:`train_in_process` runs it in a training process.

    Parameters
    ----------
    name : str
        Decoder registry name.
    params : dict
        Its constructor parameters.
    batch : EpochBatch
        Labelled calibration epochs (``targets`` and ``trials`` set).
    config : Config
        ``[preprocessing]`` (recorded with the model), ``[lm]`` and ``[speller]`` (the LM
        weight's simulation).
    layout : SpellerLayout
    lm : LanguageModel | None
        ``None``: no LM weight is chosen (``lm_alpha`` is ``None``).
    lm_name : str | None
    seed : int
        Seed of the LM-weight simulation.
    provenance : dict | None
        Stored as ``provenance_["live_session"]`` before the model is saved.
    model_path : path-like | None
        Where the model is saved (``None``: not saved).
    progress : callable | None
        Called as ``progress(fraction, stage)`` when each stage starts (fraction of the
        whole, 0 to 1; stage: what it does, e.g. ``"choosing the LM weight"``) and with
        ``(1.0, "done")`` at the end.

    Returns
    -------
    decoder : BaseDecoder
        Fitted.
    report : dict
        ``decoder``, ``heldout_auc``, ``n_epochs``, ``n_targets``, ``lm_alpha``,
        ``erp_target`` / ``erp_nontarget`` (array, shape (n_channels, n_times), volts),
        ``times`` (seconds), ``ch_names``, ``model_path``, ``accuracy_vs_repetitions``.
    """
    step = progress if progress is not None else (lambda fraction, stage: None)
    step(TRAINING_STAGES["fit"], f"fitting {name} on {len(batch)} epochs")
    dec = make_decoder(name, **params).fit(batch, config.preprocessing)
    alpha = None
    if lm is not None:
        step(TRAINING_STAGES["lm_weight"], "choosing the LM weight")
        alpha = calibrate_model_alpha(dec, lm, config, lm_name=lm_name, seed=seed)
    if provenance is not None:
        dec.provenance_["live_session"] = dict(provenance)
    if model_path is not None:
        step(TRAINING_STAGES["save"], "saving the model")
        dec.save(model_path)
    step(TRAINING_STAGES["report"], "ERP averages and accuracy by repetitions")
    y = batch.targets
    x = batch.data
    report = {
        "decoder": name, "heldout_auc": float(dec.heldout_auc_), "n_epochs": int(len(batch)),
        "n_targets": int(y.sum()), "lm_alpha": alpha,
        "erp_target": x[y].mean(axis=0), "erp_nontarget": x[~y].mean(axis=0),
        "times": batch.times, "ch_names": batch.ch_names,
        "model_path": None if model_path is None else str(model_path),
        "accuracy_vs_repetitions": accuracy_vs_repetitions(batch, getattr(dec, "heldout_scores_", ()), layout,
                                                           dec.score_model_),
    }
    step(1.0, "done")
    return dec, report


#: Contexts whose next-symbol log-probabilities tell whether two LMs are the same model.
_LM_PROBE_CONTEXTS = ("", "THE ", "HELLO WOR", "I WOULD LIKE SOME W", "CAN YOU CALL MY ")


def _lm_fingerprint(lm) -> dict:
    """The class of ``lm`` and its next-symbol log-probabilities after a few contexts."""
    return {"type": f"{type(lm).__module__}.{type(lm).__qualname__}",
            "logp": [np.asarray(lm.next_logp(c), dtype=np.float64) for c in _LM_PROBE_CONTEXTS]}


def _same_lm(a: dict, b: dict) -> bool:
    return a["type"] == b["type"] and all(x.shape == y.shape and np.array_equal(x, y)
                                          for x, y in zip(a["logp"], b["logp"], strict=True))


def _lm_recipe(lm, lm_name: str | None, lm_config):
    """How the training process gets the LM: ``("build", name, lm_config, fingerprint)`` -- it
    builds it with :func:`~neurospell.lm_fusion.make_model`, as every entry point builds its
    LM, and checks that it is the same model --, else ``("object", lm)`` (pickled: a large
    model then costs this process the time to pickle it)."""
    if lm is None:
        return None
    names = (lm_name or "").split("+")
    if lm_name and all(n.strip() in available_models() for n in names):
        return ("build", lm_name, lm_config, _lm_fingerprint(lm))
    return ("object", lm)


#: Niceness added to the training process: on a busy CPU the session's process (a GUI's event
#: loop, the acquisition thread) and the participant's get the cores first; the fit only waits.
TRAINING_NICE = 10
#: Where the training phase's progress stands when each stage starts (0 to 1): the fit takes
#: most of the time (all of it for a network), then the LM-weight simulation.
TRAINING_STAGES = {"lm": 0.0, "fit": 0.02, "lm_weight": 0.6, "save": 0.9, "report": 0.95}
_progress_queue: list = []  # (in a training process: the queue its jobs report progress on)


def _init_training_process(queue, parent_pid: int | None = None) -> None:
    _progress_queue[:] = [queue]
    if parent_pid is not None:  # the training process ends with the session's, even after a SIGKILL
        exit_with_parent(parent_pid)
    _lower_priority()


class TrainingPool(ProcessPoolExecutor):
    """A training process: a one-worker 'spawn' pool at a lower priority
    (:data:`TRAINING_NICE`) whose jobs report their progress on :attr:`progress_queue`
    (``(fraction, stage)`` tuples; :func:`train_in_process` reads them)."""

    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        self.progress_queue = ctx.Queue()
        super().__init__(max_workers=1, mp_context=ctx, initializer=_init_training_process,
                         initargs=(self.progress_queue, os.getpid()))

    def drain(self, progress: Callable[[float, str], None] | None = None, *, wait: float = 0.0) -> bool:
        """Hand the progress reports queued so far to ``progress`` (``None``: drop them).

        ``wait``: seconds to wait for a first one. Returns whether a job's last report
        (``"done"``) was among them.
        """
        done = False
        while True:
            try:
                item = self.progress_queue.get(timeout=wait) if wait > 0 else self.progress_queue.get_nowait()
            except (queue.Empty, OSError, ValueError):  # (ValueError, OSError: the queue is closed)
                return done
            wait = 0.0
            if progress is not None:
                progress(*item)
            done = done or item[1] == "done"

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            self.progress_queue.close()


def _report_progress(fraction: float, stage: str) -> None:
    if _progress_queue:
        _progress_queue[0].put((float(fraction), str(stage)))


_lowered: list = []  # (in a training process: its priority was lowered)


def _lower_priority() -> None:
    nice = getattr(os, "nice", None)  # (POSIX)
    if nice is not None and not _lowered:
        _lowered.append(True)
        try:
            nice(TRAINING_NICE)
        except OSError:  # pragma: no cover - not allowed here: train at the normal priority
            pass


def _train_job(job: dict) -> tuple:
    """The training process's work (:func:`train_in_process`)."""
    _lower_priority()
    if job["n_threads"] is not None:
        import torch  # optional heavy dependency: only when the parent had it loaded

        torch.set_num_threads(job["n_threads"])
    recipe, lm, lm_ok = job["lm"], None, True
    if recipe is not None and recipe[0] == "build":
        _report_progress(TRAINING_STAGES["lm"], f"loading the language model {recipe[1]}")
        _, lm_name, lm_config, fingerprint = recipe
        lm = make_model(lm_name, lm_config)
        # the session's LM must be the one built here; otherwise the session chooses the weight
        # itself with its own LM
        lm_ok = _same_lm(_lm_fingerprint(lm), fingerprint)
    elif recipe is not None:
        lm = recipe[1]
    config = config_from_dict(job["config"])  # (a Config does not pickle)
    dec, report = train_decoder(job["name"], job["params"], job["batch"], config, config.speller.layout(),
                                lm=lm if lm_ok else None, lm_name=job["lm_name"], seed=job["seed"],
                                provenance=job["provenance"],
                                model_path=job["model_path"] if lm_ok else None, progress=_report_progress)
    return dec, report, lm_ok


def train_in_process(name: str, params: dict, batch: EpochBatch, config, layout, *, lm=None,
                     lm_name: str | None = None, seed: int = 0,
                     provenance: dict | None = None, model_path=None, pool=None,
                     progress: Callable[[float, str], None] | None = None,
                     while_waiting: Callable[[], None] | None = None) -> tuple:
    """:func:`train_decoder` in a fresh ('spawn') training process.

    Everything the training phase computes -- the fit, the LM-weight simulation, the model
    file, the ERP averages, the accuracy curve -- runs there, so no thread of this process
    (a GUI's event loop, the acquisition thread) waits for the GIL meanwhile; the results
    come back ready. Same code, data, parameters (seeds included) and torch thread count:
    the same model, LM weight and report as :func:`train_decoder` here, bit for bit. The
    process runs at a lower priority (:data:`TRAINING_NICE`), so that on a busy CPU this
    process's threads get the cores first.

    The LM is rebuilt there by name (``make_model(lm_name, config.lm)``) when ``lm_name``
    names registered models, and used when it is the same model as ``lm`` (same class, same
    next-symbol log-probabilities after a few contexts); any other LM object is pickled to
    the training process.

    ``pool``: a training process started ahead of time (:func:`training_pool`), else one is
    started here and ended after. ``progress``: called here (in the calling thread) as
    ``progress(fraction, stage)`` as the training process reports its stages (see
    :func:`train_decoder`). ``while_waiting``: called over and over in the calling thread
    until the training process is done (a live session reads its stream there); each call
    should block briefly (tens of milliseconds). ``None``: the thread just waits.

    Returns
    -------
    decoder, report
        As :func:`train_decoder`.
    lm_done : bool
        ``False`` when the LM rebuilt there was not ``lm``: the LM weight was not chosen
        and the model not saved (the caller does both with its own LM).
    """
    torch = sys.modules.get("torch")
    if layout != config.speller.layout():
        raise NeurospellError("train_in_process: layout must be config.speller.layout() (the training process "
                              "builds it from the config).")
    job = {"name": name, "params": params, "batch": batch, "config": config.to_dict(),
           "lm": _lm_recipe(lm, lm_name, config.lm), "lm_name": lm_name, "seed": seed,
           "provenance": provenance, "model_path": None if model_path is None else str(model_path),
           "n_threads": torch.get_num_threads() if torch is not None else None}
    if pool is not None:
        return _run_reporting(pool, job, progress, while_waiting)
    with training_pool() as pool:
        return _run_reporting(pool, job, progress, while_waiting)


def _run_reporting(pool, job: dict, progress, while_waiting=None) -> tuple:
    drain = getattr(pool, "drain", lambda progress=None, **_: True)  # (another executor: no reports)
    drain()  # (reports left by an earlier job)
    future = pool.submit(_train_job, job)
    done = False
    while True:
        try:
            result = future.result(timeout=0.1 if while_waiting is None else 0.0)
        except FutureTimeout:
            if while_waiting is not None:
                while_waiting()
            done = drain(progress) or done
            continue
        # the reports travel on their own pipe: the last one ("done") may come after the result
        deadline = time.monotonic() + 2.0
        while not done and time.monotonic() < deadline:
            if while_waiting is not None:
                while_waiting()
            done = drain(progress, wait=0.0 if while_waiting is not None else 0.05)
        return result


def _warm_up() -> int:
    """Run once in a training process started ahead of time: the imports the training needs."""
    _lower_priority()
    return len(available_models()) + len(DECODERS)


def training_pool(*, warm: bool = False) -> TrainingPool:
    """A training process (a one-worker 'spawn' pool) for :func:`train_in_process`.

    Starting a process from a large one (Qt, torch loaded) holds the GIL while the process
    is forked; ``warm=True`` starts it now and has it import the training code, so that a
    session can do this before it flashes, not when it trains.
    """
    pool = TrainingPool()
    if warm:
        pool.submit(_warm_up)
    return pool


