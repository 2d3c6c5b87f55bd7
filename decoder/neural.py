"""Neural decoders: one training loop for every architecture in :mod:`.models`.

:class:`NeuralDecoder` holds the parameters, the input preparation (block-mean decimation to
about ``target_sfreq``, per-channel scaling), the inference (the fold networks' ensemble,
traced and frozen) and the saved state; its training (CPU or CUDA, DistributedDataParallel,
the nested split by character, early stopping, augmentation) is
:class:`~.neural_training.NeuralTraining`'s, described in :mod:`.neural_training`.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError, check_option, check_positive
from neurospell.logs import logger

from .base import BaseDecoder
from .neural_training import NeuralTraining

__all__ = ["NeuralDecoder", "EEGNetDecoder", "EEGInceptionDecoder", "XdawnTSNetDecoder"]


def _block_mean(X: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return X
    n = X.shape[2] // factor
    return X[:, :, : n * factor].reshape(X.shape[0], X.shape[1], n, factor).mean(-1)


class NeuralDecoder(NeuralTraining, BaseDecoder):
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
    refit_outer : bool
        ``True``: per outer fold, retrain on all non-fold characters for the epoch count the
        inner split chose, and score / deploy that network (the inner split no longer
        costs the deployed networks data; training time up to about twice, 1.0-1.5 times
        measured: the retraining runs only the chosen epochs, without patience). ``False``: score
        and deploy the early-stopped inner networks (the scheme of earlier versions).

    Notes
    -----
    Calibration: the score model (``score_model_``) is fitted on the outer-fold scores of
    the nested split (see :mod:`.neural_training`): each score comes from a network that never
    saw that character, neither in training nor for early stopping nor for choosing its
    epoch count, so nothing selected on those characters inflates them. The deployed model
    is the ensemble of exactly those fold networks, not a network refitted on all
    characters (whose scores could not be calibrated on any character it did not see, and
    whose logit scale after a different amount of data and epochs is not that of the fold
    networks). With ``refit_outer`` each fold network is retrained on all its non-fold
    characters, so it loses no data to the inner early-stopping split; its epoch count was
    chosen for a network trained on fewer characters, which is fine because its outer scores
    (the calibration) measure the network as retrained. The per-fold characters and
    epoch counts are in ``provenance_["training"]["calibration"]["folds"]``.
    On a new character every fold network is as unseen as on its outer fold;
    averaging their logits keeps the (pooled) class means and cannot widen the within-class
    spread
    (the variance of a mean is at most the mean of the variances), so the likelihood ratios
    of the score model are, if anything, conservative: dynamic stopping may stop later, never
    earlier, than the evidence warrants. It costs no extra training. For one network
    (lowest latency), use ``n_folds = 1``: it is calibrated on the ``validation_fraction``
    of characters it never saw. The character ids of every split are in
    ``provenance_["training"]["calibration"]``.
    """

    name = "neural"
    architecture_default = "eegnet"
    #: pooled recordings: Euclidean alignment of each (He & Wu 2019), see :mod:`.alignment`
    alignment_method = "euclidean"

    def __init__(self, architecture: str = "eegnet", max_epochs: int = 150, batch_size: int = 64,
                 learning_rate: float = 1e-3, patience: int = 20, n_folds: int = 5,
                 validation_fraction: float = 0.2, seed: int = 0, device: str = "auto",
                 target_sfreq: float = 128.0, augment: bool = True, dropout: float | None = None,
                 weight_decay: float = 1e-3, amp: bool = True, progress: bool = True,
                 refit_outer: bool = True):
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
        self.refit_outer = refit_outer

    # --- helpers ----------------------------------------------------------------------
    def _validate(self):
        from .models import ARCHITECTURES

        check_option("architecture", self.architecture, tuple(ARCHITECTURES))
        check_option("device", self.device, ("auto", "cpu", "cuda"))
        for p in ("max_epochs", "batch_size", "patience", "n_folds"):
            v = getattr(self, p)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise NeurospellError(f"{p} must be an integer >= 1, got {v!r}.")
        refit_outer = getattr(self, "refit_outer", False)  # unset in pickles of old versions
        if not isinstance(refit_outer, (bool, np.bool_)):
            raise NeurospellError(f"refit_outer must be True or False, got {refit_outer!r}.")
        check_positive("learning_rate", self.learning_rate)
        check_positive("target_sfreq", self.target_sfreq)
        check_positive("weight_decay", self.weight_decay, strict=False)
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise NeurospellError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}."
            )

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
        for k in ("_fixed_data", "_calibration"):  # transient training state
            d.pop(k, None)
        return d


class EEGNetDecoder(NeuralDecoder):
    """EEGNet-8,2 (Lawhern et al. 2018); see :class:`NeuralDecoder` for the parameters."""

    name = "eegnet"

    def __init__(self, architecture: str = "eegnet", max_epochs: int = 150, batch_size: int = 64,
                 learning_rate: float = 1e-3, patience: int = 20, n_folds: int = 5,
                 validation_fraction: float = 0.2, seed: int = 0, device: str = "auto",
                 target_sfreq: float = 128.0, augment: bool = True, dropout: float | None = None,
                 weight_decay: float = 1e-3, amp: bool = True, progress: bool = True,
                 refit_outer: bool = True):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress, refit_outer)


class EEGInceptionDecoder(NeuralDecoder):
    """EEG-Inception (Santamaria-Vazquez et al. 2020); see :class:`NeuralDecoder`."""

    name = "eeginception"

    def __init__(self, architecture: str = "eeginception", max_epochs: int = 150,
                 batch_size: int = 64, learning_rate: float = 1e-3, patience: int = 20,
                 n_folds: int = 3, validation_fraction: float = 0.2, seed: int = 0,
                 device: str = "auto", target_sfreq: float = 128.0, augment: bool = True,
                 dropout: float | None = None, weight_decay: float = 1e-3, amp: bool = True,
                 progress: bool = True, refit_outer: bool = True):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress, refit_outer)


class XdawnTSNetDecoder(NeuralDecoder):
    """XdawnTSNet: EEGNet-8,2 plus an xDAWN-covariance tangent-space branch computed inside
    the network, trained end to end (:class:`~neurospell.decoder.models.xdawntsnet.XdawnTSNet`).

    Training: the nested character split of every neural decoder (see
    :class:`NeuralDecoder`); each network's fixed layers (xDAWN filters, prototypes,
    reference covariance) and the logistic-regression warm start of its linear head are
    fitted on its own training characters (with ``refit_outer``: the retrained fold
    network's on all non-fold characters). The deployed model is the fold ensemble, whose
    networks' out-of-fold scores calibrate ``score_model_``.

    Parameters
    ----------
    fixed_fit : ``"fold"`` | ``"all"``
        Fit each fold network's fixed layers and warm start on its training characters
        (``"fold"``: held-out scores stay honest) or on all calibration characters
        (``"all"``: the held-out scores, hence the calibration, are optimistic; recorded in
        the provenance).
    refit : ``"none"``
        Kept so that models saved by earlier versions load. ``"replace"`` / ``"add"``
        (a network refitted on all characters) are refused: no character is left to
        calibrate such a network's scores on. For one deployed network use ``n_folds=1``.
        (``refit_outer`` retrains per outer fold, which keeps its fold unseen.)

    See :class:`NeuralDecoder` for the other parameters.
    """

    name = "xdawnts-net"

    def __init__(self, architecture: str = "xdawntsnet", max_epochs: int = 150,
                 batch_size: int = 64, learning_rate: float = 1e-3, patience: int = 20,
                 n_folds: int = 3, validation_fraction: float = 0.2, seed: int = 0,
                 device: str = "auto", target_sfreq: float = 128.0, augment: bool = True,
                 dropout: float | None = None, weight_decay: float = 1e-3, amp: bool = True,
                 progress: bool = True, fixed_fit: str = "fold", refit: str = "none",
                 refit_outer: bool = True):
        super().__init__(architecture, max_epochs, batch_size, learning_rate, patience, n_folds,
                         validation_fraction, seed, device, target_sfreq, augment, dropout,
                         weight_decay, amp, progress, refit_outer)
        self.fixed_fit = fixed_fit
        self.refit = refit

    def _fit(self, X, y, groups, extra):
        check_option("fixed_fit", self.fixed_fit, ("fold", "all"))
        self._fixed_data = None
        if self.fixed_fit == "all":
            self.decim_ = max(1, int(round(self.sfreq_ / float(self.target_sfreq))))
            Xp, _ = self._prepare(X)
            self._fixed_data = (Xp, y)
        if self.refit in ("replace", "add"):
            raise NeurospellError(
                f"refit={self.refit!r} is no longer supported: a network refitted on all "
                "characters has no unseen character left to calibrate its scores (the "
                "posteriors dynamic stopping uses would be over-confident). Use refit='none' "
                "(the fold ensemble, calibrated on out-of-fold characters) or n_folds=1 for "
                "one network calibrated on characters it never saw."
            )
        check_option("refit", self.refit, ("none",))
        try:
            return super()._fit(X, y, groups, extra)
        finally:
            self._fixed_data = None
