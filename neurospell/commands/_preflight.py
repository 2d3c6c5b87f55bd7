"""Pre-flight checks shared by several commands: names in the config, the LM choice, model vs recording."""

from __future__ import annotations

import dataclasses
import errno
import math
import os
from pathlib import Path

from ..check import NeurospellError
from ._names import lm_name_problem
from ._usage import UsageError


def config_source(args) -> str:
    """Where the config came from, for messages."""
    path = getattr(args, "config", None) or os.environ.get("NEUROSPELL_CONFIG")
    return f"the config file {path!r}" if path else "the shipped defaults"


def check_config(config, args) -> None:
    """Names in the config that the registries must know, checked at load (before any command).

    ``[lm] name`` is checked for every command (cheap); ``[decoder] name`` by the commands that
    read it (``train``).
    """
    problem = lm_name_problem(config.lm.name)
    if problem:
        raise UsageError(f"[lm] name in {config_source(args)}", f"{problem}. Fix the config file.")


def check_lm_choice(option: str, name: str, lm_path: str | None, config, args) -> None:
    """``hf`` needs a model folder: ``--lm-path`` or ``[lm] path``; a path needs ``hf``."""
    parts = [p.strip() for p in name.split("+")]
    if "hf" in parts:
        path = lm_path or config.lm.path
        if not path:
            raise UsageError(option, "the 'hf' language model needs a local model folder: pass --lm-path "
                                     "FOLDER (a folder saved with save_pretrained) or set [lm] path in "
                                     "the config.")
        if not Path(path).expanduser().is_dir():
            where = "--lm-path" if lm_path else f"[lm] path in {config_source(args)}"
            raise UsageError(where, f"the Hugging Face model folder {path!r} does not exist or is not a "
                                    "folder. Check the path.")
    elif lm_path:
        raise NeurospellError(f"--lm-path applies to --lm hf only (a Hugging Face model folder), but the "
                              f"language model is {name!r}. Drop --lm-path or use --lm hf.")


def with_lm_path(config, lm_path):
    """The config with ``[lm] path`` replaced by ``--lm-path`` (when given)."""
    if not lm_path:
        return config
    return dataclasses.replace(config, lm=dataclasses.replace(config.lm, path=str(lm_path)))


def is_name_too_long(err: OSError) -> bool:
    return getattr(err, "errno", None) == errno.ENAMETOOLONG


def check_model_matches_recording(decoder, raw, preprocess) -> None:
    """Refuse a model trained on other channels or another sampling rate before replaying.

    Compares the model's provenance with the recording's EEG channels and rate (what the
    batch replay will epoch), so that a mismatch is reported before minutes of replay.
    """
    from ..check import ProvenanceError

    prov = getattr(decoder, "provenance_", None) or {}
    diffs = []
    eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "eeg"]
    if "ch_names" in prov and list(prov["ch_names"]) != eeg:
        diffs.append(f"EEG channels: model {list(prov['ch_names'])} vs recording {eeg}")
    sfreq = float(raw.info["sfreq"])
    if preprocess.resample_sfreq is None and "sfreq" in prov and not math.isclose(
            sfreq, float(prov["sfreq"]), rel_tol=1e-6):
        diffs.append(f"sampling rate: model {prov['sfreq']:g} Hz vs recording {sfreq:g} Hz")
    if diffs:
        raise ProvenanceError(
            "--decoder: the model was trained for another pipeline than this recording ("
            + "; ".join(diffs) + "). Train a model on recordings like this one (`neurospell train`).")
