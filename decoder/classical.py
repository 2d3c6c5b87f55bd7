"""Classical P300 baselines in the decoder registry (so every comparison runs in one go).

- ``lda``: shrinkage LDA on decimated epochs (Blankertz et al. 2011);
- ``xdawn-lda``: xDAWN spatial filters (Rivet et al. 2009), then shrinkage LDA;
- ``xdawncov-ts-lr``: XdawnCovariances + TangentSpace + logistic regression (pyRiemann;
  the MOABB P300 leader).

Trained on several recordings, each is aligned on its own epochs first (:mod:`.alignment`):
Riemannian re-centering for ``xdawncov-ts-lr``, Euclidean alignment for the LDAs.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from neurospell.check import check_positive

from .base import BaseDecoder

__all__ = ["ShrinkageLDA", "XdawnLDA", "XdawnCovTSLR"]


class _ChannelScaler(BaseEstimator, TransformerMixin):
    """Divide each channel by its standard deviation on the training data (unit-free features)."""

    def fit(self, X, y=None):
        sd = np.asarray(X, np.float64).std(axis=(0, 2))
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return self

    def transform(self, X):
        return np.asarray(X, np.float64) / self.scale_[None, :, None]


class _Decimate(BaseEstimator, TransformerMixin):
    """Block means of ``factor`` samples (a boxcar anti-alias filter), flattened to features."""

    def __init__(self, factor: int = 1):
        self.factor = factor

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X)
        n = X.shape[2] // self.factor
        X = X[:, :, : n * self.factor].reshape(X.shape[0], X.shape[1], n, self.factor).mean(-1)
        return X.reshape(len(X), -1)


def ledoit_wolf_epoch(X) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance of one epoch (n_channels, n_times), in NumPy.

    The estimate of scikit-learn's ``ledoit_wolf(X.T)`` (centred per channel; Ledoit & Wolf
    2004's shrinkage towards ``mu I``) without its input validation, which costs about a
    hundred times the arithmetic for an 8-channel epoch; equal to it within rounding
    (tests/test_alignment.py).
    """
    X = np.asarray(X, np.float64)
    Xc = (X - X.mean(axis=1, keepdims=True)).T  # (n_times, n_channels), as scikit-learn's
    n, p = Xc.shape
    emp = Xc.T @ Xc / n
    X2 = Xc ** 2
    trace = X2.sum(axis=0) / n
    mu = trace.sum() / p
    delta_ = np.sum((Xc.T @ Xc) ** 2) / n ** 2
    beta_ = np.sum(X2.T @ X2)
    beta = 1.0 / (p * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * trace.sum() + p * mu ** 2) / p
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    out = (1.0 - shrinkage) * emp
    out.flat[:: p + 1] += shrinkage * mu
    return out


def _decim_factor(sfreq: float, target: float) -> int:
    return max(1, int(round(sfreq / target)))


class _SklearnDecoder(BaseDecoder):
    """A decoder wrapping a scikit-learn pipeline built by ``_make_pipeline``."""

    def _make_pipeline(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X, y, groups, extra):
        self.pipeline_ = self._make_pipeline().fit(X, y.astype(int))
        return None  # held-out scores by character folds from the base class

    def _decision(self, X):
        return self.pipeline_.decision_function(X)

    def _proba(self, X):
        return self.pipeline_.predict_proba(X)[:, 1]

    def _get_state(self):
        return {"pipeline": self.pipeline_}

    def _set_state(self, state):
        self.pipeline_ = state["pipeline"]


class ShrinkageLDA(_SklearnDecoder):
    """Shrinkage LDA (Ledoit-Wolf) on per-channel-scaled epochs decimated to ``target_sfreq``.

    Parameters
    ----------
    target_sfreq : float
        Sampling rate of the features in Hz (block-mean decimation); 25 Hz keeps the P300
        band (< 12 Hz) and gives 8 x 20 = 160 features for 8 channels and 0.8 s.
    """

    name = "lda"

    def __init__(self, target_sfreq: float = 25.0):
        self.target_sfreq = target_sfreq

    def _decimation_info(self):
        return {"target_sfreq": self.target_sfreq,
                "factor": _decim_factor(self.sfreq_, self.target_sfreq)}

    def _make_pipeline(self):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        check_positive("target_sfreq", self.target_sfreq)
        return make_pipeline(
            _ChannelScaler(),
            _Decimate(_decim_factor(self.sfreq_, self.target_sfreq)),
            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        )


class XdawnLDA(_SklearnDecoder):
    """xDAWN spatial filtering (``n_filters`` per class) then shrinkage LDA on decimated epochs.

    Parameters
    ----------
    n_filters : int
        xDAWN filters per class.
    target_sfreq : float
        Sampling rate of the features in Hz after block-mean decimation.
    """

    name = "xdawn-lda"

    def __init__(self, n_filters: int = 4, target_sfreq: float = 25.0):
        self.n_filters = n_filters
        self.target_sfreq = target_sfreq

    def _decimation_info(self):
        return {"target_sfreq": self.target_sfreq,
                "factor": _decim_factor(self.sfreq_, self.target_sfreq)}

    def _make_pipeline(self):
        from pyriemann.spatialfilters import Xdawn
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            _ChannelScaler(),
            Xdawn(nfilter=int(self.n_filters)),
            _Decimate(_decim_factor(self.sfreq_, self.target_sfreq)),
            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        )


class XdawnCovTSLR(_SklearnDecoder):
    """XdawnCovariances (Ledoit-Wolf) + TangentSpace + logistic regression (pyRiemann).

    Parameters
    ----------
    n_filters : int
        xDAWN filters per class for the super-trial covariance.
    C : float
        Inverse regularisation strength of the logistic regression.
    fast_covariance : bool
        Estimate the super-trial covariances with :func:`ledoit_wolf_epoch` (the same
        Ledoit-Wolf estimate, about ten times faster training) instead of pyRiemann's
        ``"lwf"`` (scikit-learn's, the default; models saved by earlier versions use it).
    """

    name = "xdawncov-ts-lr"
    #: pooled recordings are re-centred (Riemannian mean of each one's covariances -> identity)
    alignment_method = "riemann"

    def __init__(self, n_filters: int = 4, C: float = 1.0, fast_covariance: bool = False):
        self.n_filters = n_filters
        self.C = C
        self.fast_covariance = fast_covariance

    def _make_pipeline(self):
        from pyriemann.estimation import XdawnCovariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            _ChannelScaler(),
            XdawnCovariances(nfilter=int(self.n_filters),
                             estimator=ledoit_wolf_epoch if getattr(self, "fast_covariance", False) else "lwf"),
            TangentSpace(metric="riemann"),
            LogisticRegression(C=float(self.C), max_iter=1000),
        )
