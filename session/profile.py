"""A participant profile: the folder where a participant's models live between sessions.

Layout of a profile ``DIR``::

    DIR/
      profile.json         format, version, the models in order (the last one is current)
      models/model-0001.pkl, model-0002.pkl ...   (never overwritten)

Each entry of ``profile.json`` ``models``: ``file`` (relative), ``sha256``, ``saved``,
``decoder``, ``session`` (the session folder that wrote it, or ``None``),
``n_labelled_epochs`` (the epochs it was fitted on in that session: calibration or
self-labelled; 0: the session's starting model, unchanged) and ``started_from`` (the model
that session started from). A session started with ``--profile DIR`` (and no ``--model``)
starts from the last model; at its end it writes its final model there. Both writes are
atomic (a temporary file renamed over), so a crash never leaves a half-written model or
``profile.json``.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path

from neurospell.check import NeurospellError
from neurospell.decoder import load_decoder
from neurospell.fileio import file_sha256
from neurospell.logs import logger

from .sessionformat import _now

__all__ = ["Profile", "ProfileError", "PROFILE_JSON", "PROFILE_FORMAT"]

PROFILE_JSON = "profile.json"
PROFILE_FORMAT = "neurospell-profile"
VERSION = 1


class ProfileError(NeurospellError):
    """A participant profile that is missing, empty or damaged."""


def _atomic_write(path: Path, write) -> None:
    """``write(fid)`` to a temporary file beside ``path``, synced, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fid:
            write(fid)
            fid.flush()
            os.fsync(fid.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Profile:
    """A participant profile folder (see the module docstring).

    Use :meth:`open` (an existing profile) or :meth:`open_or_new` (one that a session may
    create).
    """

    def __init__(self, root: Path, meta: dict):
        self.root = Path(root)
        self.meta = meta

    def __repr__(self) -> str:
        return f"<Profile {str(self.root)!r}: {len(self.models)} model(s)>"

    @property
    def models(self) -> list[dict]:
        return list(self.meta.get("models", []))

    @classmethod
    def open(cls, root, *, must_have_model: bool = False) -> Profile:
        """Read the profile at ``root``.

        Raises
        ------
        ProfileError
            ``root`` does not exist, is not a profile, is damaged, or (``must_have_model``)
            holds no model.
        """
        root = Path(root).expanduser()
        if not root.exists():
            raise ProfileError(
                f"profile: {str(root)!r} does not exist. A profile is made by a session that calibrates: "
                f"`neurospell spell --profile {root} ...` without --no-calibration, or start from a model with "
                "--model MODEL.")
        if not root.is_dir():
            raise ProfileError(f"profile: {str(root)!r} is a file; a profile is a folder (give a folder).")
        mfile = root / PROFILE_JSON
        if not mfile.is_file():
            if any(root.iterdir()):
                raise ProfileError(
                    f"profile: {str(root)!r} is not a neurospell participant profile (no {PROFILE_JSON}); give the "
                    "profile folder, or a new or empty folder to start one.")
            meta = {"format": PROFILE_FORMAT, "version": VERSION, "created": _now(), "models": []}
            self = cls(root, meta)
        else:
            try:
                meta = json.loads(mfile.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ProfileError(f"profile: {str(mfile)!r} is damaged (not valid JSON: {err}); restore it from a "
                                   "backup, or start a new profile in another folder.") from None
            if not isinstance(meta, dict) or meta.get("format") != PROFILE_FORMAT or not isinstance(
                    meta.get("models"), list):
                raise ProfileError(f"profile: {str(mfile)!r} is not a {PROFILE_FORMAT} file (format "
                                   f"{meta.get('format') if isinstance(meta, dict) else None!r}).")
            if int(meta.get("version", 0)) > VERSION:
                raise ProfileError(f"profile: {str(mfile)!r} is version {meta.get('version')}; this neurospell "
                                   f"reads up to {VERSION}. Update neurospell.")
            self = cls(root, meta)
        if must_have_model and not self.models:
            raise ProfileError(
                f"profile: {str(root)!r} holds no model yet, so a session cannot start from it without "
                "calibration. Run one session that calibrates with --profile (drop --no-calibration), or give "
                "--model MODEL.")
        return self

    @classmethod
    def open_or_new(cls, root) -> Profile:
        """The profile at ``root``, or a new empty one there (made on the first save)."""
        root = Path(root).expanduser()
        if not root.exists():
            if not root.parent.is_dir():
                raise ProfileError(f"profile: the folder {str(root.parent)!r} that would hold the profile "
                                   f"{root.name!r} does not exist; create it first or choose another place.")
            return cls(root, {"format": PROFILE_FORMAT, "version": VERSION, "created": _now(), "models": []})
        return cls.open(root)

    # -- models ----------------------------------------------------------------------------------
    @property
    def latest(self) -> dict | None:
        """The entry of the last model saved (``None``: none yet)."""
        return self.models[-1] if self.models else None

    def model_path(self, entry: dict | None = None) -> Path:
        entry = self.latest if entry is None else entry
        if entry is None:
            raise ProfileError(f"profile: {str(self.root)!r} holds no model yet.")
        return self.root / entry["file"]

    def load_model(self, preprocess=None):
        """The last model saved, checked against its SHA-256 (and ``preprocess`` when given)."""
        entry = self.latest
        path = self.model_path(entry)
        if not path.is_file():
            raise ProfileError(f"profile: its current model {str(path)!r} is missing; restore it, or remove its "
                               f"entry from {PROFILE_JSON}.")
        if entry.get("sha256") and file_sha256(path) != entry["sha256"]:
            raise ProfileError(f"profile: {str(path)!r} is not the model the profile saved (its SHA-256 differs); "
                               "restore it, or give --model MODEL.")
        try:
            return load_decoder(path, preprocess=preprocess)
        except NeurospellError:
            raise
        except Exception as err:  # noqa: BLE001 - a damaged pickle: say which file
            raise ProfileError(f"profile: {str(path)!r} cannot be read as a model ({type(err).__name__}: {err}); "
                               "restore it, or give --model MODEL.") from None

    def save_model(self, decoder, *, session=None, n_labelled_epochs: int = 0, started_from=None) -> Path:
        """Write ``decoder`` as the profile's next model (atomically) and record its provenance."""
        (self.root / "models").mkdir(parents=True, exist_ok=True)
        k = 1 + len(self.models)
        rel = f"models/model-{k:04d}.pkl"
        path = self.root / rel
        model = copy.copy(decoder)  # (the caller's object keeps its provenance)
        model.provenance_ = {**decoder.provenance_, "profile": {
            "session": None if session is None else str(session), "n_labelled_epochs": int(n_labelled_epochs),
            "started_from": started_from}}
        model.save(path, overwrite=False)  # (written to a temporary file, renamed over)
        entry = {"file": rel, "sha256": file_sha256(path), "saved": _now(), "decoder": decoder.name,
                 "session": None if session is None else str(session), "n_labelled_epochs": int(n_labelled_epochs),
                 "started_from": started_from}
        meta = {**self.meta, "models": self.models + [entry]}
        _atomic_write(self.root / PROFILE_JSON, lambda fid: fid.write(json.dumps(meta, indent=2).encode("utf-8")))
        self.meta = meta
        logger.info("profile %s: model %s saved (%d labelled epochs)", self.root, rel, n_labelled_epochs)
        return path
