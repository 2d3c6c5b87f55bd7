"""neurospell.decoder: decoders (neural and classical) in one registry, training, and
flash -> character likelihoods.

Every decoder has one contract (:class:`~neurospell.decoder.base.BaseDecoder`):
``fit(EpochBatch)`` -> self, ``predict_proba(X)`` -> (n, 2) with column 1 = target,
``decision_function(X)`` -> (n,), ``save(path)`` / :func:`load_decoder`, plus
``score_model_`` (calibrated score densities for :class:`CharacterEvidence`) and
``provenance_``.
"""

from __future__ import annotations

import pickle

from neurospell.check import NeurospellError, ProvenanceError, check_fname, check_option

from .base import BaseDecoder, file_sha256, group_folds, roc_auc, training_overlap
from .classical import ShrinkageLDA, XdawnCovTSLR, XdawnLDA
from .finetune import fine_tune
from .likelihood import CharacterEvidence, ScoreModel, symbol_log_likelihood
from .neural import EEGInceptionDecoder, EEGNetDecoder, NeuralDecoder, XdawnTSNetDecoder
from .persistence import _MAGIC

#: name -> decoder class. Every entry must have a test case (tests/test_decoder_contract.py).
DECODERS: dict[str, type[BaseDecoder]] = {
    cls.name: cls
    for cls in (EEGNetDecoder, EEGInceptionDecoder, XdawnTSNetDecoder, ShrinkageLDA, XdawnLDA, XdawnCovTSLR)
}

NEURAL_DECODERS = tuple(k for k, c in DECODERS.items() if issubclass(c, NeuralDecoder))


def list_decoders() -> list[str]:
    """Names of the registered decoders."""
    return list(DECODERS)


def make_decoder(name: str, **params) -> BaseDecoder:
    """A new (unfitted) decoder by registry name.

    Parameters
    ----------
    name : str
        One of :func:`list_decoders`.
    **params
        Constructor parameters of that decoder; unknown ones are an error.
    """
    check_option("decoder", name, list(DECODERS))
    cls = DECODERS[name]
    allowed = cls._param_names()
    bad = sorted(set(params) - set(allowed))
    if bad:
        raise NeurospellError(
            f"Invalid parameter(s) {bad} for the {name!r} decoder. Allowed: {allowed}."
        )
    return cls(**params)


def load_decoder(fname, *, batch=None, preprocess=None) -> BaseDecoder:
    """Load a decoder saved with ``save``, checking it against the pipeline.

    Parameters
    ----------
    fname : path-like
        The model file (a pickle: load only models you trust).
    batch : EpochBatch | None
        Epochs from the pipeline the model will score; channels, sampling rate and window
        must match the training ones.
    preprocess : PreprocessConfig | dict | None
        The pipeline's preprocessing configuration; band, filter, reference and window must
        match the training ones.

    Returns
    -------
    decoder : BaseDecoder

    Raises
    ------
    ProvenanceError
        When the pipeline differs from the one the model was trained for (the message says
        what differs).
    """
    path = check_fname(fname, "fname")
    try:
        with open(path, "rb") as fid:
            payload = pickle.load(fid)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
        raise NeurospellError(
            f"{str(path)!r} is not a neurospell decoder file ({type(err).__name__}: {err}). "
            "Train one with `neurospell train`."
        ) from None
    if not isinstance(payload, dict) or payload.get("magic") != _MAGIC:
        raise NeurospellError(
            f"{str(path)!r} is not a neurospell decoder file. Train one with `neurospell train`."
        )
    name = payload["decoder"]
    if name not in DECODERS:
        raise NeurospellError(
            f"{str(path)!r} holds a {name!r} decoder, which this version does not know "
            f"(known: {list(DECODERS)})."
        )
    dec = DECODERS[name]._from_payload(payload)
    if batch is not None or preprocess is not None:
        dec.check_compatible(batch, preprocess)
    return dec


__all__ = [
    "DECODERS", "NEURAL_DECODERS", "BaseDecoder", "NeuralDecoder", "EEGNetDecoder",
    "EEGInceptionDecoder", "XdawnTSNetDecoder", "ShrinkageLDA", "XdawnLDA", "XdawnCovTSLR", "ScoreModel",
    "CharacterEvidence", "symbol_log_likelihood", "list_decoders", "make_decoder",
    "load_decoder", "fine_tune", "roc_auc", "group_folds", "ProvenanceError", "training_overlap", "file_sha256",
]
