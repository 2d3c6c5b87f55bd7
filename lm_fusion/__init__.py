"""neurospell.lm_fusion: language models (one protocol, a registry), fusion of EEG evidence
with the LM prior, dynamic stopping, candidate re-ranking and word completion.

Importing this package is light (numpy only); torch / transformers load when a model that
needs them is built.
"""

from .base import LanguageModel, context_key, register_model
from .cache import CacheLM
from .candidates import CandidateBeam, complete_words, rerank
from .evaluate import evaluate_lm, keystroke_savings, read_lines
from .fusion import BACKSPACE, choose_alpha, eeg_agrees, floor_prior, fuse, lm_prior, should_stop
from .models import HFCharLM, MixtureLM, TransformerLM, UniformLM, smollm2_gguf
from .ngram import NgramLM
from .registry import available_models, make_model
from .text import VOCAB, normalise
from .wordlm import WordLM

__all__ = [
    "LanguageModel", "available_models", "make_model", "register_model", "context_key",
    "UniformLM", "NgramLM", "TransformerLM", "MixtureLM", "HFCharLM", "smollm2_gguf", "WordLM", "CacheLM",
    "fuse", "floor_prior", "lm_prior", "should_stop", "eeg_agrees", "choose_alpha", "BACKSPACE",
    "CandidateBeam", "complete_words", "rerank", "evaluate_lm", "keystroke_savings", "read_lines", "VOCAB", "normalise",
]
