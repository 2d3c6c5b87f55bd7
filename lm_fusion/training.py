"""Training of the character transformer (``neurospell lm train``).

- **Data**: the Chit Chat corpus (``"chitchat"``) and/or UTF-8 text files, one message per
  line, each source with a mixing weight (the probability that a training window is drawn
  from it). Every message starts at the BOS token (the start-of-message state); punctuation is
  removed from a fixed half of the messages, so that grids without punctuation are
  in-distribution.
- **Compute**: CUDA with automatic mixed precision (bf16, or fp16 with a gradient scaler)
  when a GPU is present, else all CPU cores (torch threads = cores unless ``threads``).
- **Time**: capped by ``max_minutes`` with a cosine learning-rate schedule over
  ``max(step / steps, elapsed / max_minutes)``; checkpoints in the output folder, resumed
  from when present.
- **Warm start**: ``init`` = weights of an existing model of the same vocabulary and shape
  (fine-tuning the shipped model on new text).

Writes the weights (fp16), a JSON training report (data, steps, time, held-out bits per
character per validation source) and ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.fileio import atomic_path, atomic_write, file_sha256
from neurospell.logs import logger

from .text import CHAR_TO_ID, PUNCTUATION, TOKENS, load_chitchat, normalise

__all__ = ["DEFAULTS", "train_char_transformer", "read_messages", "token_stream", "evaluate_stream"]

DEFAULTS = dict(n_layer=4, n_head=4, d_model=128, max_len=256, dropout=0.0, seq_len=128,
                batch_size=32, lr=3e-3, weight_decay=0.01, warmup=200)
#: Hyper-parameters that fix the network's shape (a warm start or a resume must match them).
SHAPE = ("n_layer", "n_head", "d_model", "max_len")
CHITCHAT = "chitchat"
_BOS = CHAR_TO_ID[TOKENS[0]]
_TABLE = np.zeros(256, dtype=np.uint8)
for _c, _i in CHAR_TO_ID.items():
    _TABLE[ord(_c)] = _i
_PUNCT_IDS = np.array([CHAR_TO_ID[c] for c in PUNCTUATION], dtype=np.uint8)


def read_messages(source, split: str = "train") -> list[str]:
    """Normalised messages of a training source.

    Parameters
    ----------
    source : path-like | "chitchat"
        A UTF-8 text file (one message per line; each line passes through
        :func:`~neurospell.lm_fusion.text.normalise`), or ``"chitchat"`` for the Chit Chat
        corpus split ``split`` (needs the optional package ``chitchat-dataset``).
    split : "train" | "valid"
        Only used for ``"chitchat"``.

    Returns
    -------
    list of str
    """
    if str(source) == CHITCHAT:
        return [m for conv in load_chitchat(split, seed=0) for m in conv]
    path = check_fname(source, "source")
    with open(path, encoding="utf-8", errors="replace") as fid:
        lines = [normalise(line) for line in fid]
    lines = [t for t in lines if t]
    if not lines:
        raise NeurospellError(f"training text {str(path)!r} holds no message on the model's vocabulary.")
    return lines


def token_stream(messages, rng=None, punct_drop: float = 0.5) -> np.ndarray:
    """One token stream (uint8): BOS + message for every message.

    Parameters
    ----------
    messages : list of str
        Normalised messages.
    rng : numpy Generator | None
        Chooses the messages that lose their punctuation (none if ``None``).
    punct_drop : float
        Fraction of the messages whose punctuation is removed.

    Returns
    -------
    array of uint8, shape (n_tokens,)
    """
    text = "\x02" + "\x02".join(messages)
    stream = _TABLE[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    if rng is not None and punct_drop > 0:
        msg_id = np.cumsum(stream == _BOS) - 1
        drop_msg = rng.random(len(messages)) < punct_drop
        is_punct = np.isin(stream, _PUNCT_IDS)
        remove = is_punct & drop_msg[msg_id]
        # "HELLO, HOW" -> "HELLO HOW"; a punctuation mark between two spaces leaves one
        keep = ~remove
        kept = stream[keep]
        double = (kept[1:] == CHAR_TO_ID[" "]) & (kept[:-1] == CHAR_TO_ID[" "])
        bos_space = (kept[1:] == CHAR_TO_ID[" "]) & (kept[:-1] == _BOS)
        stream = kept[np.r_[True, ~(double | bos_space)]]
    return stream


def _windows(stream: np.ndarray, starts: np.ndarray, seq_len: int):
    x = np.stack([stream[j:j + seq_len] for j in starts]).astype(np.int64)
    y = np.stack([stream[j + 1:j + seq_len + 1] for j in starts]).astype(np.int64)
    return x, y


def _message_starts(stream: np.ndarray, seq_len: int) -> np.ndarray:
    return np.flatnonzero(stream[:len(stream) - seq_len - 1] == _BOS)


def evaluate_stream(net, tokens: np.ndarray, seq_len: int, max_windows: int = 400, *, device=None,
                    amp_dtype=None) -> float:
    """Bits per character of ``net`` on a token stream (windows starting at BOS; BOS unscored)."""
    import torch

    starts = _message_starts(tokens, seq_len)
    if len(starts) == 0:
        raise NeurospellError(f"validation text too short: it needs more than {seq_len + 1} characters.")
    if len(starts) > max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, max_windows).astype(int)]
    device = device or next(net.parameters()).device
    net.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(starts), 64):
            x, y = (torch.from_numpy(a).to(device) for a in _windows(tokens, starts[i:i + 64], seq_len))
            with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32,
                                enabled=amp_dtype is not None):
                logits, _ = net(x)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                     reduction="none").reshape(y.shape)
            keep = y != _BOS  # BOS is never typed: do not score it
            tot += float(loss[keep].sum())
            n += int(keep.sum())
    net.train()
    return tot / max(n, 1) / math.log(2)


def _pick_device(device):
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NeurospellError(f"device {str(device)!r}: no CUDA GPU is available to torch "
                              f"{torch.__version__}; use device 'cpu' (or leave it unset).")
    if device.type not in ("cpu", "cuda"):
        raise NeurospellError(f"device must be 'cpu' or 'cuda[:N]', got {str(device)!r}.")
    amp_dtype = None
    if device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return device, amp_dtype


def load_weights(path):
    """The blob written by :func:`_save_weights`: config, fp16 state dict (without the tied head)."""
    import torch

    path = check_fname(path, "init")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or "state_dict" not in blob or "config" not in blob:
        raise NeurospellError(f"{str(path)!r} is not a character-transformer weights file "
                              "(written by `neurospell lm train`).")
    if blob.get("tokens") != "".join(TOKENS):
        raise NeurospellError(f"{str(path)!r}: weights made for another vocabulary; they cannot be fine-tuned "
                              "on this one. Train from scratch (leave out the initial weights).")
    return blob


def _parse_sources(sources):
    """``[(source, weight), ...]`` with weights normalised; ``None`` -> Chit Chat alone."""
    if sources is None:
        sources = [(CHITCHAT, 1.0)]
    out = []
    for item in sources:
        src, w = (item, 1.0) if isinstance(item, (str, os.PathLike)) else item
        w = float(w)
        if not (w > 0 and math.isfinite(w)):
            raise NeurospellError(f"the mixing weight of training source {str(src)!r} must be a positive "
                                  f"number, got {w!r}.")
        out.append((str(src), w))
    total = sum(w for _, w in out)
    return [(s, w / total) for s, w in out]


def train_char_transformer(out_dir, *, sources=None, valid=None, max_minutes: float = 50.0, steps: int = 20000,
                           seed: int = 0, threads: int | None = None, device=None, init=None,
                           checkpoint_every: int = 200, resume: bool = True, punct_drop: float = 0.5,
                           pause_at_step: int | None = None, **hparams) -> dict:
    """Train the character transformer and write its files.

    Writes ``out_dir/char_transformer.pt`` (fp16 weights + config, the checkpoint with the
    best mean validation bits/char) and ``out_dir/char_transformer_report.json``;
    ``out_dir/checkpoint.pt`` is written every ``checkpoint_every`` steps (and resumed from
    when ``resume``).

    Parameters
    ----------
    out_dir : path-like
    sources : list of (path-like | "chitchat", float) | None
        Training sources and their mixing weights (normalised; the share of training windows
        drawn from each). Text files hold one message per line. Default: Chit Chat alone.
    valid : list of (path-like | "chitchat") | None
        Validation sources (each scored separately; the mean selects the checkpoint).
        Default: ``["chitchat"]`` (its validation split). Required when ``sources`` are files.
    max_minutes : float
        Wall-clock cap; the learning-rate schedule follows the elapsed fraction of it.
    steps : int
        Step cap.
    seed : int
    threads : int | None
        torch intra-op threads on CPU (default: every core this process may use).
    device : str | None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (default: CUDA when available). On CUDA the
        forward pass runs under autocast (bf16 where supported, else fp16 with a gradient
        scaler).
    init : path-like | None
        Weights to start from (warm start / fine-tuning): same vocabulary and shape
        (``n_layer``, ``n_head``, ``d_model``, ``max_len``); the shape hyper-parameters
        default to the file's. Ignored when resuming from a checkpoint.
    checkpoint_every : int
        Steps between checkpoints (each also scores the validation sources).
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` if it exists.
    punct_drop : float
        Fraction of messages whose punctuation is removed.
    pause_at_step : int | None
        Stop this call after that step, with a checkpoint, without ending the schedule (which
        runs over ``steps`` / ``max_minutes``): a later call resumes exactly where this one
        stopped (each step's batch is drawn from a generator seeded with ``(seed, step)``).
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
        raise NeurospellError(f"unknown hyper-parameters {sorted(unknown)}; allowed: {sorted(hp)}")
    init_blob = None
    if init is not None:
        init_blob = load_weights(init)
        for k in SHAPE:
            hp[k] = init_blob["config"][k]
    for k, v in hparams.items():
        if v is not None:
            if init_blob is not None and k in SHAPE and v != init_blob["config"][k]:
                raise NeurospellError(
                    f"warm start from {str(init)!r}: its {k} is {init_blob['config'][k]}, but {v} was asked for; "
                    "a warm start needs the same shape (leave the shape out, or train from scratch).")
            hp[k] = v
    sources = _parse_sources(sources)
    if valid is None:
        if any(s != CHITCHAT for s, _ in sources):
            raise NeurospellError("training on text files needs validation text: pass valid=[FILE, ...] "
                                  "(on the command line: --valid FILE).")
        valid = [CHITCHAT]
    valid = [str(v) for v in valid]
    dev, amp_dtype = _pick_device(device)
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    t_data = time.perf_counter()
    seq = hp["seq_len"]
    streams, data_info = [], []
    for k, (src, w) in enumerate(sources):
        stream = token_stream(read_messages(src, "train"), np.random.default_rng([seed, k]), punct_drop)
        starts = _message_starts(stream, seq)
        if len(starts) == 0:
            raise NeurospellError(f"training source {src!r} is too short for windows of {seq} characters.")
        streams.append((stream, starts))
        data_info.append({"source": src, "weight": round(w, 6), "tokens": int(len(stream)),
                          "messages": int((stream == _BOS).sum()),
                          "sha256": None if src == CHITCHAT else file_sha256(src)})
    valid_streams = {v: token_stream(read_messages(v, "valid"), np.random.default_rng([seed + 1, k]), punct_drop)
                     for k, v in enumerate(valid)}
    logger.info("training sources %s; validation %s (%.1f s)",
                ", ".join(f"{d['source']} ({d['tokens']} tokens, weight {d['weight']:.2f})" for d in data_info),
                ", ".join(f"{v} ({len(s)} tokens)" for v, s in valid_streams.items()), time.perf_counter() - t_data)
    weights = np.array([w for _, w in sources])

    net = CharTransformerNet(len(TOKENS), hp["n_layer"], hp["n_head"], hp["d_model"], hp["max_len"],
                             hp["dropout"])
    if init_blob is not None:
        state = {k: v.float() for k, v in init_blob["state_dict"].items()}
        state["head.weight"] = state["tok.weight"]
        net.load_state_dict(state)
        logger.info("warm start from %s", init)
    net.to(dev)
    decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in net.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"], betas=(0.9, 0.98))
    scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)
    step, elapsed_before, history, resumed_from = 0, 0.0, [], None
    ckpt_path = out_dir / "checkpoint.pt"
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        if ck.get("config") != net.config:
            raise NeurospellError(
                f"the checkpoint {str(ckpt_path)!r} is of another network ({ck.get('config')}, asked for "
                f"{net.config}); train into another output folder, or do not resume.")
        if ck.get("sources") not in (None, data_info):
            logger.warning("resuming a run made on other training data (%s)", ck.get("sources"))
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        step, elapsed_before, history = ck["step"], ck["elapsed"], ck["history"]
        resumed_from = step
        logger.info("resumed at step %d (%.0f s of training before)", step, elapsed_before)

    def _valid_scores(max_windows):
        return {v: evaluate_stream(net, s, seq, max_windows=max_windows, device=dev, amp_dtype=amp_dtype)
                for v, s in valid_streams.items()}

    t0 = time.perf_counter()
    budget = max_minutes * 60.0
    scored = [h["valid_bpc"] for h in history if "valid_bpc" in h]
    best = min(scored) if scored and (out_dir / "char_transformer.pt").exists() else None
    net.train()
    loss = None
    paused = False
    while step < steps:
        if pause_at_step is not None and step >= pause_at_step:
            paused = True
            break
        elapsed = elapsed_before + time.perf_counter() - t0
        progress = max(step / steps, elapsed / budget)
        if progress >= 1.0:
            break
        lr = hp["lr"] * min(1.0, (step + 1) / hp["warmup"]) * 0.5 * (1 + math.cos(math.pi * progress))
        lr = max(lr, hp["lr"] * 0.02)
        for g in opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([seed, step])  # a resumed run draws the same batches
        which = rng.choice(len(streams), size=hp["batch_size"], p=weights)
        xs, ys = [], []
        for k in np.unique(which):
            stream, starts = streams[k]
            x, y = _windows(stream, starts[rng.integers(0, len(starts), int((which == k).sum()))], seq)
            xs.append(x)
            ys.append(y)
        x = torch.from_numpy(np.concatenate(xs)).to(dev, non_blocking=True)
        y = torch.from_numpy(np.concatenate(ys)).to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits, _ = net(x)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        step += 1
        if step % 50 == 0:
            logger.info("step %d loss %.3f bpc %.3f lr %.2e %.0f s", step, loss.item(),
                        loss.item() / math.log(2), lr, elapsed)
        if step % checkpoint_every == 0:
            per = _valid_scores(200)
            bpc = float(np.mean(list(per.values())))
            history.append({"step": step, "seconds": round(elapsed, 1),
                            "train_loss_bpc": round(loss.item() / math.log(2), 4), "valid_bpc": round(bpc, 4),
                            "valid_bpc_per_source": {v: round(b, 4) for v, b in per.items()}})
            logger.info("step %d valid bpc %.4f", step, bpc)
            ck = {"model": net.state_dict(), "opt": opt.state_dict(), "scaler": scaler.state_dict(), "step": step,
                  "elapsed": elapsed_before + time.perf_counter() - t0, "history": history,
                  "config": net.config, "sources": data_info}
            with atomic_path(ckpt_path) as tmp:
                torch.save(ck, tmp)
            if best is None or bpc < best:
                best = bpc
                _save_weights(net, out_dir / "char_transformer.pt", seq)

    total = elapsed_before + time.perf_counter() - t0
    if paused:
        ck = {"model": net.state_dict(), "opt": opt.state_dict(), "scaler": scaler.state_dict(), "step": step,
              "elapsed": total, "history": history, "config": net.config, "sources": data_info}
        with atomic_path(ckpt_path) as tmp:
            torch.save(ck, tmp)
        logger.info("paused at step %d (checkpoint %s)", step, ckpt_path)
    per = _valid_scores(1000)
    valid_bpc = float(np.mean(list(per.values())))
    history.append({"step": step, "seconds": round(total, 1), "valid_bpc": round(valid_bpc, 4),
                    "valid_bpc_per_source": {v: round(b, 4) for v, b in per.items()}})
    if best is None or valid_bpc <= best:
        _save_weights(net, out_dir / "char_transformer.pt", seq)
    report = {
        "model": "char_transformer",
        "architecture": net.config,
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "hyperparameters": hp,
        "seed": seed,
        "data": {
            "sources": data_info,
            "valid": [{"source": v, "tokens": int(len(s)), "sha256": None if v == CHITCHAT else file_sha256(v)}
                      for v, s in valid_streams.items()],
            "chitchat": "Chit Chat Challenge dataset (BYU PCC lab), PyPI chitchat-dataset 0.9.0, MIT licence; "
                        "split by conversation, sha256(seed:id): 90% train / 5% valid / 5% test (seed 0)",
            "normalisation": f"upper case, apostrophes dropped, vocab A-Z 0-9 space .,?!; punctuation removed "
                             f"from {punct_drop:.0%} of messages; each message starts at BOS",
        },
        "init": None if init is None else {"path": str(init), "sha256": file_sha256(init)},
        "resumed_from_step": resumed_from,
        "paused": paused,
        "steps": step,
        "tokens_seen": int(step * hp["batch_size"] * seq),
        "train_seconds": round(total, 1),
        "device": str(dev),
        "amp": None if amp_dtype is None else str(amp_dtype).replace("torch.", ""),
        "threads": int(threads),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "valid_bits_per_char_windows": round(valid_bpc, 4),
        "valid_bits_per_char_per_source": {v: round(b, 4) for v, b in per.items()},
        "history": history,
    }
    with atomic_write(out_dir / "char_transformer_report.json") as fid:
        json.dump(report, fid, indent=1)
    return report


def _save_weights(net, path: Path, seq_len: int) -> None:
    import torch

    state = {k: v.detach().to("cpu", torch.float16) for k, v in net.state_dict().items() if k != "head.weight"}
    with atomic_path(path) as tmp:
        torch.save({"config": net.config, "state_dict": state, "tokens": "".join(TOKENS),
                    "train_seq_len": int(seq_len)}, tmp)
