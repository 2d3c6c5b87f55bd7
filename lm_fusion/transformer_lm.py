"""The project's character transformer as a language model, with a key/value cache per context.

The network itself is :mod:`.char_transformer_net`; its training is :mod:`.training`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from neurospell.check import NeurospellError, check_fname

from .base import DATA_DIR, LanguageModel
from .text import CHAR_TO_ID, TOKENS

__all__ = ["TransformerLM", "DATA_DIR"]


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
