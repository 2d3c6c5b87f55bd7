"""Training of the character transformer (``neurospell lm train``).

Fixed seed, one torch thread by default, time-capped with a cosine learning-rate schedule
over ``max(step / steps, elapsed / max_minutes)``, periodic checkpoints, and a JSON
training report (data, steps, time, held-out bits per character).
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from neurospell.fileio import atomic_path, atomic_write
from neurospell.logs import logger

from .text import CHAR_TO_ID, PUNCTUATION, TOKENS, load_chitchat

DEFAULTS = dict(n_layer=4, n_head=4, d_model=128, max_len=256, dropout=0.0, seq_len=128,
                batch_size=32, lr=3e-3, weight_decay=0.01, warmup=200)


def _stream(convs, rng, punct_drop: float = 0.5) -> np.ndarray:
    """One token stream: BOS + message for every message; half the messages lose punctuation."""
    bos = CHAR_TO_ID[TOKENS[0]]
    table = np.zeros(128, dtype=np.int64)
    for c, i in CHAR_TO_ID.items():
        table[ord(c)] = i
    parts = []
    strip = str.maketrans("", "", PUNCTUATION)
    for conv in convs:
        for msg in conv:
            if rng.random() < punct_drop:
                msg = " ".join(msg.translate(strip).split())
                if not msg:
                    continue
            parts.append(np.frombuffer(msg.encode("ascii"), dtype=np.uint8))
    out = np.empty(sum(len(p) + 1 for p in parts), dtype=np.int64)
    pos = 0
    for p in parts:
        out[pos] = bos
        out[pos + 1: pos + 1 + len(p)] = table[p]
        pos += len(p) + 1
    return out


def evaluate_stream(net, tokens: np.ndarray, seq_len: int, max_windows: int = 400) -> float:
    """Bits per character of ``net`` on a token stream (windows starting at BOS)."""
    import torch

    bos = CHAR_TO_ID[TOKENS[0]]
    starts = np.flatnonzero(tokens[:-seq_len - 1] == bos)
    if len(starts) > max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, max_windows).astype(int)]
    net.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(starts), 64):
            s = starts[i:i + 64]
            x = torch.from_numpy(np.stack([tokens[j:j + seq_len] for j in s]))
            y = torch.from_numpy(np.stack([tokens[j + 1:j + seq_len + 1] for j in s]))
            logits, _ = net(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                     reduction="none").reshape(y.shape)
            keep = y != bos  # BOS is never typed: do not score it
            tot += float(loss[keep].sum())
            n += int(keep.sum())
    net.train()
    return tot / max(n, 1) / math.log(2)


def train_char_transformer(out_dir, *, max_minutes: float = 50.0, steps: int = 20000, seed: int = 0,
                           threads: int = 1, checkpoint_every: int = 200, resume: bool = True,
                           **hparams) -> dict:
    """Train the character transformer on the Chit Chat corpus and write its files.

    Writes ``out_dir/char_transformer.pt`` (fp16 weights + config) and
    ``out_dir/char_transformer_report.json``; ``out_dir/checkpoint.pt`` is written every
    ``checkpoint_every`` steps (and resumed from when ``resume``).

    Parameters
    ----------
    out_dir : path-like
    max_minutes : float
        Wall-clock cap; the learning-rate schedule follows the elapsed fraction of it.
    steps : int
        Step cap.
    seed : int
    threads : int
        torch intra-op threads.
    **hparams
        Overrides of :data:`DEFAULTS`.

    Returns
    -------
    dict
        The training report.
    """
    import torch

    from .char_transformer_net import CharTransformerNet

    hp = dict(DEFAULTS)
    unknown = set(hparams) - set(hp)
    if unknown:
        raise ValueError(f"unknown hyper-parameters {sorted(unknown)}; allowed: {sorted(hp)}")
    hp.update(hparams)
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    t_data = time.perf_counter()
    train = _stream(load_chitchat("train", seed=0), rng)
    valid = _stream(load_chitchat("valid", seed=0), np.random.default_rng(seed + 1))
    logger.info("train stream %d tokens, valid %d tokens (%.1f s)", len(train), len(valid),
                time.perf_counter() - t_data)
    bos = CHAR_TO_ID[TOKENS[0]]
    seq = hp["seq_len"]
    starts = np.flatnonzero(train[:-seq - 1] == bos)

    net = CharTransformerNet(len(TOKENS), hp["n_layer"], hp["n_head"], hp["d_model"], hp["max_len"],
                             hp["dropout"])
    decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in net.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"], betas=(0.9, 0.98))
    step, elapsed_before, history = 0, 0.0, []
    ckpt_path = out_dir / "checkpoint.pt"
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed_before, history = ck["step"], ck["elapsed"], ck["history"]
        rng = np.random.default_rng([seed, step])
        logger.info("resumed at step %d", step)

    t0 = time.perf_counter()
    budget = max_minutes * 60.0
    best = None
    net.train()
    while step < steps:
        elapsed = elapsed_before + time.perf_counter() - t0
        progress = max(step / steps, elapsed / budget)
        if progress >= 1.0:
            break
        lr = hp["lr"] * min(1.0, (step + 1) / hp["warmup"]) * 0.5 * (1 + math.cos(math.pi * progress))
        lr = max(lr, hp["lr"] * 0.02)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = starts[rng.integers(0, len(starts), hp["batch_size"])]
        x = torch.from_numpy(np.stack([train[j:j + seq] for j in idx]))
        y = torch.from_numpy(np.stack([train[j + 1:j + seq + 1] for j in idx]))
        logits, _ = net(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            logger.info("step %d loss %.3f bpc %.3f lr %.2e %.0f s", step, loss.item(),
                        loss.item() / math.log(2), lr, elapsed)
        if step % checkpoint_every == 0:
            bpc = evaluate_stream(net, valid, seq, max_windows=200)
            history.append({"step": step, "seconds": round(elapsed, 1), "train_loss_bpc": round(loss.item() / math.log(2), 4),
                            "valid_bpc": round(bpc, 4)})
            logger.info("step %d valid bpc %.4f", step, bpc)
            ck = {"model": net.state_dict(), "opt": opt.state_dict(), "step": step,
                  "elapsed": elapsed_before + time.perf_counter() - t0, "history": history,
                  "config": net.config}
            with atomic_path(ckpt_path) as tmp:
                torch.save(ck, tmp)
            if best is None or bpc < best:
                best = bpc
                _save_weights(net, out_dir / "char_transformer.pt", seq)

    total = elapsed_before + time.perf_counter() - t0
    valid_bpc = evaluate_stream(net, valid, seq, max_windows=1000)
    history.append({"step": step, "seconds": round(total, 1), "valid_bpc": round(valid_bpc, 4)})
    if best is None or valid_bpc <= best:
        _save_weights(net, out_dir / "char_transformer.pt", seq)
    report = {
        "model": "char_transformer",
        "architecture": net.config,
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "hyperparameters": hp,
        "seed": seed,
        "data": {
            "corpus": "Chit Chat Challenge dataset (BYU PCC lab), PyPI chitchat-dataset 0.9.0, MIT licence",
            "split": "by conversation, sha256(seed:id): 90% train / 5% valid / 5% test (seed 0)",
            "normalisation": "upper case, apostrophes dropped, vocab A-Z 0-9 space .,?!; "
                             "punctuation removed from 50% of messages; each message starts at BOS",
            "train_tokens": int(len(train)),
            "valid_tokens": int(len(valid)),
        },
        "steps": step,
        "tokens_seen": int(step * hp["batch_size"] * seq),
        "train_seconds": round(total, 1),
        "threads": int(threads),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "valid_bits_per_char_windows": round(valid_bpc, 4),
        "history": history,
    }
    with atomic_write(out_dir / "char_transformer_report.json") as fid:
        json.dump(report, fid, indent=1)
    return report


def _save_weights(net, path: Path, seq_len: int) -> None:
    import torch

    state = {k: v.detach().to(torch.float16) for k, v in net.state_dict().items() if k != "head.weight"}
    with atomic_path(path) as tmp:
        torch.save({"config": net.config, "state_dict": state, "tokens": "".join(TOKENS),
                    "train_seq_len": int(seq_len)}, tmp)
