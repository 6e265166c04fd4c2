"""The floor of multiple-choice scoring: the FLOPs that must be computed, over this machine's matmul rate.

Must be computed: each distinct token once through the decoder (each subject's shared few-shot prefix once, then
each question's own tokens), the LM head once per question, and causal attention over the real contexts. lm-eval
computes every question's whole context, and the LM head at every position.
"""

from __future__ import annotations

import time

import torch

from pandian.backends.engine import common_prefix_len


def matmul_rate(device: torch.device, dtype: torch.dtype) -> float:
    """Sustained FLOP/s of a large square matmul, the machine's practical ceiling."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps = 20 if device.type == "cuda" else 6
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def param_split(cfg) -> tuple[int, int]:
    """(decoder parameters that every token passes through, LM head parameters), from a config alone."""
    hidden, layers, inter = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    heads = cfg.num_attention_heads
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    per_layer = hidden * head_dim * (2 * heads + 2 * kv) + 3 * hidden * inter
    return layers * per_layer, cfg.vocab_size * hidden


def _by_subject(requests: list) -> dict:
    groups: dict = {}
    for r in requests:
        groups.setdefault(r["subject"], []).append(r["ids"])
    return groups


def unique_tokens(requests: list) -> int:
    total = 0
    for ids in _by_subject(requests).values():
        p = common_prefix_len(ids)
        total += p + sum(len(x) - p for x in ids)
    return total


def attention_flops(requests: list, cfg, unique: bool) -> float:
    """QK^T and AV: 4 x layers x (heads x head_dim) per (query, key) pair, causal."""
    width = cfg.num_attention_heads * (getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    pairs = 0
    for ids in _by_subject(requests).values():
        p = common_prefix_len(ids) if unique else 0
        pairs += p * (p + 1) // 2
        for x in ids:
            pairs += len(x) * (len(x) + 1) // 2 - p * (p + 1) // 2
    return 4 * cfg.num_hidden_layers * width * pairs


def flops(requests: list, cfg) -> dict:
    """Token counts and FLOPs of the floor and of lm-eval's way, for requests with their token `ids`."""
    body, head = param_split(cfg)
    uniq = unique_tokens(requests)
    full = sum(len(r["ids"]) for r in requests)
    embeddings = 0 if getattr(cfg, "tie_word_embeddings", False) else head
    return {"params_m": round((body + head + embeddings) / 1e6, 1),
            "tokens_lmeval": full, "tokens_unique": uniq,
            "floor_flop": 2 * body * uniq + 2 * head * len(requests) + attention_flops(requests, cfg, unique=True),
            "lmeval_flop": 2 * (body + head) * full + attention_flops(requests, cfg, unique=False)}
