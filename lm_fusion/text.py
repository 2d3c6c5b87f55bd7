"""Text normalisation and the training corpus of the language models.

All models of :mod:`neurospell.lm_fusion` work on upper-case text over :data:`VOCAB`:
the letters, the digits, the space and a little punctuation. A speller grid's alphabet is
mapped onto this vocabulary by :func:`normalise` (upper-casing, dropping apostrophes,
turning anything else into a space).

The corpus is the Chit Chat Challenge dataset (BYU PCC lab, MIT licence, about 7,000
casual English conversations), read from the optional PyPI package ``chitchat-dataset``
(``pip install chitchat-dataset``). It is training data only; nothing here downloads.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger

#: Everything a model can predict (index 0 is reserved for the start-of-text token).
PUNCTUATION = ".,?!"
VOCAB: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 " + PUNCTUATION)
BOS = "\x02"  # start of text (never typed)
#: Characters of the model's token table: BOS first, then VOCAB.
TOKENS: tuple[str, ...] = (BOS,) + VOCAB
CHAR_TO_ID = {c: i for i, c in enumerate(TOKENS)}

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NOT_VOCAB = re.compile(r"[^A-Z0-9 .,?!]+")
_SPACES = re.compile(r" {2,}")
_PUNCT = re.compile(r"[.,?!]")


def normalise(text: str, *, keep_punctuation: bool = True) -> str:
    """Upper-case ``text`` and map it onto :data:`VOCAB`.

    Apostrophes are dropped (``don't`` -> ``DONT``), other characters outside the
    vocabulary become spaces, runs of spaces collapse and the ends are stripped.

    Parameters
    ----------
    text : str
    keep_punctuation : bool
        If ``False``, ``.,?!`` are removed as well (what a grid without punctuation types).

    Returns
    -------
    str
    """
    t = _APOSTROPHES.sub("", str(text).upper())
    t = _NOT_VOCAB.sub(" ", t)
    if not keep_punctuation:
        t = _PUNCT.sub(" ", t)
    else:
        t = re.sub(r" +([.,?!])", r"\1", t)
    return _SPACES.sub(" ", t).strip()


def encode(text: str):
    """Token ids (numpy int64) of normalised ``text``, without BOS."""
    try:
        return np.fromiter((CHAR_TO_ID[c] for c in text), dtype=np.int64, count=len(text))
    except KeyError as err:
        raise NeurospellError(
            f"encode: character {err.args[0]!r} is not in the language-model vocabulary "
            f"{''.join(VOCAB)!r}; pass the text through normalise() first."
        ) from None


def chitchat_path() -> Path:
    """Path of the Chit Chat dataset JSON shipped by the ``chitchat-dataset`` package."""
    try:
        import chitchat_dataset
    except ImportError:
        raise NeurospellError(
            "The training corpus needs the optional package 'chitchat-dataset' "
            "(MIT licence): pip install chitchat-dataset"
        ) from None
    return Path(chitchat_dataset.__file__).parent / "dataset.json"


def _split_of(key: str, seed: int) -> str:
    h = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < 0.05 else ("valid" if h < 0.10 else "train")


def load_chitchat(split: str = "train", *, seed: int = 0, keep_punctuation: bool = True) -> list[list[str]]:
    """Normalised messages of the Chit Chat corpus, grouped by conversation.

    The split is by conversation (a hash of its id and ``seed``): 90 % train, 5 % valid,
    5 % test, so no conversation contributes to two splits.

    Parameters
    ----------
    split : "train" | "valid" | "test"
    seed : int
    keep_punctuation : bool

    Returns
    -------
    list of list of str
        One list of messages (a speaker's consecutive utterances joined by spaces) per
        conversation; empty messages are dropped.
    """
    if split not in ("train", "valid", "test"):
        raise NeurospellError(f"split must be 'train', 'valid' or 'test', got {split!r}.")
    with open(chitchat_path(), encoding="utf-8") as fid:
        data = json.load(fid)
    out = []
    for key in sorted(data):
        if _split_of(key, seed) != split:
            continue
        conv = []
        for turn in data[key]["messages"]:
            msg = normalise(" ".join(u["text"] for u in turn), keep_punctuation=keep_punctuation)
            if msg:
                conv.append(msg)
        if conv:
            out.append(conv)
    logger.info("chitchat %s: %d conversations, %d messages", split, len(out), sum(map(len, out)))
    return out


def heldout_lines(split: str = "test", *, seed: int = 0, alphabet=None, max_lines: int | None = None) -> list[str]:
    """Held-out phrases (one message per line), restricted to ``alphabet`` if given.

    Characters outside ``alphabet`` are removed (after :func:`normalise`); lines that end
    up empty are dropped. ``max_lines`` takes an evenly spaced deterministic subset.
    """
    lines = [m for conv in load_chitchat(split, seed=seed) for m in conv]
    if alphabet is not None:
        allowed = set(alphabet)
        keep_p = any(p in allowed for p in PUNCTUATION)
        lines = [normalise(m, keep_punctuation=keep_p) for m in lines]
        lines = [_SPACES.sub(" ", "".join(c for c in m if c in allowed)).strip() for m in lines]
        lines = [m for m in lines if m]
    if max_lines is not None and len(lines) > max_lines:
        step = len(lines) / max_lines
        lines = [lines[int(i * step)] for i in range(max_lines)]
    return lines
