"""Bits per character, next-character accuracy and word-completion keystroke savings of a
language model on text."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np

from neurospell.check import NeurospellError, check_fname

from .base import _alphabet_index, _map_to_alphabet, context_key
from .candidates import complete_words

__all__ = ["evaluate_lm", "keystroke_savings", "read_lines"]


def read_lines(fname, alphabet: Sequence[str]) -> tuple[list[str], int]:
    """Phrases of a text file (one per line), upper-cased and restricted to ``alphabet``.

    Returns the lines and the number of characters removed (outside the alphabet).
    """
    path = check_fname(fname, "text")
    allowed = set(alphabet)
    upper = all(a.upper() == a for a in alphabet)
    lines, dropped = [], 0
    with open(path, encoding="utf-8", errors="replace") as fid:
        for raw in fid:
            t = raw.rstrip("\n\r")
            t = t.upper() if upper else t
            kept = "".join(c for c in t if c in allowed)
            dropped += len(t) - len(kept)
            kept = " ".join(kept.split(" ")).strip()
            kept = " ".join(kept.split()) if " " in allowed else kept
            if kept:
                lines.append(kept)
    if not lines:
        raise NeurospellError(f"{str(path)!r} holds no text on the speller alphabet {''.join(alphabet)!r}.")
    return lines, dropped


def evaluate_lm(lm, lines: Iterable[str], alphabet: Sequence[str]) -> dict:
    """Score ``lines`` (each from an empty context) on the speller ``alphabet``.

    Parameters
    ----------
    lm : LanguageModel
    lines : iterable of str
        Phrases made of ``alphabet`` symbols.
    alphabet : sequence of str

    Returns
    -------
    dict
        ``bits_per_char``, ``top1``, ``top3`` (next-character accuracy), ``n_chars``,
        ``n_lines``, ``ms_per_char``.
    """
    alphabet = tuple(alphabet)
    index = {c: i for i, c in enumerate(alphabet)}
    lines = list(lines)
    nll, top1, top3, n = 0.0, 0, 0, 0
    t0 = time.perf_counter()
    for line in lines:
        for c in line:
            if c not in index:
                raise NeurospellError(f"evaluate_lm: character {c!r} of {line!r} is not in the alphabet.")
    aidx = _alphabet_index(alphabet)
    # batched path (one network pass per batch of lines) when the lines are already in the
    # model's normalised form; otherwise one distribution per character
    fast = all(context_key(t) == t for t in lines)
    for b in range(0, len(lines), 64):
        chunk = lines[b:b + 64]
        if fast:
            rows = lm._position_logps("", chunk)
        else:
            rows = [None] * len(chunk)
        for line, lps in zip(chunk, rows, strict=True):
            for i, c in enumerate(line):
                if lps is not None:
                    logp = _map_to_alphabet(lps[i], aidx, lm.unknown_p)
                    logp = logp - np.logaddexp.reduce(logp)
                else:
                    logp = lm.distribution(line[:i], alphabet).logp
                j = index[c]
                nll -= logp[j]
                order = np.argsort(-logp, kind="stable")[:3]
                top1 += int(order[0] == j)
                top3 += int(j in order)
                n += 1
    n_lines = len(lines)
    if n == 0:
        raise NeurospellError("evaluate_lm: no characters to score.")
    return {"bits_per_char": nll / n / math.log(2), "top1": top1 / n, "top3": top3 / n,
            "n_chars": n, "n_lines": n_lines, "ms_per_char": 1e3 * (time.perf_counter() - t0) / n}


def keystroke_savings(lm, lines: Iterable[str], k: int = 3) -> dict:
    """Keystroke savings of word completion (each line typed from an empty context).

    The simulated user types each line character by character. A *word* is a maximal run of
    letters and digits; spaces and punctuation are typed as they are and not counted. Before
    each character of a word (including before its first one), the model offers its ``k``
    most probable completions of the current word
    (:func:`~neurospell.lm_fusion.candidates.complete_words` after the text typed so far);
    as soon as the intended word is among them, the user picks it with one keystroke. A word
    of ``L`` characters first offered after ``j`` of them were typed thus costs
    ``min(L, j + 1)`` keystrokes (an offer only after the last character saves nothing).

    ``keystroke_savings = 1 - (keystrokes with completion) / (word characters)``, summed over
    all words of all lines: 0 when nothing is ever offered in time, ``1 - 1/L`` for a word
    offered before its first character.

    Parameters
    ----------
    lm : LanguageModel
    lines : iterable of str
        Phrases (upper case, on the model's vocabulary; other characters end words).
    k : int
        Number of completions offered at each keystroke (>= 1).

    Returns
    -------
    dict
        ``keystroke_savings``, ``ks_words`` (words), ``ks_chars`` (word characters),
        ``ks_keystrokes`` (keystrokes with completion), ``ks_offered`` (fraction of words
        picked before their last character), ``ks_k``.
    """
    if int(k) < 1:
        raise NeurospellError(f"keystroke_savings: k must be >= 1 (completions offered), got {k!r}.")
    k = int(k)
    chars = keys = words = offered = 0
    for line in lines:
        for start, word in _words(line):
            n = len(word)
            cost = n
            for j in range(n):
                cands = complete_words(lm, line[:start + j], k)
                if any(c.text == word for c in cands):
                    cost = min(n, j + 1)
                    break
            chars += n
            keys += cost
            words += 1
            offered += int(cost < n)
    if chars == 0:
        raise NeurospellError("keystroke_savings: the lines hold no word (letters or digits).")
    return {"keystroke_savings": 1.0 - keys / chars, "ks_words": words, "ks_chars": chars,
            "ks_keystrokes": keys, "ks_offered": offered / words, "ks_k": k}


def _words(line: str):
    """(start index, word) of the maximal runs of letters and digits of ``line``."""
    start = None
    for i, c in enumerate(line + " "):
        if c.isalnum():
            if start is None:
                start = i
        elif start is not None:
            yield start, line[start:i]
            start = None
