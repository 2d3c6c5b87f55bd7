"""How speller events are coded, on every path (LSL strings, BrainFlow marker channel,
MNE annotations), so that recordings made by neurospell replay and train with no options.

Flash groups are numbered from 1 (stimulus code = flash group index + 1, up to 99).

================  ===================  =============================  ======================
event             integer code         LSL string                     MNE annotation
================  ===================  =============================  ======================
flash (online)    ``c``                ``"flash:c"``                  ``"flash/c"``
non-target flash  ``c``                ``"flash:c:nontarget"``        ``"flash/c/nontarget"``
target flash      ``TARGET_OFFSET+c``  ``"flash:c:target"``           ``"flash/c/target"``
trial start       ``TRIAL_START``      ``"trial:i:S"`` (S: symbol)    ``"trial/i/S"``
decision          --                   ``"select:S"`` (S: symbol)     ``"select/S"``
typed text sync   --                   ``"text:T"`` (T: whole text)   --
word cells        --                   ``"words:W1 W2 .."``           ``"words/W1 W2 .."``
phrase start      --                   ``"phrase:K:T"`` (K: kind)     ``"phrase/K/T"``
flash of members  ``0`` (target:       ``"flash:0:members=i.j.k"``    ``"flash/0/members=i.j.k"``
                  ``TARGET_OFFSET``)   (``flash:0:target:members=``)  (``flash/0/target/...``)
================  ===================  =============================  ======================

A flash whose group is not fixed in the layout (checkerboard, adaptive groups: see
:mod:`neurospell.session.flashgroups`) names the symbols it lit, by their index in the
layout's symbols (row-major), joined by ``"."``: ``"flash:0:members=3.9.15"``. Its code is 0
because no layout group flashed; the integer form cannot carry the members, so such a flash
can only travel as a string (an LSL marker, an annotation, the session's marker log): on a
BrainFlow marker channel (integers only, and 0 means "no marker") it cannot be written, and a
recording whose only markers are integers cannot be decoded with these groups. A reader that
predates the members part reads the flash as one of unknown group (code 0).

A decision marker says the speller selected symbol ``S`` (``"<"``: backspace, which
deletes the last typed symbol); a text marker states the whole typed text (e.g. ``"text:"``
when a spelling phase starts with an empty text). A simulated participant follows the
typed text from these markers.

A words marker states what the grid's word cells show, in cell order, whenever it changes
(before the flashes of a selection that offers new words): ``"words:HELLO HELP"`` on a grid
with more cells leaves the others empty; ``"words:"`` empties them all. A decision of a word
cell (``"select:\u2460"`` for the first, see :data:`~neurospell.types.WORD_CELL_SYMBOLS`)
types that word and a space.

A flash of unknown code (e.g. the g.tec files record only target/non-target) has code 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .check import NeurospellError
from .types import WORD_CELL_SYMBOLS

TARGET_OFFSET = 100
TRIAL_START = 200
MAX_FLASH_CODE = 99


@dataclass(frozen=True)
class FlashInfo:
    """What a flash marker says: its stimulus code and (in calibration) whether it was a target."""

    code: int
    target: bool | None
    #: Symbol indices the flash lit, for a group not fixed in the layout (code 0); else ``None``.
    members: tuple[int, ...] | None = None

#: The part of a flash marker naming its members (``"members=3.9.15"``).
MEMBERS_PREFIX = "members="


def _members_part(members) -> str:
    idx = sorted({int(i) for i in members})
    if not idx or idx[0] < 0:
        raise NeurospellError(f"flash members must be one or more symbol indices >= 0, got {members!r}.")
    return MEMBERS_PREFIX + ".".join(str(i) for i in idx)


def flash_to_int(code: int, target: bool | None = None) -> int:
    """The integer form of a flash (BrainFlow ``insert_marker`` value, event id)."""
    if not 0 <= int(code) <= MAX_FLASH_CODE:
        raise NeurospellError(f"flash code must be in [0, {MAX_FLASH_CODE}], got {code!r}.")
    return int(code) + (TARGET_OFFSET if target else 0)


def flash_to_str(code: int, target: bool | None = None, members=None) -> str:
    """The LSL string form of a flash marker (``members``: the symbols of a group not fixed
    in the layout, whose ``code`` must then be 0)."""
    flash_to_int(code)  # validates
    suffix = "" if target is None else (":target" if target else ":nontarget")
    if members is not None:
        if int(code) != 0:
            raise NeurospellError(f"a flash with members has code 0 (no layout group), got code {code!r}.")
        suffix += ":" + _members_part(members)
    return f"flash:{int(code)}{suffix}"


def flash_to_annotation(code: int, target: bool | None = None, members=None) -> str:
    """The MNE annotation description of a flash."""
    return flash_to_str(code, target, members).replace(":", "/")


def trial_to_str(index: int, symbol: str | None = None) -> str:
    return f"trial:{int(index)}" + (f":{symbol}" if symbol is not None else "")


def parse_flash(marker) -> FlashInfo | None:
    """Parse a flash marker in any of its forms; ``None`` when it is not a flash.

    Accepts an ``int`` code, an LSL string (``"flash:3:target"``) or an annotation
    description (``"flash/3/target"``). A plain integer string (``"3"``) is a flash code.
    """
    if isinstance(marker, (int,)) and not isinstance(marker, bool):
        if 0 <= marker <= MAX_FLASH_CODE:
            return FlashInfo(marker, None)
        if TARGET_OFFSET <= marker <= TARGET_OFFSET + MAX_FLASH_CODE:
            return FlashInfo(marker - TARGET_OFFSET, True)
        return None
    if isinstance(marker, float) and marker.is_integer():
        return parse_flash(int(marker))
    text = str(marker).strip()
    if text.lstrip("-").isdigit():
        return parse_flash(int(text))
    parts = text.replace("/", ":").split(":")
    if parts[0] != "flash" or len(parts) < 2 or not parts[1].isdigit():
        return None
    target = members = None
    for part in parts[2:]:
        if part == "target":
            target = True
        elif part == "nontarget":
            target = False
        elif part.startswith(MEMBERS_PREFIX):
            idx = part[len(MEMBERS_PREFIX):].split(".")
            if not all(i.isdigit() for i in idx):
                return None
            members = tuple(sorted({int(i) for i in idx}))
    return FlashInfo(int(parts[1]), target, members)


def parse_trial(marker) -> tuple[int, str | None] | None:
    """Parse a trial-start marker (``"trial:i:S"`` / ``"trial/i/S"``) into (index, symbol)."""
    text = str(marker)
    sep = ":" if text.startswith("trial:") else "/"
    parts = text.split(sep, 2)
    if parts[0] != "trial" or len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1]), (parts[2] if len(parts) > 2 else None)


#: Prefix of a decision marker (``"select:S"``).
SELECT_PREFIX = "select:"
#: Prefix of a typed-text marker (``"text:T"``).
TEXT_PREFIX = "text:"
#: The backspace symbol: selecting it deletes the last typed symbol.
BACKSPACE = "<"


def format_select(symbol: str) -> str:
    """The LSL string of a decision marker: the speller selected ``symbol`` (``"<"``: backspace)."""
    if not isinstance(symbol, str) or not symbol:
        raise NeurospellError(f"symbol must be a non-empty str (one speller symbol), got {symbol!r}.")
    return SELECT_PREFIX + symbol


def parse_select(marker) -> str | None:
    """The symbol of a decision marker (``"select:S"`` or ``"select/S"``); ``None`` when it is not one.

    Everything after the prefix is the symbol, so ``"select: "`` is the space and
    ``"select::"`` the colon.
    """
    if not isinstance(marker, str):
        return None
    for prefix in (SELECT_PREFIX, "select/"):
        if marker.startswith(prefix) and len(marker) > len(prefix):
            return marker[len(prefix):]
    return None


def format_text(text: str) -> str:
    """The LSL string of a typed-text marker: the whole text typed so far (may be empty)."""
    if not isinstance(text, str):
        raise NeurospellError(f"text must be a str, got {type(text).__name__} ({text!r}).")
    return TEXT_PREFIX + text


def parse_text(marker) -> str | None:
    """The text of a typed-text marker (``"text:T"``); ``None`` when it is not one."""
    if isinstance(marker, str) and marker.startswith(TEXT_PREFIX):
        return marker[len(TEXT_PREFIX):]
    return None


#: Prefix of a word-cells marker (``"words:W1 W2"``).
WORDS_PREFIX = "words:"


def format_words(words) -> str:
    """The LSL string of a word-cells marker: the words shown, in cell order (no spaces inside)."""
    words = tuple(words)
    if any(not isinstance(w, str) or not w or " " in w or "/" in w for w in words):
        raise NeurospellError(f"words must be non-empty str without spaces or '/', got {words!r}.")
    return WORDS_PREFIX + " ".join(words)


def parse_words(marker) -> tuple[str, ...] | None:
    """The words of a word-cells marker (``"words:A B"`` or ``"words/A B"``); ``None`` when it is not one."""
    if not isinstance(marker, str):
        return None
    for prefix in (WORDS_PREFIX, "words/"):
        if marker.startswith(prefix):
            return tuple(marker[len(prefix):].split())
    return None


def apply_selection(text: str, symbol: str, backspace: str = BACKSPACE) -> str:
    """The typed text after selecting ``symbol``: ``backspace`` (``"<"``) deletes the last symbol.

    The one rule for every path (the speller engine, the simulated participant, a replay).
    """
    if symbol == backspace:
        return text[:-1]
    return text + symbol


def intended_symbol(phrase: str, typed: str, symbols=None) -> str | None:
    """The symbol a person copying ``phrase`` wants next, given the ``typed`` text.

    The next symbol of the phrase while the typed text is a prefix of it; backspace
    (``"<"``) when it is not (a mistake to correct); ``None`` once the phrase is complete.
    The rule of copy spelling for the live session, the simulated participant and replays.
    ``symbols`` (the grid's): when given and it has no backspace, a person off the phrase
    keeps wanting the phrase's next symbol.
    """
    if typed == phrase[:len(typed)]:
        return phrase[len(typed)] if len(typed) < len(phrase) else None
    if symbols is not None and BACKSPACE not in symbols:
        return phrase[len(typed)] if len(typed) < len(phrase) else None
    return BACKSPACE


def apply_word(text: str, word: str) -> str:
    """The text after choosing ``word`` (a word cell, a completion): it replaces the word being
    typed, plus a space."""
    cut = text.rfind(" ") + 1
    return text[:cut] + word + " "


def copy_selection_limit(phrase: str) -> int:
    """The most selections a copy-spelling run of ``phrase`` makes when no other stop rule is
    set: ``2 * len(phrase) + 10``, room to correct every symbol once, plus ten.

    A participant whose decoder rarely finds backspace would otherwise type on forever (a
    headless run never ends). The one rule for the live session and the simulated participant;
    ``[speller] max_selections`` replaces it when set.
    """
    return 2 * len(phrase) + 10


def phrase_done(phrase: str, typed: str) -> bool:
    """Whether copy spelling of ``phrase`` is complete (a word cell may leave a final space)."""
    return typed == phrase or typed == phrase + " "


def intended_with_words(phrase: str, typed: str, symbols, words=()) -> str | None:
    """The symbol a person copying ``phrase`` selects next on a grid of ``symbols`` whose word
    cells (:data:`~neurospell.types.WORD_CELL_SYMBOLS`, in grid order) show ``words``.

    ``None`` when the phrase is typed (:func:`phrase_done`); backspace when the typed text is
    off the phrase; the cell that offers the word being typed when one does (its word and a
    space keep the text on the phrase); else the phrase's next symbol
    (:func:`intended_symbol`). The one rule of the live session, the simulated participant
    and the labels of a recorded copy-spelling run.
    """
    if phrase_done(phrase, typed):
        return None
    want = intended_symbol(phrase, typed, symbols)
    if want == BACKSPACE or want is None:
        return want
    tokens = [s for s in symbols if s in WORD_CELL_SYMBOLS]
    for tok, w in zip(tokens, words, strict=False):
        if w:
            new = apply_word(typed, w)
            if new == phrase[:len(new)] or new == phrase + " ":
                return tok
    return want


# -- phrases, symbols and whole labels (one parser/formatter for every path) ---------------
#: Kinds of phrase a speller session contains.
PHRASE_KINDS = ("calibration", "test")

#: How a space is written in a trial marker (a trailing space would not survive every format).
SPACE_TOKENS = ("_", "space", "SPACE")


class PhraseInfo(NamedTuple):
    """What a phrase marker says: ``kind`` (``"calibration"`` or ``"test"``) and its text."""

    kind: str
    text: str


def phrase_to_str(kind: str, text: str) -> str:
    """The LSL string form of a phrase marker: ``"phrase:<kind>:<text>"``."""
    if kind not in PHRASE_KINDS:
        raise NeurospellError(f"phrase kind must be one of {PHRASE_KINDS}, got {kind!r}.")
    return f"phrase:{kind}:{text}"


def phrase_to_annotation(kind: str, text: str) -> str:
    """The MNE annotation form of a phrase marker: ``"phrase/<kind>/<text>"``."""
    phrase_to_str(kind, text)  # validates
    return f"phrase/{kind}/{text}"


def parse_phrase(marker) -> PhraseInfo | None:
    """Parse a phrase marker (``"phrase:test:HELLO"`` or ``"phrase/test/HELLO"``); ``None``
    when ``marker`` is not one. The text is everything after the kind (it may hold spaces)."""
    text = str(marker)
    for sep in (":", "/"):
        parts = text.split(sep, 2)
        if parts[0] == "phrase" and len(parts) == 3 and parts[1] in PHRASE_KINDS:
            return PhraseInfo(parts[1], parts[2])
    return None


def decode_symbol(token: str) -> str:
    """A trial marker's symbol as typed (``"_"``, ``"space"`` -> ``" "``)."""
    return " " if token in SPACE_TOKENS else token


def trial_to_annotation(index: int, symbol: str | None = None) -> str:
    """The MNE annotation form of a trial marker (a space symbol is written ``"_"``)."""
    sym = None if symbol is None else ("_" if symbol == " " else symbol)
    return f"trial/{int(index)}" + (f"/{sym}" if sym is not None else "")


def annotation_to_label(description: str) -> tuple[int | None, str]:
    """An annotation description in neurospell's marker coding, for an LSL marker stream.

    Returns
    -------
    code : int | None
        The integer code of a flash (:func:`flash_to_int`), :data:`TRIAL_START` for a trial
        marker, ``None`` for any other marker.
    label : str
        The LSL string: flashes :func:`flash_to_str`, trials :func:`trial_to_str`, phrases
        :func:`phrase_to_str`, anything else with ``/`` written ``:``.
    """
    d = str(description)
    info = parse_flash(d) if not d.strip().lstrip("-").isdigit() else None
    if info is not None:
        return flash_to_int(info.code, info.target), flash_to_str(info.code, info.target, info.members)
    tr = parse_trial(d)
    if tr is not None:
        return TRIAL_START, trial_to_str(*tr)
    ph = parse_phrase(d)
    if ph is not None:
        return None, phrase_to_str(ph.kind, ph.text)
    return None, d.replace("/", ":")


def marker_to_annotation(label: str) -> str:
    """The MNE annotation description of a neurospell marker string, in any form.

    Flash (``flash:3:target``), trial (``trial:4:A``) and phrase
    (``phrase:test:HELLO``) markers in their LSL string form become their annotation
    form (``flash/3/target``, ``trial/4/A``, ``phrase/test/HELLO``); a string already in
    annotation form, and any other text, is returned unchanged. Plain integer strings are
    not converted here (their meaning depends on the code table of the source).
    """
    text = str(label)
    if text.startswith(WORDS_PREFIX):
        return "words/" + text[len(WORDS_PREFIX):]
    phrase = parse_phrase(text)
    if phrase is not None:
        return phrase_to_annotation(*phrase)
    stripped = text.strip()
    if not stripped.lstrip("-").isdigit():
        info = parse_flash(stripped)
        if info is not None:
            return flash_to_annotation(info.code, info.target, info.members)
    trial = parse_trial(text)
    if trial is not None:
        return trial_to_annotation(trial[0], None if trial[1] is None else decode_symbol(trial[1]))
    return text
