"""The training phase of a live session: fit the decoder on the calibration's epochs, choose
the LM weight, save the model -- in the training process (:mod:`.training`), the stream read
meanwhile."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neurospell.check import NeurospellError
from neurospell.decoder import make_decoder
from neurospell.logs import logger
from neurospell.lsl import local_clock

from ..calibration import calibrate_model_alpha
from ..quality import calibration_warning
from ..train import decoder_params
from ..waiting import wait_reading
from .training import train_in_process

__all__ = ["run_training"]


def run_training(session, batch) -> None:
    """Train ``session``'s decoder on the calibration ``batch``; it becomes ``session.decoder``.

    Parameters
    ----------
    session : LiveSession
        Its worker runs the phase; ``_training_report`` and the decision log get the report.
    batch : EpochBatch | None
        The labelled epochs of the calibration.

    Raises
    ------
    NeurospellError
        When the calibration gave no labelled epochs.
    """
    s = session
    if batch is None or len(batch) == 0 or batch.targets is None or not batch.targets.any():
        raise NeurospellError(
            "training: calibration gave no labelled epochs (was the stream flowing and the marker stream "
            "read by the source?). Run the calibration again.")

    def progress(fraction: float, stage: str) -> None:
        if stage != "done":
            s._progress = min(max(float(fraction), 0.0), 1.0)
            s._publish(f"training {s.decoder_name}: {stage}")

    s._progress = 0.0
    s._publish(f"training {s.decoder_name} on {len(batch)} epochs")
    t0 = time.perf_counter()
    params = decoder_params(s.decoder_name, s.config.decoder)
    if "progress" in type(make_decoder(s.decoder_name))._param_names():
        params["progress"] = False
    provenance = {
        "calibration_text": s.calibration_text, "n_epochs": int(len(batch)),
        "n_characters": int(np.unique(batch.trials).size) if batch.trials is not None else None,
        "source": str(s.source),
    }
    model_path = s.folder.model_path if s.folder is not None else s.model_path
    # everything in a training process (fit, LM weight, model file, ERP averages): this
    # process's threads (a GUI's event loop, the acquisition thread) keep the GIL
    dec, report, lm_done = train_in_process(
        s.decoder_name, params, batch, s.config, s.layout, lm=s.lm, lm_name=s.lm_name,
        seed=s.seed, provenance=provenance, model_path=model_path, pool=s._train_pool,
        progress=progress, while_waiting=s._wait_step)
    if s.folder is None:  # else it converts the spelling runs to BIDS (_end_phase)
        s._end_train_pool()
    if not lm_done:  # the LM rebuilt there was not this one: the weight is chosen here
        logger.info("LiveSession: the training process could not rebuild the LM %r; choosing its weight here.",
                    s.lm_name)
        with ThreadPoolExecutor(1, thread_name_prefix="neurospell-lm-weight") as ex:
            report["lm_alpha"] = wait_reading(
                ex.submit(calibrate_model_alpha, dec, s.lm, s.config, lm_name=s.lm_name,
                          seed=s.seed), s._wait_step)
        if model_path is not None:
            dec.save(model_path)
            report["model_path"] = str(model_path)
    alpha = report["lm_alpha"]
    path = None
    if s.folder is not None:
        path = s.folder.save_model(dec, source="live calibration", written=True)
    elif s.model_path is not None:
        path = s.model_path
    report["train_seconds"] = time.perf_counter() - t0
    y = np.asarray(batch.targets, bool)
    report["auc_warning"] = calibration_warning(float(dec.heldout_auc_), int(y.sum()), int((~y).sum()))
    if report["auc_warning"]:
        logger.warning("LiveSession: %s", report["auc_warning"])
    s._training_report = report
    s._log({"type": "training", "t": local_clock(), "decoder": s.decoder_name,
            "heldout_auc": float(dec.heldout_auc_), "lm_alpha": alpha, "n_epochs": int(len(batch)),
            "model_path": None if path is None else s._recorder.stored_path(path)})
    s.decoder = dec
    s._progress = 1.0
    s._publish(f"trained {s.decoder_name}: held-out AUC {dec.heldout_auc_:.3f}"
               + (" -- near chance, see the warning" if report["auc_warning"] else ""))
