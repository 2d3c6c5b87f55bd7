"""Fine-tuning a pretrained neural decoder on a new participant's few labelled epochs.

A network pretrained across participants (a :class:`~.neural.NeuralDecoder` fitted on pooled,
aligned recordings) starts from its learned weights and trains briefly on the new
participant's labelled epochs (a few characters): a fixed, small number of passes at a low
learning rate, optionally with the early (temporal and spatial) layers frozen. No early
stopping: a few characters leave none to spare for it, and the settings are chosen on
validation data (``benchmarks/bench_neural_transfer.py``), never on the characters scored.

- **Alignment.** A pretrained model that aligns (Euclidean alignment, :mod:`.alignment`)
  expects each recording re-centred on its own epochs: the new participant's epochs are
  aligned on their own unlabelled epochs (``unlabelled``, default the labelled batch itself;
  no label is read) before fine-tuning, and the fine-tuned model keeps that alignment (it
  scores the participant's recording as it is; :meth:`~.alignment.AlignmentMixin.align_to`
  re-aligns it on another).
- **Input scale.** The pretrained per-channel scaling is kept: the network's first layers
  were learnt on it.
- **Ensemble.** Every network of the pretrained ensemble is fine-tuned; logits are averaged.
- **Calibration.** As the classical pipelines (:meth:`~.base.BaseDecoder._crossval_scores`):
  networks fine-tuned on the other characters (``calibration_folds`` folds; blocks of epochs
  when there is one character) score each character; those held-out scores fit
  ``score_model_`` and give ``heldout_auc_``; the deployed networks are fine-tuned on all.
- **Provenance.** ``provenance_["fine_tuning"]`` names the pretrained model (its file's
  SHA-256 when it came from a file, and the SHA-256 of its network weights always), the
  settings and the labelled data; it is saved with the model.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from pathlib import Path

import numpy as np

import neurospell.decoder as _package  # load_decoder (the package imports this module)
from neurospell.check import NeurospellError, ProvenanceError, check_option, validate_type
from neurospell.fileio import file_sha256
from neurospell.logs import logger, use_log_level
from neurospell.types import EpochBatch

from .alignment import alignment_matrix, apply_alignment
from .likelihood import ScoreModel
from .neural import NeuralDecoder
from .provenance import amplitude_stats, source_entry
from .validation import _ids, _trials_or_blocks, group_folds, roc_auc

__all__ = ["fine_tune", "FREEZE_PREFIXES", "weights_sha256"]

#: architecture -> parameter-name prefixes of its early (temporal and spatial) layers,
#: frozen by ``freeze="early"``
FREEZE_PREFIXES = {"eegnet": ("block1.",), "eeginception": ("branches1.",),
                   "xdawntsnet": ("conv.block1.",)}


def weights_sha256(decoder) -> str:
    """SHA-256 of a neural decoder's network weights (every state tensor, in order) and input
    scaling: names the exact networks a model started from, file or not."""
    h = hashlib.sha256()
    for state in decoder.states_:
        for k, v in state.items():
            h.update(k.encode())
            h.update(np.ascontiguousarray(np.asarray(v.cpu().numpy() if hasattr(v, "cpu") else v)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(decoder.scale_, np.float32)).tobytes())
    return h.hexdigest()


def _resolve(init_from):
    """The pretrained neural decoder and a description of where it came from."""
    source = {}
    if isinstance(init_from, (str, Path)):
        path = Path(init_from).expanduser()
        if not path.is_file():
            raise NeurospellError(
                f"init_from: the pretrained model file {str(path)!r} does not exist. Give the path "
                "of a neural decoder saved with decoder.save (or `neurospell train --decoder eegnet`), "
                "or the fitted decoder itself.")
        dec = _package.load_decoder(path)
        source = {"path": str(path), "file_sha256": file_sha256(path)}
    else:
        dec = init_from
    if not isinstance(dec, NeuralDecoder):
        raise NeurospellError(
            f"init_from must be a fitted neural decoder (eegnet, eeginception, xdawnts-net) or the "
            f"path of one, got {getattr(dec, 'name', None) or type(dec).__name__!r}"
            + (f" from {source['path']!r}" if source else "")
            + ". A classical model has no network weights to start from: refit it on the new "
              "data instead (make_decoder(name).fit(batch)), or pretrain a neural one.")
    dec._check_fitted()
    return dec, source


def _check_batch(pre, batch, preprocess):
    validate_type(batch, EpochBatch, "batch")
    if batch.targets is None:
        raise NeurospellError("fine_tune: the EpochBatch has no targets; fine-tuning needs labelled epochs.")
    y = np.asarray(batch.targets, bool)
    if y.sum() < 2 or (~y).sum() < 2:
        raise NeurospellError(
            f"fine_tune: need at least 2 target and 2 non-target epochs, got {int(y.sum())} targets "
            f"and {int((~y).sum())} non-targets. Label at least one character.")
    try:
        pre.check_compatible(batch, preprocess)
    except ProvenanceError as err:
        raise ProvenanceError(
            f"init_from: the pretrained {pre.name} model cannot be fine-tuned on this batch: {err} "
            "Bring the new participant's epochs to the pretrained model's channels, rate and window "
            "(neurospell.session.pooling matches channels by name and resamples), or pretrain on "
            "recordings made like this one.") from None
    X = np.asarray(batch.data, np.float32)
    if not np.all(np.isfinite(X)):
        raise NeurospellError("fine_tune: the epochs contain NaN or infinite values.")
    return X, y


def _tune_one(dec, state, Xp, y, *, n_epochs, learning_rate, prefixes, seed, device):
    """Fine-tune one network from ``state`` on (Xp, y) for ``n_epochs`` passes; its new state."""
    import torch

    torch.manual_seed(seed)
    net = dec._new_module()
    net.load_state_dict(state)
    net.to(device)
    for name, p in net.named_parameters():
        p.requires_grad_(not name.startswith(prefixes))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(learning_rate), weight_decay=float(dec.weight_decay))
    n_pos = max(1, int(y.sum()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - n_pos) / n_pos, device=device))
    Xt = torch.from_numpy(np.ascontiguousarray(Xp)).to(device)
    yt = torch.from_numpy(y.astype(np.float32)).to(device)
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed * 7919)
    bs = int(dec.batch_size)
    for _ in range(int(n_epochs)):
        net.train()
        order = rng.permutation(len(Xt))
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            if len(idx) < 2:
                continue  # BatchNorm needs 2 samples
            idx = torch.from_numpy(idx).to(device)
            xb = Xt[idx]
            if dec.augment:
                xb = dec._augment(xb, gen)
            loss = loss_fn(net(xb).float(), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def _ensemble_scores(dec, states, Xp, device):
    import torch

    Xt = torch.from_numpy(np.ascontiguousarray(Xp)).to(device)
    out = None
    for state in states:
        net = dec._new_module()
        net.load_state_dict(state)
        net.to(device)
        s = dec._predict_net(net, Xt)
        out = s if out is None else out + s
    return out / len(states)


def fine_tune(init_from, batch: EpochBatch, *, n_epochs: int = 30, learning_rate: float = 1e-3,
              freeze: str = "none", unlabelled: EpochBatch | None = None, calibration_folds: int = 3,
              seed: int = 0, preprocess=None, sources=None, device: str | None = None, verbose=None):
    """A neural decoder started from a pretrained one and trained on a new participant's labels.

    Parameters
    ----------
    init_from : NeuralDecoder | path-like
        The fitted (pretrained) neural decoder, or the file it was saved to. It is not modified.
    batch : EpochBatch
        The new participant's labelled epochs (``targets``; ``trials`` to split by character),
        with the pretrained model's channels, sampling rate and window, volts.
    n_epochs : int
        Passes over ``batch`` (no early stopping). ``0`` keeps the pretrained weights.
    learning_rate : float
        AdamW learning rate. The defaults (30 passes at 1e-3, nothing frozen) follow what the
        validation characters of ``benchmarks/bench_neural_transfer.py`` chose for EEGNet over
        six participants: 1e-3 over 3e-4 for all six; between 1e-3 and 3e-3, each for three;
        freezing the early block for two of six.
    freeze : ``"none"`` | ``"early"``
        ``"early"`` keeps the first (temporal and spatial) convolution block's weights
        (:data:`FREEZE_PREFIXES`); its BatchNorm statistics still follow the new data.
    unlabelled : EpochBatch | None
        The new participant's unlabelled epochs to align on (all of a recording is best);
        default: ``batch``. Labels are never read. Ignored when the pretrained model does not align.
    calibration_folds : int
        Folds by character (blocks of epochs with one character) for the held-out scores
        that calibrate ``score_model_``. ``0``: no held-out scores (one fine-tuning instead
        of ``calibration_folds + 1``); ``score_model_`` and ``heldout_auc_`` stay the
        pretrained model's, as the provenance says (for a quick refit or a benchmark that
        needs only the scores).
    seed : int
        Seed of shuffling, dropout and augmentation.
    preprocess : PreprocessConfig | dict | None
        The preprocessing that produced ``batch``, checked against the pretrained model's.
    sources : sequence of path-like | None
        The files ``batch`` came from (names and SHA-256 kept in the provenance).
    device : ``"auto"`` | ``"cpu"`` | ``"cuda"`` | None
        Default: the pretrained model's ``device`` parameter.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    decoder : NeuralDecoder
        A new fitted decoder of the pretrained one's class (saved and loaded like any).
    """
    with use_log_level(verbose):
        pre, source = _resolve(init_from)
        X, y = _check_batch(pre, batch, preprocess)
        check_option("freeze", freeze, ("none", "early"))
        for name, v in (("n_epochs", n_epochs), ("calibration_folds", calibration_folds)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0 or v == 1 and name != "n_epochs":
                raise NeurospellError(f"{name} must be an integer >= 0" + (" other than 1" if name != "n_epochs" else "")
                                      + f", got {v!r}.")
        if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
            raise NeurospellError(f"learning_rate must be a positive number, got {learning_rate!r}.")
        t0 = time.perf_counter()
        dec = copy.deepcopy(pre)
        if device is not None:
            dec.device = device
        torch_device = dec._torch_device()
        align = {"aligned": dec.aligns, "labels_used": False}
        if dec.aligns:
            ref = batch if unlabelled is None else unlabelled
            if unlabelled is not None:
                validate_type(unlabelled, EpochBatch, "unlabelled")
                dec.check_compatible(unlabelled)
            dec.alignment_target_ = alignment_matrix(np.asarray(ref.data, np.float32), dec.alignment_method)
            dec.alignment_source_ = f"{len(ref)} unlabelled epochs of the fine-tuning participant"
            X = apply_alignment(dec.alignment_target_, X)
            align.update(method=dec.alignment_method, n_epochs=len(ref))
        Xp, _ = dec._prepare(X, dec.scale_)  # the pretrained network's input scaling
        prefixes = FREEZE_PREFIXES.get(dec.architecture, ()) if freeze == "early" else ()
        kw = dict(n_epochs=n_epochs, learning_rate=learning_rate, prefixes=prefixes, device=torch_device)
        groups = _trials_or_blocks(batch)
        if len(np.unique(groups)) < 2:  # one character: contiguous blocks of its epochs
            groups = np.minimum(np.arange(len(y)) * 5 // len(y), 4)
        heldout = np.full(len(y), np.nan)
        record = []
        folds = group_folds(groups, min(int(calibration_folds), len(np.unique(groups)))) if calibration_folds else []
        for k, val in enumerate(folds):
            if y[~val].sum() < 1 or (~y[~val]).sum() < 1:
                continue
            states = [_tune_one(dec, s, Xp[~val], y[~val], seed=seed + 100 * k + i, **kw)
                      for i, s in enumerate(pre.states_)]
            heldout[val] = _ensemble_scores(dec, states, Xp[val], torch_device)
            record.append({"heldout": _ids(groups[val]), "train": _ids(groups[~val]), "early_stopping": []})
        dec.states_ = [_tune_one(dec, s, Xp, y, seed=seed + i, **kw) for i, s in enumerate(pre.states_)]
        dec._modules = None
        mask = np.isfinite(heldout)
        if calibration_folds and (y[mask].sum() < 1 or (~y[mask]).sum() < 1):
            raise NeurospellError(
                "fine_tune: no fold left targets and non-targets to calibrate the scores on; label "
                "more epochs (a whole character at least), or pass calibration_folds=0.")
        if calibration_folds:
            dec.score_model_ = ScoreModel(dec.score_kind).fit(heldout[mask], y[mask])
            dec.heldout_auc_ = roc_auc(y[mask], heldout[mask])
            dec.heldout_scores_, dec.heldout_targets_ = heldout[mask], y[mask]
        else:
            record = "none: the pretrained model's score model and held-out AUC are kept"
        elapsed = time.perf_counter() - t0
        dec.history_ = list(pre.history_) + [{"stage": "fine-tune", "epochs": int(n_epochs), "seconds": elapsed,
                                              "device": str(torch_device), "freeze": freeze}]
        prov = copy.deepcopy(pre.provenance_)
        prov["training"] = {
            "n_epochs": int(len(y)), "n_targets": int(y.sum()),
            "n_characters": int(len(np.unique(batch.trials))) if batch.trials is not None else None,
            "files": [source_entry(p) for p in (sources or [])],
            "calibration": {"scheme": "cross-validation by character of fine-tuned networks; deployed "
                                      "networks fine-tuned on all characters" if calibration_folds else record,
                            "unit": "character" if batch.trials is not None and len(np.unique(batch.trials)) > 1
                            else "block of epochs", "folds": record, "scored_characters": _ids(groups[mask])},
        }
        prov["heldout_auc"] = float(dec.heldout_auc_)
        prov["amplitude"] = amplitude_stats(batch.data)
        prov["alignment"] = {**prov.get("alignment", {}), "fine_tuning": align}
        prov["fine_tuning"] = {
            "pretrained": {"decoder": pre.name, "architecture": pre.architecture, **source,
                           "weights_sha256": weights_sha256(pre), "heldout_auc": float(pre.heldout_auc_),
                           "training": pre.provenance_.get("training", {}),
                           "created": pre.provenance_.get("created")},
            "n_epochs": int(n_epochs), "learning_rate": float(learning_rate), "freeze": freeze,
            "frozen_prefixes": list(prefixes), "seed": int(seed), "n_networks": len(dec.states_),
            "seconds": elapsed,
        }
        dec.provenance_ = prov
        logger.info("%s fine-tuned from %s (%d networks, %d passes, lr %g, freeze %s) on %d epochs in "
                    "%.1f s: held-out AUC %.3f", dec.name, source.get("path", "a fitted model"),
                    len(dec.states_), n_epochs, learning_rate, freeze, len(y), elapsed, dec.heldout_auc_)
    return dec
