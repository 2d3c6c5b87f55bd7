"""Bits per character and next-character accuracy of a language model on text."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np

from neurospell.check import NeurospellError, check_fname

from .base import _alphabet_index, _map_to_alphabet, context_key

__all__ = ["evaluate_lm", "read_lines"]


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
