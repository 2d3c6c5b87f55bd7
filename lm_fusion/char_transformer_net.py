"""The network of the character transformer: a small causal (GPT-style) transformer
with a key/value cache, so that each new character costs one step.

Pure PyTorch; imported only when the transformer model is used or trained.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _row_linear(layer: nn.Linear, x):
    """``layer(x)`` for x of shape (rows, 1, d_in), computed row by row (one small matrix
    product per row, in one batched call): a row's result does not depend on how many rows
    are computed with it. A plain linear layer multiplies all rows in one matrix product,
    whose kernel (and summation order) depends on the number of rows, so a row's result
    would change in the last bits with the batch size."""
    rows = x.shape[0]
    w = layer.weight.t().expand(rows, -1, -1)
    if layer.bias is None:
        return torch.bmm(x, w)
    return torch.baddbmm(layer.bias.expand(rows, 1, -1), x, w)


class _Block(nn.Module):
    def __init__(self, d_model: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.fc_out = nn.Linear(4 * d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, past=None):
        b, t, d = x.shape
        h = self.n_head
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(b, t, h, d // h).transpose(1, 2)
        k = k.view(b, t, h, d // h).transpose(1, 2)
        v = v.view(b, t, h, d // h).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        n_past = k.shape[2] - t
        if t == 1:
            att = F.scaled_dot_product_attention(q, k, v)
        elif n_past == 0:
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(n_past)
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self._mlp(x, att), (k, v)

    def _mlp(self, x, att, linear=None):
        b, t, d = x.shape
        lin = linear or (lambda layer, y: layer(y))
        att = att.transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(lin(self.proj, att))
        return x + self.drop(lin(self.fc_out, F.gelu(lin(self.fc, self.ln2(x)))))

    def step(self, x, pasts):
        """One new token per row, each row after its own cache (see CharTransformerNet.step).

        The projections run on all rows in one call, each row on its own
        (:func:`_row_linear`); the attention runs per row over that row's cache, as
        :meth:`forward` does for one token. So a row's result is the same bit for bit
        whatever the other rows.
        """
        b, _, d = x.shape
        h = self.n_head
        q, k, v = _row_linear(self.qkv, self.ln1(x)).split(d, dim=2)
        q = q.view(b, 1, h, d // h).transpose(1, 2)
        k = k.view(b, 1, h, d // h).transpose(1, 2)
        v = v.view(b, 1, h, d // h).transpose(1, 2)
        att, presents = [], []
        for r, (past_k, past_v) in enumerate(pasts):
            k_r = torch.cat([past_k, k[r:r + 1]], dim=2)
            v_r = torch.cat([past_v, v[r:r + 1]], dim=2)
            att.append(F.scaled_dot_product_attention(q[r:r + 1], k_r, v_r))
            presents.append((k_r, v_r))
        return self._mlp(x, torch.cat(att, 0), _row_linear), presents


class CharTransformerNet(nn.Module):
    """Causal character transformer.

    Parameters
    ----------
    vocab_size : int
    n_layer, n_head, d_model : int
    max_len : int
        Longest context (learned position embeddings).
    dropout : float
    """

    def __init__(self, vocab_size: int, n_layer: int = 4, n_head: int = 4, d_model: int = 128,
                 max_len: int = 256, dropout: float = 0.0):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, d_model=d_model,
                           max_len=max_len, dropout=dropout)
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("fc_out.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, past=None):
        """Logits for the next token at every position.

        Parameters
        ----------
        idx : LongTensor, shape (batch, n_new)
        past : list of (key, value) | None
            Cache from a previous call (same batch); positions continue after it.

        Returns
        -------
        logits : Tensor, shape (batch, n_new, vocab_size)
        present : list of (key, value)
            The cache including these tokens.
        """
        n_past = 0 if past is None else past[0][0].shape[2]
        t = idx.shape[1]
        if n_past + t > self.max_len:
            raise ValueError(f"context of {n_past + t} tokens exceeds max_len={self.max_len}")
        pos = torch.arange(n_past, n_past + t, device=idx.device)
        x = self.tok(idx) + self.pos(pos)[None]
        present = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i])
            present.append(kv)
        return self.head(self.ln_f(x)), present

    def empty_cache(self) -> list:
        """The key/value cache of no token (for :meth:`step`: its first token is then the BOS)."""
        p = next(self.parameters())
        d_head = self.config["d_model"] // self.config["n_head"]
        empty = torch.zeros(1, self.config["n_head"], 0, d_head, dtype=p.dtype, device=p.device)
        return [(empty, empty) for _ in self.blocks]

    def step(self, tokens, pasts):
        """One new token for each of several contexts, in one batched pass.

        Each row continues its own cache (of any length, ``0`` included: the first token):
        the linear layers run on all rows in one call but each row on its own, the attention
        per row, so every row's result is the same bit for bit whatever the other rows (and
        their number) -- a step with one row gives it too. (:meth:`forward` computes the
        same up to floating-point rounding, in a different order.)

        Parameters
        ----------
        tokens : sequence of int, length n_rows
            The new token of each row.
        pasts : sequence of list of (key, value), length n_rows
            Each row's cache (from :meth:`forward` or :meth:`step`, batch size 1), keys and
            values of shape (1, n_head, n_past_row, d_head).

        Returns
        -------
        logits : Tensor, shape (n_rows, vocab_size)
            Logits of the token after each row's new token.
        presents : list of list of (key, value)
            Each row's cache including its new token (batch size 1, ``n_past_row + 1``
            positions).
        """
        n_rows = len(pasts)
        lengths = [p[0][0].shape[2] for p in pasts]
        if max(lengths) + 1 > self.max_len:
            raise ValueError(f"context of {max(lengths) + 1} tokens exceeds max_len={self.max_len}")
        idx = torch.as_tensor(tokens, dtype=torch.long).view(n_rows, 1)
        x = self.tok(idx) + self.pos(torch.as_tensor(lengths, dtype=torch.long))[:, None]
        per_row = [[] for _ in range(n_rows)]
        for i, block in enumerate(self.blocks):
            x, presents = block.step(x, [p[i] for p in pasts])
            for r, kv in enumerate(presents):
                per_row[r].append(kv)
        return _row_linear(self.head, self.ln_f(x))[:, 0], per_row
