"""A session's decoder when online adaptation swaps models between selections.

:class:`SwitchingDecoder` stands where a fitted decoder stands for a spelling run's
:class:`~neurospell.session.drivers.StreamDriver` and :class:`~neurospell.session.engine.SpellerEngine`
(:func:`~neurospell.session.sessionmodels.make_driver`, ``make_engine``). It holds the
session's starting model and the refitted models with the flash from which each applies:
``(run, after)``: from flash index ``after`` (0-based, counted as the run's driver hands
flashes on) of spelling run ``run``. The flash index is the one rule, live and in a replay:

- scoring (``decision_function``): the epoch of flash ``i`` is scored by the model in force
  at ``i`` (the driver scores one epoch per call, in the order it hands flashes on);
- fusion (``score_model_``): a proxy :class:`ScoreModel` gives the engine the likelihoods of
  the model in force at the flash being added (the driver's ``n_flashes`` counts it).

A live session swaps in a model right after a decision, between two selections
(:mod:`~neurospell.session.live.adaptation`), with ``after`` = the flashes its driver has
handed on by then; :func:`refits_of` reads those records back from the decision log, so a
replay switches at the same flashes and reproduces every score and decision bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.decoder import load_decoder
from neurospell.decoder.likelihood import ScoreModel
from neurospell.fileio import file_sha256

from .sessionformat import SessionFolderError

__all__ = ["SwitchingDecoder", "SwitchingScoreModel", "refits_of", "REFIT_RECORD"]

#: The decision-log record type of a refit (see :mod:`~neurospell.session.live.adaptation`).
REFIT_RECORD = "refit"


class SwitchingScoreModel(ScoreModel):
    """The engine's score model: the score model of the decoder in force at the flash added."""

    def __init__(self, owner: SwitchingDecoder):  # (no ScoreModel.__init__: nothing of its own)
        self._owner = owner
        self.kind = "switching"

    def _current(self) -> ScoreModel:
        return self._owner.model_at_flash().score_model_

    def _check_fitted(self):
        self._current()._check_fitted()

    def log_likelihoods(self, scores):
        return self._current().log_likelihoods(scores)

    def llr(self, scores):
        return self._current().llr(scores)

    def __getattr__(self, name):
        if name.startswith("__") or name == "_owner":
            raise AttributeError(name)
        return getattr(self._current(), name)

    def __repr__(self) -> str:
        return f"SwitchingScoreModel({self._current()!r})"


class SwitchingDecoder:
    """A fitted decoder whose model changes at given flashes (see the module docstring).

    Parameters
    ----------
    base : BaseDecoder
        The model the session starts with (its name, provenance and LM weight are the
        session's: the engine's LM weight never changes with a refit).
    switches : sequence of ``(run, after, decoder)``
        Models in force from flash index ``after`` of spelling run ``run`` on, in order.
    """

    def __init__(self, base, switches=()):
        if isinstance(base, SwitchingDecoder):
            raise NeurospellError("SwitchingDecoder: base must be a fitted decoder, not another SwitchingDecoder.")
        self.base = base
        self.switches: list[tuple[int, int, object]] = []
        for run, after, dec in switches:
            self.add(run, after, dec)
        self._run = 0
        self._count = 0  # epochs scored in this run
        self._driver = None
        self._score_model = SwitchingScoreModel(self)

    # -- the run --------------------------------------------------------------------------------
    def bind(self, driver, run: int) -> None:
        """A spelling run starts: its ``driver`` (``n_flashes``) and its run number."""
        self._driver, self._run, self._count = driver, int(run), 0

    def add(self, run: int, after: int, decoder) -> None:
        """A model in force from flash ``after`` of run ``run`` (switches come in order)."""
        key = (int(run), int(after))
        if self.switches and key < self.switches[-1][:2]:
            raise NeurospellError(f"SwitchingDecoder.add: switch {key} comes before the last one "
                                  f"{self.switches[-1][:2]}; switches are added in order.")
        self.switches.append((key[0], key[1], decoder))

    def switch(self, decoder, after: int) -> None:
        """Live: ``decoder`` is in force from flash ``after`` of the bound run on."""
        self.add(self._run, after, decoder)

    def model_at(self, run: int, index: int):
        """The model in force at flash ``index`` of run ``run``."""
        out = self.base
        for r, after, dec in self.switches:
            if (r, after) <= (run, index):
                out = dec
        return out

    def model_at_flash(self):
        """The model of the flash the bound driver is handing on (index ``n_flashes - 1``)."""
        n = 0 if self._driver is None else self._driver.n_flashes
        return self.model_at(self._run, max(n - 1, 0))

    @property
    def current(self):
        """The latest model (the session's model now)."""
        return self.switches[-1][2] if self.switches else self.base

    @property
    def n_switches(self) -> int:
        return len(self.switches)

    # -- what the driver and the engine use ---------------------------------------------------------
    @property
    def score_model_(self) -> ScoreModel:
        return self._score_model

    @property
    def provenance_(self) -> dict:
        return self.base.provenance_

    @property
    def name(self) -> str:
        return self.base.name

    def decision_function(self, X) -> np.ndarray:
        """Scores, each epoch by the model in force at its flash (counted per run)."""
        n = len(X)
        out = np.zeros(n)
        i = 0
        while i < n:
            idx = self._count + i
            model = self.model_at(self._run, idx)
            j = i + 1  # the epochs up to the next switch go in one call
            while j < n and self.model_at(self._run, self._count + j) is model:
                j += 1
            part = X if (i, j) == (0, n) else (X.subset(list(range(i, j))) if hasattr(X, "subset") else X[i:j])
            out[i:j] = model.decision_function(part)
            i = j
        self._count += n
        return out

    def __getattr__(self, name):
        if name.startswith("__") or name in ("base", "switches", "_score_model"):
            raise AttributeError(name)
        return getattr(self.current, name)

    def __repr__(self) -> str:
        return f"SwitchingDecoder({self.base.name}, {len(self.switches)} switch(es))"


def refits_of(folder, records, preprocess=None) -> list[tuple[int, int, object]]:
    """The applied refits a session's decision log records, as ``(run, after, decoder)``.

    Each model file is checked against the SHA-256 the log recorded.

    Raises
    ------
    SessionFolderError
        When a model file is missing or changed since the session.
    """
    out = []
    for rec in records:
        if rec.get("type") != REFIT_RECORD or not rec.get("applied"):
            continue
        path = Path(folder.resolve(rec["model"]))
        if not path.is_file():
            raise SessionFolderError(
                f"the session's refit {rec.get('k')} ({rec['model']}) is missing from {str(folder.root)!r}; the "
                "replay cannot switch models where the session did (copy the folder again, or replay with "
                "--decoder MODEL).")
        if rec.get("sha256") and file_sha256(path) != rec["sha256"]:
            raise SessionFolderError(
                f"{str(path)!r} is not the model the session's refit {rec.get('k')} saved (its SHA-256 differs); "
                "restore it, or replay with --decoder MODEL.")
        out.append((int(rec["run"]), int(rec["after_flash"]), load_decoder(path, preprocess=preprocess)))
    return out
