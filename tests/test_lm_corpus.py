"""The LM corpus builder, long n-grams and word-completion keystroke savings (issue 13).

The corpus builder reads packages in their real formats (a Debian ``.deb`` ar archive with a
``data.tar.xz``, a PyPI sdist ``.tar.gz``, a wheel ``.zip``, the installed
``chatterbot-corpus``), written here in miniature: no network.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import neurospell.lm_fusion.ngram as ngram_mod
from neurospell.check import NeurospellError
from neurospell.lm_fusion import NgramLM, UniformLM, keystroke_savings
from neurospell.lm_fusion.corpus import build_corpus, read_deb_member, source_splits
from neurospell.lm_fusion.text import VOCAB

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# Real lines of WordNet 3.0's data.verb (WordNet 3.0 Copyright 2006 by Princeton University).
WORDNET_VERB = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.  By obtaining, using
00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 | draw air into, and expel out of, the lungs; "I can breathe better when the air is clean"; "The patient is respiring"
00002724 29 v 01 choke 0 002 @ 00001740 v 0000 + 14058252 n 0101 01 + 02 00 | breathe with great difficulty, as when experiencing a strong emotion; "She choked with emotion when she spoke about her deceased husband"
00002942 29 v 01 hyperventilate 0 003 @ 00001740 v 0000 + 00833870 n 0101 $ 00003133 v 0000 01 + 02 00 | breathe excessively hard and fast; "The mountain climber started to hyperventilate"
00003316 29 v 01 hiccup 0 002 + 14359459 n 0101 01 + 02 00 | breathe spasmodically; "When you have to hiccup, drink a glass of cold water"
00003431 29 v 01 sigh 0 002 + 00914343 n 0101 01 + 02 00 | heave or utter a sigh; "She sighed sadly"
"""

MULTIWOZ_USER = {
    "Attraction-Inform": {
        "none;": ["Hi , I am planning a trip and need some help with a particular attraction .",
                  "Yeah , I ' m looking for an entertaining tourist attraction ."],
        "Area;": ["I want to go somewhere in the #ATTRACTION-INFORM-AREA# please .",
                  "Something in the #ATTRACTION-INFORM-AREA# , I do n't mind what ."],
        "Odd;": ["Book it for #ATTRACTION-INFORM-UNKNOWNSLOT# ."],  # a slot without values: dropped
    },
    "Train-Inform": {"Day;Dest;": ["I need a train to #TRAIN-INFORM-DEST# on #TRAIN-INFORM-DAY# ."]},
}
MULTIWOZ_SYSTEM = {"general-bye": {"none;": ["Thank you for using our service , have a great day !"]}}

HA_INTENTS = {
    "language": "en",
    "intents": {
        "HassTurnOn": {"data": [{"sentences": ["turn on [the] {name}", "<switch> on the lights [in the {area}]"]}]},
        "HassShoppingListAddItem": {"data": [{"sentences": ["add {shopping_list_item} to my shopping list"]}]},
        "HassLightSet": {"data": [{"sentences": ["set [the] brightness to {brightness} percent"]}]},
    },
    "lists": {"shopping_list_item": {"wildcard": True}, "brightness": {"range": {"from": 0, "to": 100}}},
    "expansion_rules": {"switch": "(switch|turn)"},
}

DASHER_TEXT = """\
Hello there! Hi.
The cat sat on the mat. It was a sunny day, and the dog ran after the ball.
`Right, as usual,' said the countess: `what a clear way you have of putting things!'
Clear blue water.
"""


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_deb(path: Path, files: dict[str, bytes]) -> None:
    """A Debian binary package: an ar archive of debian-binary, control.tar.xz, data.tar.xz."""
    members = [("debian-binary", b"2.0\n"),
               ("control.tar.xz", _tar_bytes({"./control": b"Package: test\n"}, "w:xz")),
               ("data.tar.xz", _tar_bytes({f"./{k}": v for k, v in files.items()}, "w:xz"))]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode("ascii")
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    _write_deb(folder / "wordnet-base_1%3a3.0-37_all.deb", {"usr/share/wordnet/data.verb": WORDNET_VERB.encode(),
                                                           "usr/share/wordnet/data.noun": b"",
                                                           "usr/share/wordnet/data.adj": b"",
                                                           "usr/share/wordnet/data.adv": b""})
    _write_deb(folder / "dasher-data_5.0.0_all.deb",
               {"usr/share/dasher/training_english_GB.txt": DASHER_TEXT.encode()})
    base = "convlab-3.0.1/convlab/nlg/template/multiwoz/"
    (folder / "convlab-3.0.1.tar.gz").write_bytes(_tar_bytes(
        {base + "auto_user_template_nlg.json": json.dumps(MULTIWOZ_USER).encode(),
         base + "auto_system_template_nlg.json": json.dumps(MULTIWOZ_SYSTEM).encode()}, "w:gz"))
    with zipfile.ZipFile(folder / "home_assistant_intents-2026.11.25-py3-none-any.whl", "w") as z:
        z.writestr("home_assistant_intents/data/en.json", json.dumps(HA_INTENTS))
    return folder


def test_read_deb_member(sources):
    deb = sources / "dasher-data_5.0.0_all.deb"
    assert read_deb_member(deb, "usr/share/dasher/training_english_GB.txt").decode() == DASHER_TEXT
    with pytest.raises(NeurospellError, match="no file"):
        read_deb_member(deb, "usr/share/dasher/nothing.txt")
    with pytest.raises(NeurospellError, match="not a Debian package"):
        read_deb_member(sources / "convlab-3.0.1.tar.gz", "x")


def test_sources_are_normalised_and_split(sources):
    wn = source_splits("wordnet", sources)
    lines = sorted(line for split in wn.values() for line in split)
    # examples of >= 3 words only ("She sighed sadly" is 3 words; licence header skipped)
    assert lines == sorted(["I CAN BREATHE BETTER WHEN THE AIR IS CLEAN", "THE PATIENT IS RESPIRING",
                            "SHE CHOKED WITH EMOTION WHEN SHE SPOKE ABOUT HER DECEASED HUSBAND",
                            "THE MOUNTAIN CLIMBER STARTED TO HYPERVENTILATE",
                            "WHEN YOU HAVE TO HICCUP, DRINK A GLASS OF COLD WATER", "SHE SIGHED SADLY"])
    # both examples of one synset land in the same split
    where = {line: split for split, ls in wn.items() for line in ls}
    assert where["I CAN BREATHE BETTER WHEN THE AIR IS CLEAN"] == where["THE PATIENT IS RESPIRING"]

    mw = [line for split in source_splits("multiwoz", sources).values() for line in split]
    assert "YEAH, IM LOOKING FOR AN ENTERTAINING TOURIST ATTRACTION." in mw  # "I ' m" rejoined
    assert any(line.startswith("SOMETHING IN THE ") and line.endswith(", I DONT MIND WHAT.") for line in mw)
    assert not any("#" in line or "UNKNOWNSLOT" in line for line in mw)
    assert len(mw) == 6  # the template with an unknown slot is dropped

    req = source_splits("requests", sources)
    assert set(req) == {"valid", "test"}  # never trained on
    lines = [line for ls in req.values() for line in ls]
    assert any(line.startswith("ADD ") and line.endswith(" TO MY SHOPPING LIST") for line in lines)
    assert any(line.startswith(("SWITCH ON THE LIGHTS", "TURN ON THE LIGHTS")) for line in lines)
    assert all(set(line) <= set(VOCAB) for line in lines)

    dasher = [line for ls in source_splits("dasher", sources).values() for line in ls]
    assert "HELLO THERE!" in dasher and "HI." in dasher and "CLEAR BLUE WATER." in dasher
    assert "IT WAS A SUNNY DAY, AND THE DOG RAN AFTER THE BALL." in dasher


def test_build_corpus_writes_disjoint_sets(sources, tmp_path):
    names = ["multiwoz", "chatterbot", "wordnet", "requests", "dasher"]
    manifest = build_corpus(tmp_path / "c", sources, sources=names)
    out = tmp_path / "c"
    read = {f.name: f.read_text().splitlines() for f in out.glob("*.txt")}
    assert read["train.txt"] == read["train_multiwoz.txt"] + read["train_chatterbot.txt"] + read["train_wordnet.txt"]
    assert len(read["train_chatterbot.txt"]) > 1000  # the installed chatterbot-corpus package
    assert "GOOD MORNING, HOW ARE YOU?" in read["train_chatterbot.txt"] + read["valid_chatterbot.txt"]
    assert "train_requests.txt" not in read and "train_dasher.txt" not in read  # held out
    train = set(read["train.txt"])
    for name in ("requests", "dasher", "wordnet"):
        assert not train & set(read.get(f"test_{name}.txt", [])), name
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for fname, info in manifest["files"].items():
        assert info["lines"] == len(read[fname]) and info["chars"] == sum(map(len, read[fname]))
    assert manifest["sources"]["requests"]["ship_model"] is False


def test_corpus_command_runs_and_missing_sources_write_nothing(sources, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NEUROSPELL_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "neurospell", "lm", "corpus", "--out", "c", "--sources", str(sources),
           "--source", "wordnet", "--source", "dasher"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test_dasher.txt" in proc.stdout and (tmp_path / "c" / "test_dasher.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(cmd[:7] + ["--out", "d", "--sources", str(empty), "--source", "multiwoz"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "convlab" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "d").exists()


def test_hashed_long_ngrams_equal_packed_ones(monkeypatch, tmp_path):
    """Orders above MAX_PACKED are hashed: the same model as packed keys, bit for bit."""
    lines = (DATA / "lm_heldout_chitchat.txt").read_text().splitlines()
    train, test = lines[:150], lines[150:160]
    contexts = [t[:i] for t in test for i in range(len(t))]
    packed = NgramLM(8).fit(train)
    expected = np.array([packed.next_logp(c) for c in contexts])
    monkeypatch.setattr(ngram_mod, "MAX_PACKED", 4)
    hashed = NgramLM(8).fit(train)
    assert [len(k) for k in hashed.keys_] == [len(k) for k in packed.keys_]
    assert np.array_equal(np.array([hashed.next_logp(c) for c in contexts]), expected)
    hashed.reset()
    hashed.prefetch(contexts[:40])  # the batched path
    assert np.array_equal(np.array([hashed.next_logp(c) for c in contexts[:40]]), expected[:40])
    hashed.save(tmp_path / "h.npz")
    loaded = NgramLM.load(tmp_path / "h.npz")
    assert np.array_equal(np.array([loaded.next_logp(c) for c in contexts]), expected)


def test_twelve_gram_fits_and_orders_are_checked(tmp_path):
    lines = (DATA / "lm_heldout_chitchat.txt").read_text().splitlines()
    lm = NgramLM(12).fit(lines)
    assert len(lm.keys_) == 12
    # a 12-gram remembers an 11-character context it saw: the next character is near certain
    line = next(t for t in lines if len(t) > 30)
    assert np.exp(lm.next_logp(line[:20])[VOCAB.index(line[20])]) > 0.5
    lm.save(tmp_path / "n12.npz")
    assert np.array_equal(NgramLM.load(tmp_path / "n12.npz").next_logp(line[:20]), lm.next_logp(line[:20]))
    for bad in (0, 17, 2.0, True):
        with pytest.raises(NeurospellError, match="order"):
            NgramLM(bad)


def test_keystroke_savings_by_hand():
    """HELLO WORLD learnt by heart: both words offered before their first letter.

    Each word costs 1 keystroke (the pick) instead of 5: 1 - 2/10 = 0.8. With the uniform model
    and one completion, the word offered is always the prefix itself: nothing is saved.
    """
    lm = NgramLM(6).fit(["HELLO WORLD"] * 3)
    r = keystroke_savings(lm, ["HELLO WORLD"], k=1)
    assert r["keystroke_savings"] == pytest.approx(0.8)
    assert (r["ks_words"], r["ks_chars"], r["ks_keystrokes"], r["ks_offered"]) == (2, 10, 2, 1.0)
    r = keystroke_savings(UniformLM(), ["HELLO WORLD"], k=1)
    assert r["keystroke_savings"] == 0.0 and r["ks_keystrokes"] == 10
    # an unknown second word: HELLO is picked at once (1 of 5); THERE is not offered before its
    # last letter by the HELLO WORLD model with one completion, so it is typed in full (5)
    r = keystroke_savings(lm, ["HELLO THERE"], k=1)
    assert (r["ks_keystrokes"], r["keystroke_savings"]) == (6, pytest.approx(0.4))
    with pytest.raises(NeurospellError, match="k must be"):
        keystroke_savings(lm, ["HELLO"], k=0)
    with pytest.raises(NeurospellError, match="no word"):
        keystroke_savings(lm, [" ,.", ""], k=1)


def test_shipped_heldout_samples_are_normalised_and_unseen():
    from neurospell.lm_fusion.text import normalise

    for name in ("chitchat", "requests", "wordnet"):
        lines = (DATA / f"lm_heldout_{name}.txt").read_text().splitlines()
        assert len(lines) == 200, name
        assert all(line and normalise(line) == line for line in lines), name
    assert "lm_heldout_" in (DATA / "README.md").read_text()
