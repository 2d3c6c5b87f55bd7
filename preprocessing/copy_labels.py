"""Copy-spelling flashes labelled from the phrase being copied.

A copy-spelling run records its flashes unlabelled (``flash/<code>``: the speller does not
know the target), but the person copying a phrase wants a known symbol at each selection:
the phrase's next symbol given the text typed when the selection started, or the word cell
offering the word being typed (:func:`neurospell.markers.intended_with_words`, the words from
the run's ``words:`` markers; backspace after a mistake). Each flash of the
selection is then a target when its group lights that symbol up. The typed text comes
from the run's own markers: ``text:T`` (the whole text, sent before each selection) and
``select:S`` (each decision), as the simulated participant follows them.

Free spelling (``phrase/test/`` with no text) has no known target: its flashes stay
unlabelled. Flashes that already carry a label (calibration) are never changed.
"""

from __future__ import annotations

import numpy as np

from neurospell.logs import logger
from neurospell.markers import (
    apply_selection,
    flash_to_annotation,
    intended_with_words,
    parse_flash,
    parse_phrase,
    parse_select,
    parse_text,
    parse_trial,
    parse_words,
)

__all__ = ["label_copy_flashes", "copy_phrases"]


def copy_phrases(descriptions) -> list[str]:
    """The phrases copied in a recording (the texts of its ``phrase/test/TEXT`` markers, non-empty)."""
    out = []
    for d in descriptions:
        ph = parse_phrase(str(d))
        if ph is not None and ph.kind == "test" and ph.text:
            out.append(ph.text)
    return out


def label_copy_flashes(raw, layout) -> int:
    """Label the unlabelled flashes of the copy-spelling phrases of ``raw`` (in place).

    Parameters
    ----------
    raw : mne.io.Raw
        With neurospell's annotations (:mod:`neurospell.markers`).
    layout : SpellerLayout
        The grid the recording was spelled on (which symbols each flash code lights up).

    Returns
    -------
    n : int
        Flashes labelled (0: nothing changed).
    """
    import mne

    ann = raw.annotations
    desc = [str(d) for d in ann.description]
    if not copy_phrases(desc):
        return 0
    phrase, typed, want, words = None, "", None, ()
    n = 0
    skipped: dict[str, int] = {}
    for i in np.argsort(ann.onset, kind="stable"):
        d = desc[i]
        ph = parse_phrase(d)
        if ph is not None:  # a new phrase: copy spelling when it has a text, else free spelling
            phrase = ph.text if ph.kind == "test" and ph.text else None
            typed, want, words = "", None, ()
            continue
        shown = parse_words(d)
        if shown is not None:  # what the word cells show from now on
            words = shown
            continue
        if phrase is None:
            continue
        text = parse_text(d)
        if text is not None:
            typed = text
            continue
        sym = parse_select(d)
        if sym is not None:
            typed = apply_selection(typed, sym)
            continue
        if parse_trial(d) is not None:
            want = intended_with_words(phrase, typed, layout.symbols, words)
            continue
        info = parse_flash(d) if not d.strip().lstrip("-").isdigit() else None
        if info is None or info.target is not None or want is None:
            continue
        why = (f"the wanted symbol {want!r} is not on the grid" if want not in layout.symbols else
               f"flash code {info.code} is not one of the grid's {layout.n_groups} groups"
               if not 1 <= info.code <= layout.n_groups else None)
        if why is not None:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        target = layout.symbols.index(want) in layout.flash_groups[info.code - 1]
        desc[i] = flash_to_annotation(info.code, target)
        n += 1
    for why, k in skipped.items():
        logger.warning("copy spelling: %d flash(es) left unlabelled: %s.", k, why)
    if n:
        raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time,
                                            ch_names=ann.ch_names))
        logger.info("copy spelling: %d flashes labelled from the copied phrase's wanted symbols", n)
    return n
