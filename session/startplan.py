"""How a live session starts: calibrate first, or spell at once with a model.

The one home of the start rules that ``neurospell spell`` and ``neurospell gui`` share:

* **the model offered** (:func:`offered_model`): ``--model`` when given, else the participant
  profile's last model (``--profile``), else (the window only) the cross-subject model shipped
  with the package (``generic``);
* **online adaptation** (:func:`adapt_setting`): ``--adapt`` / ``--no-adapt`` when given, else
  on when the session starts without calibration, else ``[speller] adapt``;
* **what the session folder records** (:func:`start_record`): ``session.json`` ``start`` names
  whether the session calibrated, the model it started from and the profile;
* **the end** (:func:`save_to_profile`): the session's final model goes back to the profile.

:class:`StartPlan` puts them together for a window: it says what to offer before a session
starts, and turns the choice made into the session's config and keyword arguments (loading a
fresh copy of the model each time: a model aligning online keeps per-session state).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from neurospell.check import NeurospellError
from neurospell.decoder import load_decoder
from neurospell.decoder.generic import generic_model_path
from neurospell.logs import logger

from .profile import Profile, ProfileError

__all__ = ["CALIBRATE", "START_NOW", "StartModel", "StartPlan", "offered_model", "adapt_setting", "start_record",
           "save_to_profile"]

#: The two ways a session starts (a window's choice).
CALIBRATE = "calibrate"
START_NOW = "model"


@dataclass(frozen=True)
class StartModel:
    """A model a session can start from without calibration.

    Attributes
    ----------
    path : str
        The model file.
    origin : ``"model"`` | ``"profile"`` | ``"generic"``
        Given with ``--model``, the profile's last one, or the shipped generic model.
    label : str
        Its name for people (``"generic"``, the file's name, ``"model-0002 (profile P)"``).
    profile : str | None
        The profile folder (``origin="profile"``).
    """

    path: str
    origin: str
    label: str
    profile: str | None = None

    def load(self, preprocess=None):
        """A fresh copy of the model (the profile's is checked against its SHA-256)."""
        if self.origin == "profile":
            return Profile.open(self.profile, must_have_model=True).load_model(preprocess=preprocess)
        return load_decoder(self.path, preprocess=preprocess)


def _generic_path() -> Path | None:
    try:
        return generic_model_path()
    except NeurospellError:
        return None


def offered_model(model=None, profile: Profile | None = None, *, generic: bool = True) -> StartModel | None:
    """The model a session may start from without calibration (``None``: none).

    Parameters
    ----------
    model : path-like | None
        ``--model`` (a model file; the generic model's file when ``generic`` was named).
    profile : Profile | None
        ``--profile``: its last model, when there is no ``model``.
    generic : bool
        Fall back on the shipped generic model (when it is installed).
    """
    gpath = _generic_path()
    if model is not None:
        path = Path(model)
        is_generic = gpath is not None and path.resolve() == gpath.resolve()
        return StartModel(str(path), "generic" if is_generic else "model", "generic" if is_generic else path.stem)
    if profile is not None and profile.latest is not None:
        path = profile.model_path()
        return StartModel(str(path), "profile", f"{path.stem} (profile {profile.root.name})", str(profile.root))
    if generic and gpath is not None:
        return StartModel(str(gpath), "generic", "generic")
    return None


def adapt_setting(adapt: bool | None, no_calibration: bool) -> bool | None:
    """``[speller] adapt`` for the session: ``adapt`` (``--adapt`` / ``--no-adapt``) when given,
    else on without calibration, else ``None`` (the config's)."""
    return adapt if adapt is not None else (True if no_calibration else None)


def start_record(*, no_calibration: bool, adapt: bool, model, profile) -> dict:
    """``session.json`` ``start``: whether the session calibrated, its online adaptation, the
    model it started from (a path, ``None``: trained on its calibration) and the profile."""
    return {"no_calibration": bool(no_calibration), "adapt": bool(adapt),
            "model": None if model is None else str(model), "profile": None if profile is None else str(profile)}


def save_to_profile(profile: Profile, session, folder_root, *, started_from, start_decoder) -> Path | None:
    """Write the session's final model to ``profile`` (``None``: no model to write).

    ``start_decoder``: the model object the session started with (unchanged: no epoch of
    this session in it).
    """
    model = session.model
    if model is None:
        return None
    n = 0 if model is start_decoder else int((model.provenance_.get("live_session") or {}).get("n_epochs", 0))
    return profile.save_model(model, session=folder_root, n_labelled_epochs=n, started_from=started_from)


class StartPlan:
    """What a window offers before a session starts, and how each choice starts it.

    Parameters
    ----------
    model : path-like | None
        ``--model``.
    profile : path-like | None
        ``--profile``: start from its last model; the final model is written back to it.
    no_calibration : bool
        ``--no-calibration``: start spelling at once is the choice offered first.
    adapt : bool | None
        ``--adapt`` / ``--no-adapt``.

    Raises
    ------
    NeurospellError
        The profile cannot be used (:class:`~neurospell.session.profile.ProfileError`), or
        ``no_calibration`` with no model to spell with.
    """

    def __init__(self, model=None, profile=None, *, no_calibration: bool = False, adapt: bool | None = None):
        self.profile = None
        if profile is not None:
            self.profile = (Profile.open(profile, must_have_model=True) if no_calibration and model is None
                            else Profile.open_or_new(profile))
        self.offer = offered_model(model, self.profile)
        self.no_calibration = bool(no_calibration)
        self.adapt = adapt
        if self.no_calibration and self.offer is None:
            raise NeurospellError("--no-calibration needs a model to spell with: --model MODEL, --profile DIR "
                                  "holding one, or the generic model installed with the package.")
        self._started: dict = {}  # id(session) -> (started_from, start_decoder)

    @property
    def default_choice(self) -> str:
        """The choice offered first: start now with ``--no-calibration``, else calibrate."""
        return START_NOW if self.no_calibration else CALIBRATE

    def prepare(self, choice: str, config, folder=None):
        """The session's config and :class:`LiveSession` keyword arguments for ``choice``
        (loads the model for :data:`START_NOW`; call it off the GUI thread), and the choice
        recorded in ``folder``'s ``session.json`` (``start``).

        Returns
        -------
        config : Config
            With ``[speller] adapt`` set by :func:`adapt_setting`.
        kwargs : dict
            ``decoder`` (``None``: calibrate) and ``started_from``.
        """
        if choice not in (CALIBRATE, START_NOW):
            raise NeurospellError(f"choice must be {CALIBRATE!r} or {START_NOW!r}, got {choice!r}.")
        now = choice == START_NOW
        if now and self.offer is None:
            raise NeurospellError("There is no model to start from: give --model MODEL (e.g. generic) or a "
                                  "--profile holding one, or calibrate first.")
        adapt = adapt_setting(self.adapt, now)
        if adapt is not None:
            config = dataclasses.replace(config, speller=dataclasses.replace(config.speller, adapt=bool(adapt)))
        decoder = self.offer.load(config.preprocessing) if now else None
        started_from = self.offer.path if now else None
        if now:
            logger.info("starting without calibration from %s (%s)", self.offer.label, self.offer.path)
        if folder is not None:
            folder.note("start", start_record(no_calibration=now, adapt=config.speller.adapt, model=started_from,
                                              profile=None if self.profile is None else self.profile.root))
        return config, {"decoder": decoder, "started_from": started_from}

    def started(self, session, started_from, decoder) -> None:
        """Remember what ``session`` started from (for :meth:`finish`)."""
        self._started[id(session)] = (started_from, decoder)

    def finish(self, session, folder_root=None) -> Path | None:
        """The session ended: write its final model to the profile (``None``: no profile or no
        model). Call it off the GUI thread (it writes a file)."""
        started_from, decoder = self._started.pop(id(session), (None, None))
        if self.profile is None:
            return None
        try:
            path = save_to_profile(self.profile, session, folder_root, started_from=started_from,
                                   start_decoder=decoder)
        except (ProfileError, OSError) as err:
            logger.warning("could not write the session's model to the profile %s: %s", self.profile.root, err)
            return None
        if path is not None:
            logger.info("profile: the session's model is %s", path)
        return path
