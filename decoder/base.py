"""The decoder contract shared by every registered decoder, with provenance and persistence.

Every decoder follows scikit-learn conventions: ``__init__`` only stores parameters,
:meth:`BaseDecoder.fit` takes an :class:`~neurospell.types.EpochBatch` with targets and
returns ``self``, learned state ends in ``_``. After ``fit`` a decoder also holds

- ``score_model_``: a :class:`~neurospell.decoder.likelihood.ScoreModel` fitted on held-out
  decision scores (cross-validated by character), for flash -> character likelihoods;
- ``heldout_auc_``: the ROC AUC of those held-out scores (outer folds only: characters that
  the scoring model never saw, neither for training nor for early stopping);
- ``provenance_``: the channel names, sampling rate, epoch window, filter band,
  decimation, a training-data summary (with the character ids of every split and, when
  ``fit`` is given the ``sources``, the training files' sha256), the training epochs' robust
  amplitude per channel and software versions. Scoring a batch, or loading the model for a
  pipeline, that differs raises :class:`~neurospell.check.ProvenanceError`; so does input
  whose amplitude is implausible for the training scale (a unit mix-up, volts vs
  microvolts or millivolts).

The provenance and its checks are in :mod:`.provenance`, saving in :mod:`.persistence`
(both mixins of :class:`BaseDecoder`), the character folds and the ROC AUC in
:mod:`.validation`; their public names are importable from here as before.
"""

from __future__ import annotations

import inspect

import numpy as np

from neurospell.check import NeurospellError, ProvenanceError, validate_type
from neurospell.fileio import file_sha256
from neurospell.logs import logger, use_log_level
from neurospell.types import EpochBatch

from .alignment import AlignmentMixin
from .likelihood import CharacterEvidence, ScoreModel
from .persistence import FORMAT_VERSION, DecoderPersistence
from .provenance import DecoderProvenance, amplitude_stats, source_entry, training_overlap
from .validation import _ids, _trials_or_blocks, group_folds, roc_auc

__all__ = ["BaseDecoder", "FORMAT_VERSION", "group_folds", "roc_auc", "file_sha256",
           "training_overlap", "amplitude_stats"]


class BaseDecoder(AlignmentMixin, DecoderProvenance, DecoderPersistence):
    """Base class of all decoders (see the module docstring for the contract).

    Subclasses implement ``_fit(X, y, groups, extra)`` -> held-out scores or ``None``,
    ``_decision(X)`` -> scores, ``_proba(X)`` -> P(target), ``_get_state()`` and
    ``_set_state(state)``; ``X`` is a float array (n_epochs, n_channels, n_times) in volts.
    """

    #: registry name, set by subclasses
    name: str = ""
    #: kind of held-out-score calibration density
    score_kind: str = "gaussian"

    # --- scikit-learn parameter API ----------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params) -> BaseDecoder:
        allowed = self._param_names()
        for k, v in params.items():
            if k not in allowed:
                raise NeurospellError(
                    f"Invalid parameter {k!r} for {type(self).__name__}. Allowed: {allowed}."
                )
            setattr(self, k, v)
        return self

    def clone(self) -> BaseDecoder:
        """An unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # --- fit / predict -----------------------------------------------------------------
    def fit(self, batch: EpochBatch, preprocess=None, *, extra: EpochBatch | None = None,
            sources=None, align="auto", verbose=None) -> BaseDecoder:
        """Fit the decoder on labelled epochs.

        Parameters
        ----------
        batch : EpochBatch
            Epochs with ``targets`` (and ``trials``, used to split by character for
            validation and calibration), shape (n_epochs, n_channels, n_times), volts.
        preprocess : PreprocessConfig | dict | None
            The preprocessing that produced ``batch`` (filter band, reference...), recorded
            in the provenance and checked when the model is loaded into a pipeline.
        extra : EpochBatch | None
            Additional labelled epochs from other recordings (e.g. other participants), used
            by decoders that support pre-training; ignored by the others. They must have the
            same channels, sampling rate and window.
        sources : sequence of path-like | None
            The recording files ``batch`` was read from; their names and sha256 are kept in
            the provenance so that evaluating on a training recording can be detected
            (:func:`training_overlap`).
        align : ``"auto"`` | bool
            Align each recording (``batch.recording``) on its own epochs, no labels used
            (:mod:`.alignment`; the method is the class's ``alignment_method``). ``"auto"``:
            when ``batch`` holds several recordings. An aligned model scores a recording
            after :meth:`align_to` on it.
        verbose : bool | str | int | None
            Log level for this call.

        Returns
        -------
        self : BaseDecoder
        """
        with use_log_level(verbose):
            validate_type(batch, EpochBatch, "batch")
            if batch.targets is None:
                raise NeurospellError(
                    "fit: the EpochBatch has no targets; training needs labelled (calibration) epochs."
                )
            y = np.asarray(batch.targets, dtype=bool)
            if y.sum() < 2 or (~y).sum() < 2:
                raise NeurospellError(
                    f"fit: need at least 2 target and 2 non-target epochs, got {int(y.sum())} "
                    f"targets and {int((~y).sum())} non-targets."
                )
            X = np.asarray(batch.data, dtype=np.float32)
            if not np.all(np.isfinite(X)):
                raise NeurospellError("fit: the epochs contain NaN or infinite values.")
            if extra is not None:
                validate_type(extra, EpochBatch, "extra")
                if extra.targets is None:
                    raise NeurospellError("fit: extra epochs must have targets.")
                if (extra.ch_names, extra.sfreq, extra.n_times) != (batch.ch_names, batch.sfreq, batch.n_times):
                    raise NeurospellError(
                        "fit: extra epochs must have the same channels, sampling rate and number "
                        f"of samples as batch, got {extra.ch_names}@{extra.sfreq} Hz x {extra.n_times} "
                        f"vs {batch.ch_names}@{batch.sfreq} Hz x {batch.n_times}."
                    )
            groups = _trials_or_blocks(batch)
            X_raw = X
            X, extra = self._fit_alignment(batch, X, extra, align)
            files = [source_entry(p) for p in ([] if sources is None else sources)]
            self.sfreq_ = float(batch.sfreq)
            self.n_chans_ = batch.n_channels
            self.n_times_ = batch.n_times
            self._calibration = None
            heldout = self._fit(X, y, groups, extra)
            if heldout is None:
                heldout = self._crossval_scores(X, y, groups)
            mask = np.isfinite(heldout)
            self.score_model_ = ScoreModel(self.score_kind).fit(heldout[mask], y[mask])
            self.heldout_auc_ = roc_auc(y[mask], heldout[mask])
            # the held-out scores themselves (not saved): the session layer chooses the LM weight on them
            self.heldout_scores_, self.heldout_targets_ = heldout[mask], y[mask]
            calibration = self._calibration or {}
            calibration.setdefault("unit", "character" if batch.trials is not None
                                   else "block of epochs")
            calibration["scored_characters"] = _ids(groups[mask])
            self._calibration = None
            self.provenance_ = self._make_provenance(batch, preprocess, extra)
            self.provenance_["training"]["calibration"] = calibration
            self.provenance_["training"]["files"] = files
            self.provenance_["amplitude"] = amplitude_stats(X_raw)
            self.provenance_["alignment"] = self._alignment_info
            logger.info("%s fitted: held-out AUC %.3f, %r", self.name, self.heldout_auc_,
                        self.score_model_)
        return self

    def _crossval_scores(self, X, y, groups, n_folds: int = 5) -> np.ndarray:
        """Held-out decision scores by character folds (refits clones).

        For decoders without early stopping or other selection on validation data (the
        classical pipelines): each clone is fitted on the other folds' characters only, so
        its scores on its fold are honest; the deployed model is then fitted on all
        characters (as scikit-learn's ``CalibratedClassifierCV(ensemble=False)``). With the
        same hyper-parameters and about ``n_folds / (n_folds - 1)`` times more data, the
        deployed model separates the classes at least as well as the clones, so the score
        model is, if anything, conservative. The split is recorded in
        ``provenance_["training"]["calibration"]``.
        """
        out = np.full(len(y), np.nan)
        folds = group_folds(groups, n_folds)
        fold_groups = groups
        if len(folds) < 2:
            fold_groups = np.minimum(np.arange(len(y)) * 5 // len(y), 4)
            folds = group_folds(fold_groups, 5)
        record = []
        for val in folds:
            if y[~val].sum() < 2 or (~y[~val]).sum() < 2:
                continue
            est = self.clone()
            est.sfreq_, est.n_chans_, est.n_times_ = self.sfreq_, self.n_chans_, self.n_times_
            est._fit(X[~val], y[~val], groups[~val], None)
            out[val] = est._decision(X[val])
            record.append({"heldout": _ids(groups[val]), "train": _ids(groups[~val]),
                           "early_stopping": []})
        self._calibration = {
            "scheme": "cross-validation by character; deployed model fitted on all characters",
            "unit": "character" if fold_groups is groups else "block of epochs",
            "folds": record,
        }
        return out

    def _check_fitted(self):
        if not hasattr(self, "provenance_"):
            raise NeurospellError(
                f"This {type(self).__name__} is not fitted yet; call fit(batch) or load a saved model."
            )

    def _as_array(self, X) -> np.ndarray:
        self._check_fitted()
        if isinstance(X, EpochBatch):
            self.check_compatible(X)
            X = X.data
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[1:] != (self.n_chans_, self.n_times_):
            raise ProvenanceError(
                f"Epochs must have shape (n_epochs, {self.n_chans_}, {self.n_times_}) for this "
                f"{self.name} model, got {X.shape}. Use the channels and epoch window it was trained with."
            )
        if not np.all(np.isfinite(X)):
            raise NeurospellError("The epochs contain NaN or infinite values.")
        self._check_amplitude(X)
        return self._align_input(X)

    def decision_function(self, X) -> np.ndarray:
        """A real score per epoch (higher = more target-like).

        Parameters
        ----------
        X : EpochBatch | array, shape (n_epochs, n_channels, n_times)
            Epochs in volts. An EpochBatch is checked against the provenance.

        Returns
        -------
        scores : array, shape (n_epochs,)
        """
        X = self._as_array(X)
        if not len(X):
            return np.zeros(0)
        return np.asarray(self._decision(X), dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_epochs, 2): column 0 non-target, column 1 target.

        These are the model's own probabilities (rows sum to 1). For speller evidence use
        the calibrated likelihoods of ``score_model_`` on :meth:`decision_function` instead.
        """
        X = self._as_array(X)
        if not len(X):
            return np.zeros((0, 2))
        p1 = np.clip(np.asarray(self._proba(X), dtype=np.float64), 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])

    def char_evidence(self, layout):
        """A fresh :class:`~neurospell.decoder.likelihood.CharacterEvidence` for ``layout``
        using this decoder's calibrated score model (one per selection; ``reset()`` to reuse).

        Online use: ``ev = dec.char_evidence(layout)``; for each scored batch
        ``ev.add_codes(batch.codes, dec.decision_function(batch))``; ``ev.distribution(prior)``.
        """
        self._check_fitted()
        return CharacterEvidence(layout, self.score_model_)

    def predict(self, X) -> np.ndarray:
        """Boolean target prediction per epoch (P(target) > 0.5), shape (n_epochs,)."""
        return self.predict_proba(X)[:, 1] > 0.5

    # --- to implement -------------------------------------------------------------------
    def _fit(self, X, y, groups, extra):  # pragma: no cover - abstract
        raise NotImplementedError

    def _decision(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _proba(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, state):  # pragma: no cover - abstract
        raise NotImplementedError
