"""Per-recording unsupervised alignment: each recording's epochs re-centred on their own mean.

EEG shifts between people and between sessions of one person (electrode positions,
impedances, head shape, amplifier gain): the spatial covariance of one recording's epochs
sits elsewhere than another's. Aligning each recording on its own epochs, with no label,
puts them all in one frame, so a model pooled over several recordings applies to a new one
as soon as some of its (unlabelled) epochs exist.

Both methods apply a congruence ``X -> W X`` per recording, ``W = M^{-1/2}``, where ``M`` is
a mean of the recording's epoch covariance matrices ``C_i = X_i X_i^T / n_times``:

- ``"riemann"``: ``M`` is their Riemannian (affine-invariant) mean. The aligned covariances
  ``W C_i W`` then have the identity as Riemannian mean: the re-centering of Zanini et al.
  (2018, IEEE TBME 65(5)), done on the signals so that the pipeline after it (xDAWN
  filters, super-trial covariances, tangent space) is learnt in the common re-centred frame
  and a live epoch costs one matrix product. Used by ``xdawncov-ts-lr``.
- ``"euclidean"``: ``M`` is their arithmetic mean: Euclidean alignment (He & Wu 2019, IEEE
  TBME 67(2)), the analogue for networks and linear models, whose input is the signal
  itself; the aligned covariances have the identity as arithmetic mean.

A congruence by a mixing ``A`` of the channels (``X -> A X``) moves ``M`` to ``A M A^T``, so
the alignment undoes any such shift up to a rotation. Labels are never read: the reference
of a recording is a function of its epochs alone.

:class:`AlignmentMixin` gives :class:`~neurospell.decoder.base.BaseDecoder` the fit-time
alignment (one reference per training recording, ``EpochBatch.recording``) and the
scoring-time one (:meth:`AlignmentMixin.align_to` on the recording to score).
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError, check_option
from neurospell.logs import logger
from neurospell.types import EpochBatch

__all__ = ["METHODS", "epoch_covariances", "mean_riemann", "reference", "reference_of_covariances",
           "alignment_matrix", "ONLINE_REFRESH",
           "align_recordings", "apply_alignment", "AlignmentMixin"]

METHODS = ("riemann", "euclidean")

#: Online alignment (:meth:`AlignmentMixin.align_online`): the reference is recomputed after
#: each of a stream's first ``ONLINE_REFRESH`` epochs, then after every ``ONLINE_REFRESH``-th
#: (once per row/column repetition of a 6 x 6 grid).
ONLINE_REFRESH = 12


def epoch_covariances(X) -> np.ndarray:
    """Spatial covariance of each epoch, ``X_i X_i^T / n_times`` (float64, shape (n, c, c))."""
    X = np.asarray(X, np.float64)
    return np.einsum("nct,ndt->ncd", X, X) / X.shape[2]


def _powm(M, p):
    """``M ** p`` of symmetric positive-definite matrices (batched, by eigendecomposition)."""
    w, V = np.linalg.eigh(M)
    w = np.maximum(w, np.finfo(np.float64).tiny)
    return (V * w[..., None, :] ** p) @ np.swapaxes(V, -1, -2)


def _logm(M):
    w, V = np.linalg.eigh(M)
    return (V * np.log(np.maximum(w, np.finfo(np.float64).tiny))[..., None, :]) @ np.swapaxes(V, -1, -2)


def _expm(M):
    w, V = np.linalg.eigh(M)
    return (V * np.exp(w)[..., None, :]) @ np.swapaxes(V, -1, -2)


def mean_riemann(C, *, tol: float = 1e-9, max_iter: int = 100) -> np.ndarray:
    """Riemannian (affine-invariant, Karcher) mean of SPD matrices by fixed-point iteration.

    Starts from the log-Euclidean mean and iterates ``M <- M^{1/2} exp(mean log(M^{-1/2} C_i
    M^{-1/2})) M^{1/2}`` (the gradient step of Moakher 2005 / pyRiemann's ``mean_riemann``)
    until the step's Frobenius norm is below ``tol``.

    Parameters
    ----------
    C : array, shape (n_matrices, n, n)
    tol : float
    max_iter : int

    Returns
    -------
    M : array, shape (n, n)
    """
    C = np.asarray(C, np.float64)
    M = _expm(_logm(C).mean(axis=0))
    for _ in range(max_iter):
        s, si = _powm(M, 0.5), _powm(M, -0.5)
        step = _logm(si @ C @ si).mean(axis=0)
        M = s @ _expm(step) @ s
        if np.linalg.norm(step) < tol:
            break
    return (M + M.T) / 2


def reference(X, method: str = "riemann") -> np.ndarray:
    """A recording's reference: the mean of its epochs' spatial covariances.

    Parameters
    ----------
    X : array, shape (n_epochs, n_channels, n_times)
        All (unlabelled) epochs of one recording.
    method : ``"riemann"`` | ``"euclidean"``
        Riemannian or arithmetic mean.
    """
    check_option("alignment method", method, METHODS)
    X = np.asarray(X)
    if X.ndim != 3 or len(X) < 1:
        raise NeurospellError(
            f"Alignment needs epochs of shape (n_epochs, n_channels, n_times) with at least one "
            f"epoch, got shape {X.shape}.")
    return reference_of_covariances(epoch_covariances(X), method)


def reference_of_covariances(C, method: str = "riemann") -> np.ndarray:
    """:func:`reference` from the epochs' spatial covariances, shape (n_epochs, n, n)."""
    C = np.asarray(C, np.float64)
    scale = np.trace(C, axis1=1, axis2=2).mean() / C.shape[1]
    if not np.isfinite(scale) or scale <= 0:
        raise NeurospellError("Alignment: the epochs are flat (zero power); cannot align them.")
    C = C + 1e-10 * scale * np.eye(C.shape[1])  # keeps a rank-deficient channel set invertible
    return mean_riemann(C) if method == "riemann" else C.mean(axis=0)


def alignment_matrix(X, method: str = "riemann") -> np.ndarray:
    """``W = M^{-1/2}`` for the recording whose epochs are ``X`` (see :func:`reference`)."""
    return _powm(reference(X, method), -0.5)


def apply_alignment(W, X) -> np.ndarray:
    """``W X`` for every epoch (float32, like the decoders' input)."""
    return np.einsum("cd,ndt->nct", np.asarray(W, np.float64), np.asarray(X, np.float64)).astype(np.float32)


def align_recordings(X, recording, method: str = "riemann") -> tuple[np.ndarray, dict]:
    """Align each recording of a pooled array on its own epochs.

    Parameters
    ----------
    X : array, shape (n_epochs, n_channels, n_times)
    recording : array of int, shape (n_epochs,)
        Which recording each epoch came from.
    method : ``"riemann"`` | ``"euclidean"``

    Returns
    -------
    X_aligned : array, shape (n_epochs, n_channels, n_times)
    matrices : dict
        Recording id -> its alignment matrix ``W``.
    """
    recording = np.asarray(recording)
    out = np.empty(np.shape(X), np.float32)
    mats = {}
    for r in np.unique(recording):
        m = recording == r
        mats[int(r)] = alignment_matrix(X[m], method)
        out[m] = apply_alignment(mats[int(r)], X[m])
    return out, mats


class AlignmentMixin:
    """Per-recording alignment of a decoder's input (a mixin of :class:`~.base.BaseDecoder`).

    ``alignment_method`` (class attribute) names the method. After ``fit(batch, align=...)``:
    ``align_`` says whether the model aligns; if it does, every recording it scores must be
    aligned first with :meth:`align_to` on that recording's unlabelled epochs (a model fitted
    on one recording starts aligned on it). State saved with the model: ``align_``, the
    current target matrix ``alignment_target_`` and a description of its source.
    """

    alignment_method: str = "euclidean"

    @property
    def aligns(self) -> bool:
        """Whether this model aligns each recording on its own epochs before scoring."""
        return bool(getattr(self, "align_", False))

    def _fit_alignment(self, batch: EpochBatch, X, extra, align):
        """Decide whether to align, align ``X`` (and ``extra``) per recording; return them."""
        rec = np.zeros(len(batch), np.int64) if batch.recording is None else np.asarray(batch.recording)
        n_rec = int(len(np.unique(rec)))
        if align not in ("auto", True, False):
            raise NeurospellError(f"align must be 'auto', True or False, got {align!r}.")
        self.align_ = bool(n_rec > 1) if align == "auto" else bool(align)
        self.alignment_target_, self.alignment_source_ = None, None
        self._alignment_info = {"aligned": self.align_, "n_recordings": n_rec, "labels_used": False}
        if not self.align_:
            return X, extra
        self._alignment_info["method"] = self.alignment_method
        X, mats = align_recordings(X, rec, self.alignment_method)
        if n_rec == 1:
            self.alignment_target_ = next(iter(mats.values()))
            self.alignment_source_ = "the training recording"
        if extra is not None:
            erec = np.zeros(len(extra), np.int64) if extra.recording is None else extra.recording
            Xe, _ = align_recordings(extra.data, erec, self.alignment_method)
            extra = EpochBatch(Xe, extra.codes, extra.onsets, extra.tmin, extra.sfreq,
                               extra.ch_names, extra.targets, extra.trials, extra.recording)
        logger.info("aligned %d recording(s) on their own epochs (%s, no labels used)", n_rec,
                    self.alignment_method)
        return X, extra

    def align_to(self, epochs, *, source: str | None = None):
        """Align the model on one recording's unlabelled epochs before scoring it.

        Parameters
        ----------
        epochs : EpochBatch | array, shape (n_epochs, n_channels, n_times)
            Epochs of the recording about to be scored (labels, if any, are not read); the
            more, the better the reference (a few hundred flashes suffice).
        source : str | None
            What they are (a file name), kept with the model and shown in messages.

        Returns
        -------
        self
        """
        self._check_fitted()
        if not self.aligns:
            raise NeurospellError(
                f"This {self.name} model was trained without alignment (align=False); there is "
                "nothing to align. Retrain it on several recordings (alignment is the default) "
                "to use align_to.")
        if isinstance(epochs, EpochBatch):
            self.check_compatible(epochs)
            epochs = epochs.data
        X = np.asarray(epochs, np.float32)
        if X.ndim != 3 or X.shape[1:] != (self.n_chans_, self.n_times_):
            raise NeurospellError(
                f"align_to: epochs must have shape (n_epochs, {self.n_chans_}, {self.n_times_}), "
                f"got {X.shape}.")
        self._check_amplitude(X)
        self.alignment_target_ = alignment_matrix(X, self.alignment_method)
        self.alignment_source_ = f"{len(X)} unlabelled epochs" + (f" of {source}" if source else "")
        return self

    def align_online(self) -> None:
        """Align on the stream being scored, as its epochs come (a live session, its replay).

        From now on each epoch scored is aligned on the unlabelled epochs scored so far,
        itself included (causal; labels never read): the reference (:func:`reference` of their
        covariances) is recomputed after each of the first :data:`ONLINE_REFRESH` epochs, then
        after every :data:`ONLINE_REFRESH`-th. The state is the scoring order alone, so a
        replay that scores the same epochs in the same order aligns them identically. It is
        not saved with the model (a saved model starts the next stream afresh: another
        session is another recording) and never touches :attr:`alignment_target_`.
        """
        if not self.aligns:
            raise NeurospellError(f"This {self.name} model does not align; there is nothing to align online.")
        self._online = {"covs": [], "W": None}

    @property
    def aligns_online(self) -> bool:
        """Whether :meth:`align_online` is on (a stream is being aligned as it comes)."""
        return getattr(self, "_online", None) is not None

    def _align_online(self, X):
        st = self._online
        out = np.empty(X.shape, np.float32)
        for i in range(len(X)):
            st["covs"].append(epoch_covariances(X[i:i + 1])[0])
            n = len(st["covs"])
            if st["W"] is None or n <= ONLINE_REFRESH or n % ONLINE_REFRESH == 0:
                st["W"] = _powm(reference_of_covariances(np.stack(st["covs"]), self.alignment_method), -0.5)
            out[i] = apply_alignment(st["W"], X[i:i + 1])[0]
        return out

    def _align_input(self, X):
        if not self.aligns:
            return X
        if self.aligns_online:
            return self._align_online(X)
        W = getattr(self, "alignment_target_", None)
        if W is None:
            raise NeurospellError(
                f"This {self.name} model aligns each recording on its own unlabelled epochs "
                f"({self.alignment_method} alignment, trained on "
                f"{self.provenance_.get('alignment', {}).get('n_recordings', 'several')} recordings); "
                "align it on the recording to score first: decoder.align_to(epochs) "
                "(`neurospell evaluate` does so), or on a stream as it comes: decoder.align_online() "
                "(a live session does so).")
        return apply_alignment(W, X)

    def _alignment_state(self) -> dict:
        return {"align": self.aligns, "method": self.alignment_method,
                "target": getattr(self, "alignment_target_", None),
                "target_source": getattr(self, "alignment_source_", None)}

    def _set_alignment_state(self, state: dict | None) -> None:
        state = state or {}
        self.align_ = bool(state.get("align", False))
        self.alignment_target_ = state.get("target")
        self.alignment_source_ = state.get("target_source")
