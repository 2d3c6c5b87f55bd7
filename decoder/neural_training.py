"""The training of the neural decoders: one loop for every architecture in :mod:`.models`.

Training (CPU or CUDA with automatic mixed precision; single process or
DistributedDataParallel under ``torchrun``, same code path):

- epochs are decimated by block means to about ``target_sfreq`` and each channel is divided
  by its standard deviation on the training data (stored, so online inputs get the same);
- class imbalance (1 target in 6-8 flashes) is handled by weighting the target class in the
  binary cross-entropy by ``n_non-targets / n_targets``;
- nested split by character (``EpochBatch.trials``; never random epochs, neighbouring epochs
  overlap in time): ``n_folds >= 2`` outer folds (at most one per character); for each, a
  network is trained on the other folds' characters minus ``validation_fraction`` of them
  (at least one), the *inner* validation characters, whose AUC chooses the early-stopping
  epoch. With ``refit_outer=True`` (default) a second network is then trained on *all*
  the other folds' characters (inner training + inner validation) for that number of
  epochs (same count: no validation left to stop it); with ``refit_outer=False`` the
  early-stopped inner network is kept. The kept network scores its *outer* fold,
  characters it never saw for training, early stopping or the epoch count. Those
  out-of-fold scores (and only they) fit the score model and give the reported held-out
  AUC. ``n_folds = 1``: one network, ``validation_fraction`` of the characters held out for
  calibration (outer) and the same fraction of the others for early stopping (inner);
- the deployed model is the ensemble (logits averaged) of exactly the networks that scored
  the outer folds, see :class:`NeuralDecoder`;
- optional pre-training on ``extra`` epochs (e.g. other participants), then fine-tuning;
- light augmentation (amplitude scaling, small time shifts, additive noise);
- seeded: identical results for identical inputs on CPU.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger

from .base import _ids, group_folds, roc_auc

__all__ = ["NeuralTraining"]


def _dist():
    """(rank, world_size) of the torch.distributed process group, (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class NeuralTraining:
    """Device, nested character split and training loop of :class:`~.neural.NeuralDecoder`.

    A mixin: it reads the decoder's parameters and uses its helpers (``_validate``,
    ``_prepare``, ``_new_module``, ``name``); the decoder class holds the parameters, the
    inference and the saved state (see the module docstring for the training scheme).
    """

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
        chars = list(dict.fromkeys(np.asarray(groups).tolist()))
        if len(chars) < 3:
            raise NeurospellError(
                f"{self.name}: training needs at least 3 characters (EpochBatch.trials): one to "
                "train on, one for early stopping and one held out for calibration; got "
                f"{len(chars)}. Record more calibration characters."
            )
        if self.n_folds >= 2:
            folds = group_folds(groups, self.n_folds)
        else:
            folds = [self._holdout(groups)]
        states, record = [], []
        heldout = np.full(len(y), np.nan)
        refit_outer = bool(getattr(self, "refit_outer", False))
        for k, outer in enumerate(folds):
            desc = f"fold {k + 1}/{len(folds)}"
            n_rest = len(np.unique(groups[~outer]))
            if n_rest < 2:
                raise NeurospellError(
                    f"{self.name}: {desc} leaves {n_rest} character for training and early "
                    f"stopping (n_folds={self.n_folds} with {len(chars)} characters); each "
                    "network needs at least 2. Use more folds (n_folds, --n-folds "
                    f"{len(chars)}) or record more characters."
                )
            inner = self._holdout(groups, within=~outer)
            train = ~outer & ~inner
            if y[inner].sum() == 0 or (~y[inner]).sum() == 0:
                raise NeurospellError(
                    f"{self.name}: early-stopping characters of {desc} hold no target or no "
                    "non-target epochs; provide more characters (trials) or fewer folds."
                )
            state, scores = self._train_one(Xp[train], y[train], Xp[inner], y[inner], init,
                                            self.seed + k, desc, device, Xout=Xp[outer])
            fold = {"heldout": _ids(groups[outer]), "early_stopping": _ids(groups[inner]),
                    "train": _ids(groups[train]),
                    "epochs_chosen": self.history_[-1]["best_epoch"]}
            if refit_outer:
                # the stopping epoch is chosen on non-k characters only; the scoring (and
                # deployed) network is retrained on all of them for that many epochs
                n_epochs = fold["epochs_chosen"]
                rest = ~outer
                state, scores = self._train_one(Xp[rest], y[rest], None, None, init,
                                                self.seed + k, f"{desc} refit", device,
                                                Xout=Xp[outer], n_epochs=n_epochs)
                fold.update(refit=_ids(groups[rest]), epochs_trained=n_epochs)
                fold["scored_by"] = "refit"
            else:
                fold["scored_by"] = "early-stopped"
            states.append(state)
            heldout[outer] = scores
            record.append(fold)
        if refit_outer:
            scheme = ("nested by character, refit per outer fold: inner characters choose the "
                      "number of training epochs, a network retrained on all non-fold "
                      "characters (inner training + early-stopping characters) for that many "
                      "epochs scores its outer fold (characters it never saw); deployed "
                      "model: the retrained fold networks' ensemble")
        else:
            scheme = ("nested by character: inner characters choose the early-stopping epoch, "
                      "outer characters (unseen by the scoring network) give the calibration "
                      "scores; deployed model: the fold networks' ensemble")
        self._calibration = {"scheme": scheme, "folds": record}
        if getattr(self, "fixed_fit", "fold") == "all":
            self._calibration["fixed_layers"] = "fitted on all characters (scores optimistic)"
        self.states_ = states
        self._modules = None
        return heldout

    def _holdout(self, groups, within=None) -> np.ndarray:
        """Mask of the last ``validation_fraction`` of the characters (at least one, never
        all) among the epochs in ``within`` (default: all)."""
        groups = np.asarray(groups)
        within = np.ones(len(groups), bool) if within is None else np.asarray(within, bool)
        uniq = list(dict.fromkeys(groups[within].tolist()))
        if len(uniq) < 2:
            raise NeurospellError(
                f"{self.name}: early stopping needs at least 2 characters (EpochBatch.trials) to hold "
                f"one out, got {len(uniq)}."
            )
        n_val = min(len(uniq) - 1, max(1, int(round(len(uniq) * float(self.validation_fraction)))))
        return within & np.isin(groups, uniq[-n_val:])

    def _train_one(self, Xtr, ytr, Xval, yval, init, seed, desc, device, Xout=None,
                   n_epochs=None):
        """Train one network with early stopping on (Xval, yval), or (``n_epochs`` given,
        ``Xval`` None) for exactly ``n_epochs`` epochs without validation.

        Returns the network's (best, or last) state and its scores on ``Xout`` (default:
        ``Xval``)."""
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
        fixed = n_epochs is not None
        if fixed:
            Xval, yval = Xtr[:0], ytr[:0]
        Xv = torch.from_numpy(np.ascontiguousarray(Xval)).to(device)
        perm_rng = np.random.default_rng(seed)  # identical on every process
        gen = torch.Generator(device="cpu").manual_seed(seed * 7919 + rank)  # per process
        torch.manual_seed(seed * 104729 + rank)  # dropout differs per process, like data
        bs = int(self.batch_size)
        best_auc, best_state, best_epoch, bad = -np.inf, None, 0, 0
        t_start = time.perf_counter()
        if len(Xv) and not fixed:  # the initial state competes too (warm-started networks)
            init_auc = roc_auc(yval, self._predict_net(net, Xv))
            if np.isfinite(init_auc):
                best_auc, best_epoch = init_auc, -1
                best_state = copy.deepcopy(net.state_dict())
        epoch = -1
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
        if best_state is None:  # fixed epoch count, or validation AUC undefined: keep the last
            best_state = copy.deepcopy(net.state_dict())
            best_epoch = epoch
        self.history_.append({"stage": desc, "epochs": epoch + 1, "best_epoch": best_epoch + 1,
                              "best_val_auc": None if fixed else float(best_auc), "seconds": elapsed,
                              "seconds_per_epoch": elapsed / max(epoch + 1, 1),
                              "device": str(device), "amp": use_amp, "world_size": world})
        net.load_state_dict(best_state)
        if world > 1:
            import torch.distributed as dist

            for v in net.state_dict().values():
                dist.broadcast(v, src=0)  # every process keeps process 0's best network
        if fixed:
            logger.info("%s %s: trained %d epochs on %d epochs of data (no validation)",
                        self.name, desc, epoch + 1, len(Xtr))
        else:
            logger.info("%s %s: best early-stopping (inner validation) AUC %.4f at epoch %d",
                        self.name, desc, best_auc, best_epoch + 1)
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        if Xout is not None:
            Xv = torch.from_numpy(np.ascontiguousarray(Xout)).to(device)
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
