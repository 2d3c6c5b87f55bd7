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
"""

from __future__ import annotations

import datetime
import inspect
import math
import pickle
import platform
from pathlib import Path

import numpy as np

from neurospell import __version__
from neurospell.check import NeurospellError, ProvenanceError, check_fname, validate_type
from neurospell.config import section_to_dict
from neurospell.fileio import atomic_write, file_sha256
from neurospell.logs import logger, use_log_level
from neurospell.types import EpochBatch

from .likelihood import CharacterEvidence, ScoreModel

__all__ = ["BaseDecoder", "FORMAT_VERSION", "group_folds", "roc_auc", "file_sha256",
           "training_overlap", "amplitude_stats"]

FORMAT_VERSION = 1
_MAGIC = "neurospell-decoder"
_FILTER_KEYS = ("l_freq", "h_freq", "phase", "filter_order", "notch", "reference", "baseline")
#: refuse input whose robust amplitude differs from the training amplitude by more than this
#: factor either way (EEG amplitude varies by a few times between people and sessions; unit
#: mix-ups are factors of 1e3 (mV) and 1e6 (uV))
AMPLITUDE_RATIO_LIMIT = 100.0
_UNIT_FACTORS = {3: "millivolts", 6: "microvolts", 9: "nanovolts"}


def roc_auc(targets, scores) -> float:
    """Area under the ROC curve (ties count one half). ``nan`` when one class is absent."""
    y = np.asarray(targets).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def group_folds(groups, n_folds: int) -> list[np.ndarray]:
    """Split epochs into folds by group (character): a list of validation masks.

    Groups are assigned to folds in order of first appearance, round robin, so folds are
    balanced in characters; neighbouring (overlapping) epochs of one character never end up
    on both sides of a split.
    """
    groups = np.asarray(groups)
    uniq = list(dict.fromkeys(groups.tolist()))
    n_folds = max(1, min(int(n_folds), len(uniq)))
    return [np.isin(groups, uniq[k::n_folds]) for k in range(n_folds)]


def training_overlap(decoder: BaseDecoder, paths) -> list[Path]:
    """The recordings among ``paths`` that ``decoder`` was trained on (same content).

    Compares the files' sha256 with the hashes kept in ``decoder.provenance_["training"]
    ["files"]`` (renamed or copied files are found too). Scores of such recordings are
    in-sample: their AUC and accuracy are optimistic.

    Parameters
    ----------
    decoder : BaseDecoder
        A fitted or loaded decoder.
    paths : sequence of path-like
        Recordings to evaluate.

    Returns
    -------
    overlap : list of Path
        The paths whose content was used for training; empty when none was, or when the
        model predates training-file hashes (logged at debug level).
    """
    decoder._check_fitted()
    files = decoder.provenance_.get("training", {}).get("files")
    if not files:
        logger.debug("This %s model records no training-file hashes; cannot tell whether an "
                     "evaluated recording was used for training.", decoder.name)
        return []
    known = {f["sha256"] for f in files if f.get("sha256")}
    return [Path(p) for p in paths if Path(p).is_file() and file_sha256(p) in known]


def amplitude_stats(X) -> dict:
    """Robust amplitude per channel of epochs, for the unit guard.

    Parameters
    ----------
    X : array, shape (n_epochs, n_channels, n_times)
        Epochs in volts.

    Returns
    -------
    stats : dict
        ``median_abs`` (median absolute value per channel, V) and ``std`` (standard
        deviation per channel, V), lists of length n_channels.
    """
    X = np.asarray(X, np.float64)
    return {"median_abs": np.median(np.abs(X), axis=(0, 2)).tolist(),
            "std": X.std(axis=(0, 2)).tolist(), "unit": "V"}


def _amplitude_ratio(X, ref_median_abs) -> float:
    """Median over channels of (median |X| per channel) / (training median |x| per channel);
    ``nan`` when undefined (flat input or flat training channels)."""
    ref = np.asarray(ref_median_abs, np.float64)
    cur = np.median(np.abs(np.asarray(X, np.float64)), axis=(0, 2))
    ok = (ref > 0) & (cur > 0) & np.isfinite(ref)
    if not ok.any():
        return float("nan")
    return float(np.median(cur[ok] / ref[ok]))


def _unit_hint(ratio: float) -> str:
    decades = math.log10(ratio)
    k = int(round(decades / 3.0)) * 3
    # name a unit factor only when the ratio is within about 5x of it
    name = _UNIT_FACTORS.get(abs(k)) if abs(decades - k) <= 0.75 else None
    if name is None:
        return ("That is no known unit factor (1e3, 1e6, 1e9): check the amplifier gain, "
                "the scaling of the data and the recording's declared channel units.")
    if k > 0:
        return (f"That is about the factor between volts and {name} (1e{k}): the input is "
                f"probably in {name} where volts are expected (a stream or file whose unit was "
                "not declared or not converted); convert it to volts (check the recording's or "
                "LSL stream's declared channel units).")
    return (f"That is about the factor between volts and {name} (1e{k}): the input was "
            f"probably converted from {name} to volts although it already was in volts (or "
            f"the model was trained on data in {name}); check the recording's or LSL stream's "
            "declared channel units.")


def _trials_or_blocks(batch: EpochBatch, n_blocks: int = 5) -> np.ndarray:
    if batch.trials is not None:
        return np.asarray(batch.trials)
    logger.warning(
        "EpochBatch.trials is None: splitting by contiguous blocks of epochs instead of by "
        "character for validation and calibration."
    )
    n = len(batch)
    return np.minimum((np.arange(n) * n_blocks) // max(n, 1), n_blocks - 1)


def _ids(groups) -> list:
    """Sorted unique group (character) ids as plain Python values."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.unique(groups)]


def _versions() -> dict:
    import sklearn

    out = {"neurospell": __version__, "numpy": np.__version__,
           "scikit-learn": sklearn.__version__, "python": platform.python_version()}
    for mod in ("torch", "pyriemann", "scipy"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:  # pragma: no cover
            pass
    return out


def _preprocess_dict(preprocess) -> dict:
    if preprocess is None:
        return {}
    if isinstance(preprocess, dict):
        d = dict(preprocess)
    else:
        d = section_to_dict(preprocess)
    out = {}
    for k, v in d.items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _norm(v):
    if isinstance(v, (tuple, list)):
        return [_norm(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return round(float(v), 9)
    if isinstance(v, np.integer):
        return int(v)
    return v


class BaseDecoder:
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
            sources=None, verbose=None) -> BaseDecoder:
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
            files = [{"name": Path(p).name,
                      "sha256": file_sha256(p) if Path(p).is_file() else None}
                     for p in ([] if sources is None else sources)]
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
            self.provenance_["amplitude"] = amplitude_stats(X)
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

    def _make_provenance(self, batch: EpochBatch, preprocess, extra) -> dict:
        prep = _preprocess_dict(preprocess)
        y = np.asarray(batch.targets, bool)
        training = {
            "n_epochs": int(len(batch)),
            "n_targets": int(y.sum()),
            "n_characters": int(len(np.unique(batch.trials))) if batch.trials is not None else None,
        }
        if extra is not None:
            training["extra_n_epochs"] = int(len(extra))
            training["extra_n_targets"] = int(np.asarray(extra.targets, bool).sum())
        return {
            "decoder": self.name,
            "ch_names": list(batch.ch_names),
            "sfreq": float(batch.sfreq),
            "tmin": float(batch.tmin),
            "n_times": int(batch.n_times),
            "tmax": float(batch.tmin + (batch.n_times - 1) / batch.sfreq),
            "preprocessing": prep,
            "decimation": self._decimation_info(),
            "training": training,
            "heldout_auc": float(self.heldout_auc_),
            "versions": _versions(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

    def _decimation_info(self) -> dict:
        return {}

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
        return X

    def _check_amplitude(self, X) -> None:
        """Refuse epochs whose robust amplitude is implausible for the training scale."""
        ref = self.provenance_.get("amplitude")
        if ref is None:
            if not getattr(self, "_amplitude_unchecked", False):
                logger.debug("This %s model records no training amplitude (saved by an older "
                             "version); the input amplitude is not checked.", self.name)
                self._amplitude_unchecked = True
            return
        if not len(X):
            return
        ratio = _amplitude_ratio(X, ref["median_abs"])
        if not np.isfinite(ratio):
            return
        limit = AMPLITUDE_RATIO_LIMIT
        if 1.0 / limit <= ratio <= limit:
            return
        train = float(np.median(ref["median_abs"]))
        raise ProvenanceError(
            f"The epochs' amplitude is about {ratio:.1e} times the amplitude this "
            f"{self.name} model was trained on (median |x| {ratio * train:.2e} vs {train:.2e} "
            f"V; normal variation stays within {limit:g}x either way). "
            + _unit_hint(ratio)
        )

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

    # --- provenance ---------------------------------------------------------------------
    def check_compatible(self, batch: EpochBatch | None = None, preprocess=None) -> None:
        """Raise :class:`ProvenanceError` if a pipeline differs from the training one.

        Parameters
        ----------
        batch : EpochBatch | None
            Compared on channel names (and order), sampling rate, ``tmin`` and samples per epoch.
        preprocess : PreprocessConfig | dict | None
            Compared on band, filter phase/order, notch, reference, baseline, resampling and
            epoch window, for the keys recorded at training time.
        """
        self._check_fitted()
        prov = self.provenance_
        diffs = []
        if batch is not None:
            if tuple(batch.ch_names) != tuple(prov["ch_names"]):
                diffs.append(f"channels: model {prov['ch_names']} vs pipeline {list(batch.ch_names)}")
            if not math.isclose(batch.sfreq, prov["sfreq"], rel_tol=1e-6):
                diffs.append(f"sampling rate: model {prov['sfreq']} Hz vs pipeline {batch.sfreq} Hz")
            if not math.isclose(batch.tmin, prov["tmin"], abs_tol=1e-6):
                diffs.append(f"epoch tmin: model {prov['tmin']} s vs pipeline {batch.tmin} s")
            if batch.n_times != prov["n_times"]:
                diffs.append(f"samples per epoch: model {prov['n_times']} vs pipeline {batch.n_times}")
        if preprocess is not None:
            new = _preprocess_dict(preprocess)
            old = prov.get("preprocessing", {})
            for key in (*_FILTER_KEYS, "resample_sfreq", "tmin", "tmax"):
                if key in old and key in new and _norm(old[key]) != _norm(new[key]):
                    diffs.append(f"{key}: model {old[key]!r} vs pipeline {new[key]!r}")
        if diffs:
            raise ProvenanceError(
                f"This {prov['decoder']} model was trained for another pipeline; it differs in "
                + "; ".join(diffs)
                + ". Retrain it (neurospell train) on recordings made with this pipeline, or "
                "use the configuration it was trained with."
            )

    # --- persistence --------------------------------------------------------------------
    def save(self, fname, *, overwrite: bool = True) -> None:
        """Write the fitted decoder with its provenance and score model to ``fname``.

        The file is a pickle: load only models you (or your lab) made.
        """
        self._check_fitted()
        path = check_fname(fname, "fname", must_exist=False, overwrite=overwrite)
        payload = {
            "magic": _MAGIC,
            "format_version": FORMAT_VERSION,
            "decoder": self.name,
            "params": self.get_params(),
            "shape": {"sfreq": self.sfreq_, "n_chans": self.n_chans_, "n_times": self.n_times_},
            "state": self._get_state(),
            "score_model": self.score_model_.to_dict(),
            "heldout_auc": self.heldout_auc_,
            "provenance": self.provenance_,
        }
        with atomic_write(path, "wb") as fid:
            pickle.dump(payload, fid, protocol=pickle.HIGHEST_PROTOCOL)
        logger.info("Saved %s decoder to %s", self.name, path)

    @classmethod
    def _from_payload(cls, payload: dict) -> BaseDecoder:
        self = cls(**payload["params"])
        self.sfreq_ = payload["shape"]["sfreq"]
        self.n_chans_ = payload["shape"]["n_chans"]
        self.n_times_ = payload["shape"]["n_times"]
        self._set_state(payload["state"])
        self.score_model_ = ScoreModel.from_dict(payload["score_model"])
        self.heldout_auc_ = payload["heldout_auc"]
        self.provenance_ = payload["provenance"]
        return self

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
