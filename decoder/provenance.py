"""Decoder provenance: what a model was trained on, and the checks that a pipeline matches it.

:class:`DecoderProvenance` is a mixin of :class:`~neurospell.decoder.base.BaseDecoder`: it
records ``provenance_`` at fit time (channels, rate, window, preprocessing, decimation,
training summary, versions) and refuses a pipeline (:meth:`~DecoderProvenance.check_compatible`)
or an input amplitude (a unit mix-up) that differs from the training one.
"""

from __future__ import annotations

import datetime
import math
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neurospell import __version__
from neurospell.check import AmplitudeError, ProvenanceError
from neurospell.config import section_to_dict
from neurospell.fileio import file_sha256
from neurospell.logs import logger
from neurospell.parts import parts_overlap, split_part
from neurospell.types import EpochBatch

if TYPE_CHECKING:
    from .base import BaseDecoder

__all__ = ["DecoderProvenance", "training_overlap", "amplitude_stats", "AMPLITUDE_RATIO_LIMIT"]

_FILTER_KEYS = ("l_freq", "h_freq", "phase", "filter_order", "notch", "reference", "baseline")
#: refuse input whose robust amplitude differs from the training amplitude by more than this
#: factor either way (EEG amplitude varies by a few times between people and sessions; unit
#: mix-ups are factors of 1e3 (mV) and 1e6 (uV))
AMPLITUDE_RATIO_LIMIT = 100.0
_UNIT_FACTORS = {3: "millivolts", 6: "microvolts", 9: "nanovolts"}


def training_overlap(decoder: BaseDecoder, paths) -> list[Path]:
    """The recordings among ``paths`` that ``decoder`` was trained on (same content).

    Compares the files' sha256 with the hashes kept in ``decoder.provenance_["training"]
    ["files"]`` (renamed or copied files are found too); for ``FILE:PART`` selectors, parts
    of one file overlap when they are equal or one of them is the whole file. Scores of such recordings are
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
    known = [(f["sha256"], f.get("part")) for f in files if f.get("sha256")]
    out = []
    for p in paths:
        entry = source_entry(p)
        if entry["sha256"] and any(h == entry["sha256"] and parts_overlap(part, entry.get("part"))
                                   for h, part in known):
            out.append(Path(p))
    return out


def source_entry(path) -> dict:
    """A training source as provenance keeps it: name, sha256 of the file and, for a
    ``FILE:PART`` selector (:mod:`neurospell.parts`), the part."""
    file, part = split_part(path)
    entry = {"name": Path(path).name, "sha256": file_sha256(file) if file.is_file() else None}
    if part is not None:
        entry["part"] = part
    return entry


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


class DecoderProvenance:
    """The provenance of a fitted decoder (a mixin of :class:`~.base.BaseDecoder`).

    Records ``provenance_`` at fit time and checks pipelines and inputs against it; uses
    the decoder's ``name``, ``heldout_auc_``, ``provenance_`` and ``_check_fitted``.
    Subclasses that decimate override ``_decimation_info``.
    """

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
        raise AmplitudeError(
            f"The epochs' amplitude is about {ratio:.1e} times the amplitude this "
            f"{self.name} model was trained on (median |x| {ratio * train:.2e} vs {train:.2e} "
            f"V; normal variation stays within {limit:g}x either way). "
            + _unit_hint(ratio), ratio)

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
