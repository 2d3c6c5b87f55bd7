"""XdawnTSNet: a hybrid network with a convolutional branch (EEGNet-8,2) and a Riemannian
branch (xDAWN super-trial covariance -> tangent space -> linear), trained end to end.

The Riemannian branch computes, inside the network and in PyTorch, the features of the
classical ``xdawncov-ts-lr`` pipeline (Barachant & Congedo 2014; Rivet et al. 2009):

1. xDAWN spatial filters ``W`` (``n_filters`` per class) and the class prototypes ``P``
   (filtered class means), fitted by pyRiemann's ``XdawnCovariances`` on the training
   epochs of each network (:meth:`XdawnTSNet.fit_fixed`) and stored as buffers;
2. per epoch, the Ledoit-Wolf shrunk covariance of the super trial ``[P; W x]``
   (4 ``n_filters`` rows), as in scikit-learn's ``ledoit_wolf``;
3. the tangent-space vector at the Riemannian mean ``M`` of the training covariances:
   ``upper(log(M^-1/2 C M^-1/2))`` with off-diagonal terms times sqrt(2) (matrix log by
   ``torch.linalg.eigh``), centred on the training mean (not scaled per feature:
   that inflates the noisy low-variance directions);
4. dropout, then a linear layer to one logit, warm-started (by default) with the
   class-balanced L2 logistic regression (C = 1) of these features on the training epochs,
   so training starts from the classical pipeline's solution and early stopping keeps it
   unless end-to-end training improves the validation AUC.

The fixed parts (``W``, ``P``, ``M^-1/2``, feature mean) are buffers: they are saved
with the state dict but not trained. The convolutional branch (EEGNet-8,2 on the input
epochs) adds its logit to the Riemannian one, so the network can learn temporal-spatial
patterns the covariance features miss. One output logit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .eegnet import EEGNet

__all__ = ["XdawnTSNet", "ledoit_wolf_torch"]


def ledoit_wolf_torch(Z: torch.Tensor) -> torch.Tensor:
    """Ledoit-Wolf shrunk covariance of each matrix in a batch (scikit-learn's formula).

    Parameters
    ----------
    Z : tensor, shape (batch, n_features, n_samples)

    Returns
    -------
    C : tensor, shape (batch, n_features, n_features)
    """
    n_feat, n_samp = Z.shape[1], Z.shape[2]
    X = Z - Z.mean(dim=2, keepdim=True)
    emp = X @ X.transpose(1, 2) / n_samp
    X2 = X * X
    trace_per = X2.sum(dim=2) / n_samp  # (batch, n_features)
    mu = trace_per.sum(dim=1) / n_feat  # (batch,)
    beta_ = (X2 @ X2.transpose(1, 2)).sum(dim=(1, 2))
    delta_ = (emp * emp).sum(dim=(1, 2))  # == sum((X X^T)^2) / n^2
    beta = (beta_ / n_samp - delta_) / (n_feat * n_samp)
    delta = (delta_ - 2.0 * mu * trace_per.sum(dim=1) + n_feat * mu * mu) / n_feat
    beta = torch.minimum(beta, delta)
    shrink = torch.where(delta > 0, beta / delta.clamp_min(1e-30), torch.zeros_like(delta))
    eye = torch.eye(n_feat, dtype=Z.dtype, device=Z.device)
    s = shrink[:, None, None]
    return (1.0 - s) * emp + s * mu[:, None, None] * eye


def _sqrtm_inv(C: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(C)
    return (V / np.sqrt(w)) @ V.T


class XdawnTSNet(nn.Module):
    """EEGNet-8,2 plus an xDAWN-covariance tangent-space branch, one output logit.

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    n_times : int
        Samples per epoch (after any decimation).
    sfreq : float
        Sampling rate of the input in Hz (sets the EEGNet kernel and pooling sizes).
    n_filters : int
        xDAWN filters per class (at most ``n_chans``).
    dropout : float
        Dropout probability of both branches.
    conv : bool
        Include the convolutional (EEGNet) branch; ``False`` leaves a tangent-space
        logistic regression trained by gradient descent.
    warm_start : bool
        Initialise the linear head with the logistic regression of the training features
        (in :meth:`fit_fixed`); ``False`` starts it at zero.
    ts_dropout : float | None
        Dropout on the tangent-space features; ``None`` uses ``dropout``.
    zero_conv : bool
        Start the convolutional branch's output layer at zero (the network's initial
        output is then the Riemannian branch alone).

    Input shape ``(batch, n_chans, n_times)``; output shape ``(batch,)`` (logits).
    :meth:`fit_fixed` must be called on training epochs before training.
    """

    def __init__(self, n_chans: int, n_times: int, sfreq: float, n_filters: int = 4,
                 dropout: float = 0.5, conv: bool = True, warm_start: bool = True,
                 ts_dropout: float | None = None, zero_conv: bool = False):
        super().__init__()
        nf = 2 * min(int(n_filters), n_chans)  # filters of both classes
        self.n_filters = min(int(n_filters), n_chans)
        self.warm_start = bool(warm_start)
        n_comp = 2 * nf
        n_ts = n_comp * (n_comp + 1) // 2
        self.register_buffer("filters", torch.zeros(nf, n_chans))
        self.register_buffer("protos", torch.zeros(nf, n_times))
        self.register_buffer("ref_isqrt", torch.eye(n_comp))
        self.register_buffer("ts_mean", torch.zeros(n_ts))
        iu = torch.triu_indices(n_comp, n_comp)
        self.register_buffer("iu0", iu[0], persistent=False)
        self.register_buffer("iu1", iu[1], persistent=False)
        w = torch.where(iu[0] == iu[1], 1.0, float(np.sqrt(2.0)))
        self.register_buffer("ts_weight", w, persistent=False)
        self.ts_drop = nn.Dropout(dropout if ts_dropout is None else ts_dropout)
        self.ts_linear = nn.Linear(n_ts, 1)
        nn.init.zeros_(self.ts_linear.weight)
        nn.init.zeros_(self.ts_linear.bias)
        self.conv = EEGNet(n_chans, n_times, sfreq, dropout=dropout) if conv else None
        if self.conv is not None and zero_conv:
            nn.init.zeros_(self.conv.classifier.weight)
            nn.init.zeros_(self.conv.classifier.bias)

    def _tangent(self, x):
        xf = torch.einsum("fc,bct->bft", self.filters, x)
        z = torch.cat([self.protos.unsqueeze(0).expand(x.shape[0], -1, -1), xf], dim=1)
        c = ledoit_wolf_torch(z)
        s = self.ref_isqrt @ c @ self.ref_isqrt
        s = 0.5 * (s + s.transpose(1, 2))
        w, v = torch.linalg.eigh(s)
        log_s = (v * torch.log(w.clamp_min(1e-10)).unsqueeze(1)) @ v.transpose(1, 2)
        return log_s[:, self.iu0, self.iu1] * self.ts_weight

    def tangent_features(self, x):
        """Centred tangent-space features, shape (batch, n_features).

        Centred only, not scaled per feature: per-feature standardisation inflates the
        low-variance (noisy) directions of the tangent space and costs accuracy.
        """
        return self._tangent(x) - self.ts_mean

    @torch.no_grad()
    def fit_fixed(self, X: np.ndarray, y: np.ndarray) -> XdawnTSNet:
        """Fit the fixed (non-trained) xDAWN filters, prototypes, reference point and
        feature standardisation on training epochs.

        Parameters
        ----------
        X : array, shape (n_epochs, n_chans, n_times)
            Training epochs as the network sees them.
        y : array of bool, shape (n_epochs,)
            Targets.
        """
        from pyriemann.estimation import XdawnCovariances
        try:
            from pyriemann.geometry.mean import mean_riemann
        except ImportError:  # pyriemann < 0.12
            from pyriemann.utils.mean import mean_riemann

        X64 = np.asarray(X, np.float64)
        xc = XdawnCovariances(nfilter=self.n_filters, estimator="lwf")
        covs = xc.fit_transform(X64, np.asarray(y).astype(int))
        dtype = self.filters.dtype
        self.filters.copy_(torch.as_tensor(xc.Xd_.filters_, dtype=dtype))
        self.protos.copy_(torch.as_tensor(xc.P_, dtype=dtype))
        self.ref_isqrt.copy_(torch.as_tensor(_sqrtm_inv(mean_riemann(covs)), dtype=dtype))
        feats = torch.cat([self._tangent(torch.as_tensor(X[i:i + 512], dtype=dtype))
                           for i in range(0, len(X), 512)])
        self.ts_mean.copy_(feats.mean(0))
        if self.warm_start:
            from sklearn.linear_model import LogisticRegression

            z = (feats - self.ts_mean).double().numpy()
            lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
            lr.fit(z, np.asarray(y).astype(int))
            self.ts_linear.weight.copy_(torch.as_tensor(lr.coef_, dtype=dtype))
            self.ts_linear.bias.copy_(torch.as_tensor(lr.intercept_, dtype=dtype))
        return self

    def forward(self, x):
        # covariances, eigendecomposition and log in full precision (also under CUDA AMP)
        with torch.autocast(device_type=x.device.type, enabled=False):
            feats = self.tangent_features(x.to(self.filters.dtype))
        out = self.ts_linear(self.ts_drop(feats)).squeeze(1)
        if self.conv is not None:
            out = out + self.conv(x)
        return out
