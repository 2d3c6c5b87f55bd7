"""Neural decoders: one training loop for every architecture in :mod:`.models`.

Training (CPU or CUDA with automatic mixed precision; single process or
DistributedDataParallel under ``torchrun``, same code path):

- epochs are decimated by block means to about ``target_sfreq`` and each channel is divided
  by its standard deviation on the training data (stored, so online inputs get the same);
- class imbalance (1 target in 6-8 flashes) is handled by weighting the target class in the
  binary cross-entropy by ``n_non-targets / n_targets``;
- early stopping monitors the validation AUC on characters held out by ``EpochBatch.trials``
  (never random epochs: neighbouring epochs overlap in time);
- ``n_folds >= 2`` trains one network per character fold and averages their logits (an
  ensemble that uses every character for training and gives out-of-fold scores for the
  score calibration); ``n_folds = 1`` holds out ``validation_fraction`` of the characters;
- optional pre-training on ``extra`` epochs (e.g. other participants), then fine-tuning;
- light augmentation (amplitude scaling, small time shifts, additive noise);
- seeded: identical results for identical inputs on CPU.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from neurospell.check import NeurospellError, check_option, check_positive
from neurospell.logs import logger

from .base import BaseDecoder, group_folds, roc_auc

__all__ = ["NeuralDecoder", "EEGNetDecoder", "EEGInceptionDecoder", "XdawnTSNetDecoder"]


def _dist():
    """(rank, world_size) of the torch.distributed process group, (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _block_mean(X: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return X
    n = X.shape[2] // factor
    return X[:, :, : n * factor].reshape(X.shape[0], X.shape[1], n, factor).mean(-1)


class NeuralDecoder(BaseDecoder):
    """A decoder training a PyTorch network from :data:`~neurospell.decoder.models.ARCHITECTURES`.

    Parameters
    ----------
    architecture : str
        Key of :data:`neurospell.decoder.models.ARCHITECTURES`.
    max_epochs : int
        Upper bound on training epochs (passes over the training data) per network.
    batch_size : int
        Global mini-batch size (split across processes under DistributedDataParallel).
    learning_rate : float
        AdamW learning rate.
    patience : int
        Stop after this many epochs without a better validation AUC.
    n_folds : int
        Character folds; ``>= 2`` trains an ensemble of one network per fold.
    validation_fraction : float
        Fraction of characters held out for early stopping when ``n_folds == 1``.
    seed : int
        Seed of initialisation, shuffling, dropout and augmentation.
    device : ``"auto"`` | ``"cpu"`` | ``"cuda"``
        ``"auto"`` uses CUDA when available.
    target_sfreq : float
        Decimate (block means) to about this rate before the network, Hz.
    augment : bool
        Random amplitude scaling, time shifts and noise during training.
    dropout : float | None
        Dropout probability; ``None`` keeps the architecture's default.
    weight_decay : float
        AdamW weight decay.
    amp : bool
        Automatic mixed precision on CUDA (ignored on CPU).
    progress : bool
        Show a tqdm progress bar with loss and validation AUC per epoch.
    """

    name = "neural"
    architecture_default = "eegnet"

    def __init__(self, architecture: str = "eegnet", max_epochs: int = 150, batch_size: int = 64,
                 learning_rate: float = 1e-3, patience: int = 20, n_folds: int = 3,
                 validation_fraction: float = 0.2, seed: int = 0, device: str = "auto",
                 target_sfreq: float = 128.0, augment: bool = True, dropout: float | None = None,
                 weight_decay: float = 1e-3, amp: bool = True, progress: bool = True):
        self.architecture = architecture
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.n_folds = n_folds
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.device = device
        self.target_sfreq = target_sfreq
        self.augment = augment
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.amp = amp
        self.progress = progress

    # --- helpers ----------------------------------------------------------------------
    def _validate(self):
        from .models import ARCHITECTURES

        check_option("architecture", self.architecture, tuple(ARCHITECTURES))
        check_option("device", self.device, ("auto", "cpu", "cuda"))
        for p in ("max_epochs", "batch_size", "patience", "n_folds"):
            v = getattr(self, p)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise NeurospellError(f"{p} must be an integer >= 1, got {v!r}.")
        check_positive("learning_rate", self.learning_rate)
        check_positive("target_sfreq", self.target_sfreq)
        check_positive("weight_decay", self.weight_decay, strict=False)
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise NeurospellError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}."
            )

    def _torch_device(self):
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise NeurospellError(
                "device='cuda' was requested but CUDA is not available; use device='auto' or 'cpu'."
            )
        if self.device == "cpu" or not torch.cuda.is_available():
            return torch.device("cpu")
        import os

        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))

    def _new_module(self):
        from .models import ARCHITECTURES

        kwargs = {}
        if self.dropout is not None:
            kwargs["dropout"] = float(self.dropout)
        return ARCHITECTURES[self.architecture](
            self.n_chans_, self.n_times_model_, self.model_sfreq_, **kwargs
        )

    def _decimation_info(self):
        return {"target_sfreq": self.target_sfreq, "factor": self.decim_,
                "model_sfreq": self.model_sfreq_}

    def _prepare(self, X, scale=None):
        Xd = _block_mean(np.asarray(X, np.float32), self.decim_)
        if scale is None:
            scale = Xd.std(axis=(0, 2)).astype(np.float32)
            scale[scale <= 0] = 1.0
        return (Xd / scale[None, :, None]).astype(np.float32), scale

    # --- training ---------------------------------------------------------------------
    def _fit(self, X, y, groups, extra):
        self._validate()
        self.decim_ = max(1, int(round(self.sfreq_ / float(self.target_sfreq))))
        self.model_sfreq_ = self.sfreq_ / self.decim_
        self.n_times_model_ = self.n_times_ // self.decim_
        Xp, self.scale_ = self._prepare(X)
        device = self._torch_device()
        rank, world = _dist()
        logger.info("%s: training on %s (process %d of %d), %d epochs x %d channels x %d samples "
                    "at %.1f Hz", self.name, device, rank, world, *Xp.shape, self.model_sfreq_)
        self.history_ = []
        init = None
        if extra is not None:
            Xe, _ = self._prepare(extra.data)
            ye = np.asarray(extra.targets, bool)
            ge = np.asarray(extra.trials) if extra.trials is not None else np.arange(len(ye)) // 64
            val = self._holdout(ge)
            init, _ = self._train_one(Xe[~val], ye[~val], Xe[val], ye[val], None, self.seed + 1000,
                                      "pre-train", device)
        self._init_state = init  # for a refit on all characters (XdawnTSNetDecoder)
        if self.n_folds >= 2 and len(np.unique(groups)) >= 2:
            folds = group_folds(groups, self.n_folds)
        else:
            folds = [self._holdout(groups)]
        states = []
        heldout = np.full(len(y), np.nan)
        for k, val in enumerate(folds):
            desc = f"fold {k + 1}/{len(folds)}"
            if y[val].sum() == 0 or (~y[val]).sum() == 0:
                raise NeurospellError(
                    f"{self.name}: validation characters of {desc} hold no target or no non-target "
                    "epochs; provide more characters (trials) or fewer folds."
                )
            state, scores = self._train_one(Xp[~val], y[~val], Xp[val], y[val], init,
                                            self.seed + k, desc, device)
            states.append(state)
            heldout[val] = scores
        self.states_ = states
        self._modules = None
        return heldout

    def _holdout(self, groups) -> np.ndarray:
        uniq = list(dict.fromkeys(np.asarray(groups).tolist()))
        if len(uniq) < 2:
            raise NeurospellError(
                f"{self.name}: early stopping needs at least 2 characters (EpochBatch.trials) to hold "
                f"one out, got {len(uniq)}."
            )
        n_val = min(len(uniq) - 1, max(1, int(round(len(uniq) * float(self.validation_fraction)))))
        return np.isin(groups, uniq[-n_val:])

    def _train_one(self, Xtr, ytr, Xval, yval, init, seed, desc, device, n_epochs=None):
        """Train one network; early stopping on (Xval, yval), or exactly ``n_epochs`` epochs
        without validation (keeping the last state) when ``n_epochs`` is given."""
        import torch
        from tqdm.auto import tqdm

        rank, world = _dist()
        torch.manual_seed(seed)
        net = self._new_module()
        if init is not None:
            net.load_state_dict(init)
        if hasattr(net, "fit_fixed"):  # fixed (non-trained) layers, see XdawnTSNetDecoder
            fixed = getattr(self, "_fixed_data", None)
            net.fit_fixed(*(fixed if fixed is not None else (Xtr, ytr)))
        net.to(device)
        model = net
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None
            )
        use_amp = bool(self.amp) and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        opt = torch.optim.AdamW(net.parameters(), lr=float(self.learning_rate),
                                weight_decay=float(self.weight_decay))
        n_pos = max(1, int(ytr.sum()))
        pos_weight = torch.tensor((len(ytr) - n_pos) / n_pos, device=device)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        Xt = torch.from_numpy(np.ascontiguousarray(Xtr)).to(device)
        yt = torch.from_numpy(ytr.astype(np.float32)).to(device)
        Xv = torch.from_numpy(np.ascontiguousarray(Xval)).to(device)
        perm_rng = np.random.default_rng(seed)  # identical on every process
        gen = torch.Generator(device="cpu").manual_seed(seed * 7919 + rank)  # per process
        torch.manual_seed(seed * 104729 + rank)  # dropout differs per process, like data
        bs = int(self.batch_size)
        best_auc, best_state, best_epoch, bad = -np.inf, None, 0, 0
        t_start = time.perf_counter()
        fixed = n_epochs is not None
        if not fixed and len(Xv):  # the initial state competes too (warm-started networks)
            init_auc = roc_auc(yval, self._predict_net(net, Xv))
            if np.isfinite(init_auc):
                best_auc, best_epoch = init_auc, -1
                best_state = copy.deepcopy(net.state_dict())
        bar = tqdm(range(int(n_epochs if fixed else self.max_epochs)), desc=f"{self.name} {desc}",
                   leave=False, disable=not self.progress or rank != 0, dynamic_ncols=True)
        for epoch in bar:
            model.train()
            order = perm_rng.permutation(len(Xt))
            total, n_seen = 0.0, 0
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                if len(idx) < 2 * world:
                    continue  # every process needs >= 2 samples (BatchNorm)
                idx = torch.from_numpy(idx[rank::world]).to(device)
                xb, yb = Xt[idx], yt[idx]
                if self.augment:
                    xb = self._augment(xb, gen)
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    loss = loss_fn(model(xb).float(), yb)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach()) * len(idx)
                n_seen += len(idx)
            if fixed:
                bar.set_postfix(loss=f"{total / max(n_seen, 1):.4f}")
                best_auc, best_epoch = float("nan"), epoch
                continue
            scores = self._predict_net(net, Xv)
            auc = roc_auc(yval, scores)
            if world > 1:
                import torch.distributed as dist

                t = torch.tensor([auc, total, n_seen], dtype=torch.float64, device=device)
                dist.all_reduce(t)
                auc, total, n_seen = float(t[0]) / world, float(t[1]), float(t[2])
            bar.set_postfix(loss=f"{total / max(n_seen, 1):.4f}", val_auc=f"{auc:.3f}")
            logger.debug("%s %s epoch %d: loss %.4f, validation AUC %.4f", self.name, desc, epoch,
                         total / max(n_seen, 1), auc)
            if auc > best_auc + 1e-6:
                best_auc, best_epoch, bad = auc, epoch, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                bad += 1
                if bad >= int(self.patience):
                    break
        bar.close()
        elapsed = time.perf_counter() - t_start
        self.history_.append({"stage": desc, "epochs": epoch + 1, "best_epoch": best_epoch + 1,
                              "best_val_auc": float(best_auc), "seconds": elapsed,
                              "seconds_per_epoch": elapsed / (epoch + 1),
                              "device": str(device), "amp": use_amp, "world_size": world})
        if best_state is None:  # fixed epochs, or validation AUC undefined: keep the last
            best_state = copy.deepcopy(net.state_dict())
        net.load_state_dict(best_state)
        if world > 1:
            import torch.distributed as dist

            for v in net.state_dict().values():
                dist.broadcast(v, src=0)  # every process keeps process 0's best network
        logger.info("%s %s: best validation AUC %.4f at epoch %d", self.name, desc, best_auc,
                    best_epoch + 1)
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return state, self._predict_net(net, Xv)

    @staticmethod
    def _augment(xb, gen):
        import torch

        n, c, t = xb.shape
        amp = 1.0 + 0.1 * torch.randn(n, 1, 1, generator=gen).to(xb.device)
        shift = int(torch.randint(-2, 3, (1,), generator=gen))
        if shift:
            xb = torch.roll(xb, shifts=shift, dims=2)
        noise = 0.1 * torch.randn(n, c, t, generator=gen).to(xb.device)
        return xb * amp + noise

    @staticmethod
    def _predict_net(net, X, batch: int = 512):
        import torch

        net.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(X), batch):
                out.append(net(X[s : s + batch]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    # --- inference --------------------------------------------------------------------
    def _nets(self):
        """The ensemble's networks for inference, built once (traced and frozen when possible:
        about half the per-epoch latency of eager mode on a CPU)."""
        if getattr(self, "_modules", None) is None:
            import torch

            example = torch.zeros(1, self.n_chans_, self.n_times_model_)
            nets = []
            for state in self.states_:
                net = self._new_module()
                net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
                net.eval()
                nets.append(self._freeze(net, example))
            self._modules = nets
        return self._modules

    @staticmethod
    def _freeze(net, example):
        import warnings

        import torch

        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                frozen = torch.jit.optimize_for_inference(torch.jit.trace(net, example))
                ok = torch.allclose(frozen(example.repeat(3, 1, 1) + 1), net(example.repeat(3, 1, 1) + 1),
                                    rtol=1e-4, atol=1e-5)
            return frozen if ok else net
        except Exception as err:  # tracing is an optimisation only
            logger.debug("could not trace %s (%s); using eager mode", type(net).__name__, err)
            return net

    def _logits(self, X):
        import torch

        Xp, _ = self._prepare(X, self.scale_)
        xt = torch.from_numpy(Xp)
        out = None
        with torch.inference_mode():
            for net in self._nets():
                z = net(xt).float()
                out = z if out is None else out + z
        return (out / len(self._nets())).numpy()

    def _decision(self, X):
        return self._logits(X).astype(np.float64)

    def _proba(self, X):
        z = self._logits(X).astype(np.float64)
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid

    def _get_state(self):
        return {
            "decim": self.decim_, "model_sfreq": self.model_sfreq_,
            "n_times_model": self.n_times_model_, "scale": np.asarray(self.scale_),
            "states": [{k: v.cpu().numpy() for k, v in s.items()} for s in self.states_],
            "history": list(getattr(self, "history_", [])),
        }

    def _set_state(self, state):
        import torch

        self.decim_ = int(state["decim"])
        self.model_sfreq_ = float(state["model_sfreq"])
        self.n_times_model_ = int(state["n_times_model"])
        self.scale_ = np.asarray(state["scale"], np.float32)
        self.states_ = [{k: torch.from_numpy(np.array(v)) for k, v in s.items()}
                        for s in state["states"]]
        self.history_ = list(state.get("history", []))
        self._modules = None

    def n_parameters(self) -> int:
        """Trainable parameters of one network of the ensemble."""
        self._check_fitted()
        return int(sum(p.numel() for p in self._nets()[0].parameters()))

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_modules"] = None
        for k in ("_init_state", "_fixed_data"):  # transient training state
            d.pop(k, None)
        return d


class EEGNetDecoder(NeuralDecoder):
    """EEGNet-8,2 (Lawhern et al. 2018); see :class:`NeuralDecoder` for the parameters."""

    name = "eegnet"

    def __init__(self, architecture: str = "eegnet", max_epochs: int = 150, batch_size: int = 64,
                 learning_rate: float = 1e-3, patience: int = 20, n_folds: int = 3,
                 validation_fraction: float = 0.2, seed: int = 0, device: str = "auto",
                 target_sfreq: float = 128.0, augment: bool = True, dropout: float | None = None,
                 weight_decay: float = 1e-3, amp: bool = True, progress: bool = True):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress)


class EEGInceptionDecoder(NeuralDecoder):
    """EEG-Inception (Santamaria-Vazquez et al. 2020); see :class:`NeuralDecoder`."""

    name = "eeginception"

    def __init__(self, architecture: str = "eeginception", max_epochs: int = 150,
                 batch_size: int = 64, learning_rate: float = 1e-3, patience: int = 20,
                 n_folds: int = 3, validation_fraction: float = 0.2, seed: int = 0,
                 device: str = "auto", target_sfreq: float = 128.0, augment: bool = True,
                 dropout: float | None = None, weight_decay: float = 1e-3, amp: bool = True,
                 progress: bool = True):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress)


class XdawnTSNetDecoder(NeuralDecoder):
    """XdawnTSNet: EEGNet-8,2 plus an xDAWN-covariance tangent-space branch computed inside
    the network, trained end to end (:class:`~neurospell.decoder.models.xdawntsnet.XdawnTSNet`).

    Training: one network per character fold with early stopping on its held-out
    characters (their scores calibrate ``score_model_``, as for every neural decoder); each
    network's fixed layers (xDAWN filters, prototypes, reference covariance) and the
    logistic-regression warm start of its linear head are fitted on its own training
    characters. Then (``refit``) a network is trained on ALL calibration characters for the
    median best epoch count of the folds, so the deployed model sees every character, as the
    classical pipelines do.

    Parameters
    ----------
    fixed_fit : ``"fold"`` | ``"all"``
        Fit each fold network's fixed layers and warm start on its training characters
        (``"fold"``: held-out scores stay honest) or on all calibration characters
        (``"all"``: the held-out scores, hence the calibration, are optimistic).
    refit : ``"replace"`` | ``"add"`` | ``"none"``
        After the folds, train one network on all characters and deploy it alone
        (``"replace"``: one network, lowest latency), add it to the fold ensemble
        (``"add"``), or deploy the fold ensemble only (``"none"``).

    See :class:`NeuralDecoder` for the other parameters.
    """

    name = "xdawnts-net"

    def __init__(self, architecture: str = "xdawntsnet", max_epochs: int = 150,
                 batch_size: int = 64, learning_rate: float = 1e-3, patience: int = 20,
                 n_folds: int = 3, validation_fraction: float = 0.2, seed: int = 0,
                 device: str = "auto", target_sfreq: float = 128.0, augment: bool = True,
                 dropout: float | None = None, weight_decay: float = 1e-3, amp: bool = True,
                 progress: bool = True, fixed_fit: str = "fold", refit: str = "replace"):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress)
        self.fixed_fit = fixed_fit
        self.refit = refit

    def _fit(self, X, y, groups, extra):
        check_option("fixed_fit", self.fixed_fit, ("fold", "all"))
        self._fixed_data = None
        if self.fixed_fit == "all":
            self.decim_ = max(1, int(round(self.sfreq_ / float(self.target_sfreq))))
            Xp, _ = self._prepare(X)
            self._fixed_data = (Xp, y)
        check_option("refit", self.refit, ("none", "replace", "add"))
        self._init_state = None
        try:
            heldout = super()._fit(X, y, groups, extra)
            if self.refit != "none":
                best = [h["best_epoch"] for h in self.history_ if h["stage"].startswith("fold")]
                n_ep = max(1, int(round(float(np.median(best)))))
                Xp, _ = self._prepare(X, self.scale_)
                state, _ = self._train_one(Xp, y, Xp[:0], y[:0], self._init_state,
                                           self.seed + 100, "refit", self._torch_device(),
                                           n_epochs=n_ep)
                self.states_ = ([] if self.refit == "replace" else self.states_) + [state]
                self._modules = None
            return heldout
        finally:
            self._fixed_data = None
            self._init_state = None
