"""Attention against a shared prefix without copying it into every row.

Reusing a prefix's KV cache the generic way copies the prefix keys and values into each of the B rows of a batch,
per layer (then again to repeat grouped KV heads) and builds a B x L x (P + L) mask. Here attention is split in two
exact parts that the fused kernel computes, each with its log-sum-exp: all rows' queries against the one shared
prefix (the batch folded into the query length: one long attention call, no copies), and each row's queries
against its own tokens (plain causal attention, no mask). The two partial softmaxes are merged by their
log-sum-exps: the result is ordinary attention over [prefix; row], within floating-point rounding.

Used for models on transformers' attention interface with standard causal self-attention (Qwen2/3, LLaMA,
Mistral without sliding windows) on CPU, where it was measured faster; elsewhere the engine copies the KV cache.
Padding must be on the right, so that causality keeps real tokens from seeing pads.
"""

from __future__ import annotations

import contextlib

import torch

NAME = "pandian_shared_prefix"
SUPPORTED_TYPES = {"qwen2", "qwen3", "llama", "mistral"}

# Per layer: prefix keys and values repeated to all query heads, [1, heads, P, head dim]; None: no prefix.
_prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None


def _attend(q, k, v, causal: bool, scale: float):
    """(output, log-sum-exp) of softmax attention, from the CPU flash kernel."""
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal, scale=scale)


def shared_prefix_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """query [B, H, L, D]; key/value [B, KV heads, L, D]: this forward's own tokens (no cache)."""
    b, h, length, d = query.shape
    scale = scaling if scaling is not None else d ** -0.5
    rep = h // key.shape[1]
    if rep > 1:
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    out, lse = _attend(query, key, value, True, scale)
    if _prefix is not None:
        pk, pv = _prefix[module.layer_idx]
        folded = query.transpose(0, 1).reshape(1, h, b * length, d)  # every row's queries, one sequence per head
        pre, pre_lse = _attend(folded, pk, pv, False, scale)
        pre = pre.reshape(h, b, length, d).transpose(0, 1)
        pre_lse = pre_lse.reshape(h, b, length).transpose(0, 1)
        top = torch.maximum(lse, pre_lse)
        w_own, w_pre = (lse - top).exp().unsqueeze(-1), (pre_lse - top).exp().unsqueeze(-1)
        # the log-sum-exps are fp32 whatever the model's dtype: merge in fp32, hand back the model's dtype
        out = ((out * w_own + pre * w_pre) / (w_own + w_pre)).to(query.dtype)
    return out.transpose(1, 2).contiguous(), None


def supported(model) -> bool:
    cfg = model.config
    return (next(model.parameters()).device.type == "cpu" and cfg.model_type in SUPPORTED_TYPES
            and getattr(model, "_supports_attention_backend", False) and not getattr(cfg, "use_sliding_window", False)
            and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"))


def prefix_tensors(cache, heads: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A prefix forward's KV cache as this module keeps it: per layer, repeated to all query heads."""
    out = []
    for layer in cache:
        k, v = layer[0], layer[1]
        rep = heads // k.shape[1]
        out.append((k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)))
    return out


@contextlib.contextmanager
def active(model, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None):
    """Run `model` with shared-prefix attention over `prefix` (None: plain causal attention) for the duration."""
    global _prefix
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, shared_prefix_attention)
    before, _prefix = _prefix, prefix
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)
        _prefix = before
