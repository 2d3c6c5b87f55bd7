"""Saving a fitted decoder: one pickled payload with its state, score model and provenance.

:class:`DecoderPersistence` is a mixin of :class:`~neurospell.decoder.base.BaseDecoder`;
:func:`neurospell.decoder.load_decoder` reads the files it writes.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

from neurospell.check import check_fname
from neurospell.fileio import atomic_write
from neurospell.logs import logger

from .likelihood import ScoreModel

if TYPE_CHECKING:
    from .base import BaseDecoder

__all__ = ["DecoderPersistence", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MAGIC = "neurospell-decoder"


class DecoderPersistence:
    """Save and restore a fitted decoder (a mixin of :class:`~.base.BaseDecoder`).

    Uses the decoder's parameters (``get_params``), shape, ``_get_state`` /
    ``_set_state``, ``score_model_``, ``heldout_auc_`` and ``provenance_``.
    """

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
        if self.aligns:  # files of models that do not align stay as before
            payload["alignment"] = self._alignment_state()
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
        self._set_alignment_state(payload.get("alignment"))
        return self
