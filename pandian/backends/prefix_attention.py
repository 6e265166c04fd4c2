"""A decoder forward for LLaMA-family models on CPU that attends to a shared prefix without copying it into rows.

Why: at the sizes evaluated on CPUs (30M-1B parameters) a transformers forward spends about half its time outside
the matmuls, in elementwise passes over activations (norms, rotary, residual adds, attention-mask and KV-copy
work). Reusing a prefix's KV cache the generic way also copies the prefix into every row of a batch, per layer.
This forward computes the same function from the model's own weights with fewer passes: q/k/v and gate/up each as
one matmul, residual adds fused into the output matmuls, rotary applied in place, and attention split in two exact
parts that the fused CPU kernel computes, each with its log-sum-exp: all rows' queries against the one shared prefix
(the batch folded into the query length: one long attention call, no copies), and each row's queries against its
own tokens (plain causal attention, no mask). The two partial softmaxes are merged by their log-sum-exps: the
result is ordinary attention over [prefix; row], within floating-point rounding (the tests hold it to 1e-4).

Padding must be on the right, so that causality keeps real tokens from seeing pads. Models outside the supported
shape (other attention variants, sliding windows, quantized or non-SiLU layers, CUDA) use the transformers forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SUPPORTED_TYPES = {"qwen2", "qwen3", "llama", "mistral"}


def _attend(q, k, v, causal: bool, scale: float):
    """(output, log-sum-exp) of softmax attention, from the CPU flash kernel (which broadcasts grouped KV heads)."""
    out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal, scale=scale)
    return out[0], out[1]


def _plain_linear(m) -> bool:
    return type(m) is torch.nn.Linear and m.weight.dtype.is_floating_point


def config_supported(cfg) -> bool:
    """The model family and shape this decoder computes, read from the config alone."""
    if (cfg.model_type not in SUPPORTED_TYPES or getattr(cfg, "hidden_act", None) != "silu"
            or not hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")):
        return False
    # transformers applies a sliding window when Mistral's `sliding_window` or Qwen's `use_sliding_window` is set
    window = getattr(cfg, "use_sliding_window", False) if cfg.model_type.startswith("qwen") else \
        getattr(cfg, "sliding_window", None)
    return not window


def supported(model) -> bool:
    core = getattr(model, "model", None)
    if (next(model.parameters()).device.type != "cpu" or not config_supported(model.config)
            or core is None or not hasattr(core, "layers") or not hasattr(core, "rotary_emb")):
        return False
    for layer in core.layers:
        a, m = layer.self_attn, layer.mlp
        if not all(_plain_linear(x) for x in (a.q_proj, a.k_proj, a.v_proj, a.o_proj, m.gate_proj, m.up_proj,
                                                m.down_proj)):
            return False
    return True


def _fused(*linears):
    """One [out, in] weight (and bias) for linears that read the same input: their matmuls become one. The
    modules' own weights then become views into it, so the model takes no extra memory and computes as before."""
    w = torch.cat([m.weight.detach() for m in linears])
    start = 0
    for m in linears:
        n = m.weight.shape[0]
        m.weight.data = w[start:start + n]
        start += n
    biases = [m.bias for m in linears]
    if all(b is None for b in biases):
        return w, None
    return w, torch.cat([b.detach() if b is not None else torch.zeros_like(m.weight[:, 0])
                         for b, m in zip(biases, linears)])


class _Layer:
    def __init__(self, layer):
        a, m = layer.self_attn, layer.mlp
        self.ln1, self.eps1 = layer.input_layernorm.weight, layer.input_layernorm.variance_epsilon
        self.ln2, self.eps2 = layer.post_attention_layernorm.weight, layer.post_attention_layernorm.variance_epsilon
        self.qkv, self.qkv_bias = _fused(a.q_proj, a.k_proj, a.v_proj)
        self.o, self.o_bias = a.o_proj.weight.detach(), a.o_proj.bias
        self.gate_up, self.gate_up_bias = _fused(m.gate_proj, m.up_proj)
        self.down, self.down_bias = m.down_proj.weight.detach(), m.down_proj.bias
        self.q_norm = getattr(a, "q_norm", None)  # Qwen3: RMSNorm over each head before rotary
        self.k_norm = getattr(a, "k_norm", None)
        self.scale = a.scaling


def rms_norm(x, weight, eps):
    """transformers' RMSNorm, in the same order of operations (fp32 statistics, weight applied in x's dtype)."""
    x32 = x.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return normed.to(x.dtype).mul_(weight) if weight.dtype == x.dtype else weight * normed.to(x.dtype)


def _onednn_works() -> bool:
    try:
        x = torch.ones(2, 3)
        out = torch.ops.mkldnn._linear_pointwise(x, torch.ones(4, 3), torch.zeros(4), "none", [], "")
        return torch.equal(out, torch.full((2, 4), 3.0))
    except (AttributeError, RuntimeError):
        return False


# oneDNN's fp32 matmul where torch has it: 8% less CPU time than the BLAS default (MKL) at these shapes on this
# project's CPUs (AMD EPYC), the same results within rounding. Other dtypes and builds use the BLAS matmul.
_ONEDNN = _onednn_works()


def _linear(x, w, bias):
    """x @ w.T (+ bias), w in nn.Linear's [out, in] layout."""
    if _ONEDNN and x.dtype == torch.float32:
        return torch.ops.mkldnn._linear_pointwise(x, w, bias, "none", [], "")
    return torch.addmm(bias, x, w.t()) if bias is not None else x @ w.t()


def _add_linear(h, x, w, bias):
    """h + x @ w.T (+ bias), in h's storage (the residual stream)."""
    return h.add_(_linear(x, w, bias))


def _rotate_(out, x, cos, sin):
    """out = x * cos + rotate_half(x) * sin (transformers' rotary, half-split layout), without the concatenation."""
    half = x.shape[-1] // 2
    torch.mul(x, cos, out=out)
    out[..., :half].addcmul_(x[..., half:], sin[..., :half], value=-1)
    out[..., half:].addcmul_(x[..., :half], sin[..., half:])


class PrefixDecoder:
    """The model's decoder stack as a function of (rows of token ids, their first position, a shared prefix)."""

    def __init__(self, model):
        self.model = model
        core = model.model
        cfg = model.config
        self.embed = core.embed_tokens.weight
        self.norm, self.norm_eps = core.norm.weight, core.norm.variance_epsilon
        self.rotary = core.rotary_emb
        self.head = model.get_output_embeddings()
        self.heads = cfg.num_attention_heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.layers = [_Layer(layer) for layer in core.layers]

    @torch.no_grad()
    def hidden(self, ids: torch.Tensor, start: int, prefix: list | None = None, keep_kv: bool = False,
               lengths: list[int] | None = None):
        """Last-layer hidden states (before the final norm) of rows `ids` [B, L] at positions start..start+L-1,
        attending to `prefix` (per layer (keys, values), see `prefix_cache`) and to themselves. `lengths`: each
        row's real tokens (the rest is right padding); the result holds only those, packed row after row:
        [sum(lengths), hidden]. With keep_kv, also each layer's keys and values (for one row: the prefix itself).

        Only attention needs the rows' [B, L] shape: the norms, matmuls and MLP run on the real tokens alone, so
        padding costs no matmul work (7% of the tokens of CMMLU 5-shot batches)."""
        b, length = ids.shape
        h, kv, d = self.heads, self.kv_heads, self.head_dim
        lengths = lengths or [length] * b
        rows = torch.repeat_interleave(torch.arange(b), torch.tensor(lengths))
        cols = torch.cat([torch.arange(n) for n in lengths])
        n, padded = len(rows), sum(lengths) < b * length
        x = F.embedding(ids[rows, cols], self.embed)
        cos, sin = self.rotary(x[None, :1], torch.arange(start, start + length)[None])  # the same for every row
        cos, sin = cos[0, cols, None], sin[0, cols, None]  # [tokens, 1, head dim]
        kept = []
        for i, layer in enumerate(self.layers):
            qkv = _linear(rms_norm(x, layer.ln1, layer.eps1), layer.qkv, layer.qkv_bias).view(n, h + 2 * kv, d)
            if layer.q_norm is not None:
                qkv[:, :h] = layer.q_norm(qkv[:, :h])
                qkv[:, h:h + kv] = layer.k_norm(qkv[:, h:h + kv])
            qk = torch.empty_like(qkv[:, :h + kv])
            _rotate_(qk, qkv[:, :h + kv], cos, sin)
            grid_qk, grid_v = qk, qkv[:, h + kv:]  # in the rows' [B, L] grid: real tokens, zeros where padded
            if padded:
                grid_qk = qk.new_zeros(b, length, h + kv, d).index_put_((rows, cols), qk)
                grid_v = qk.new_zeros(b, length, kv, d).index_put_((rows, cols), grid_v)
            q = grid_qk.view(b, length, h + kv, d)[:, :, :h].transpose(1, 2)
            k = grid_qk.view(b, length, h + kv, d)[:, :, h:].transpose(1, 2)
            v = grid_v.reshape(b, length, kv, d).transpose(1, 2)
            if keep_kv:
                kept.append((k, v))
            out, lse = _attend(q, k, v, True, layer.scale)  # [B, H, L, D], [B, H, L]
            out = out.transpose(1, 2)[rows, cols] if padded else out.transpose(1, 2).reshape(n, h, d)
            if prefix is not None:
                pk, pv = prefix[i]
                folded = qk[:, :h].transpose(0, 1).unsqueeze(0)  # [1, H, tokens, D]: every row's queries as one
                pre, pre_lse = _attend(folded, pk, pv, False, layer.scale)
                pre = pre[0].transpose(0, 1)  # [tokens, H, D]
                lse = lse.transpose(1, 2)[rows, cols]  # [tokens, H]
                weight = torch.sigmoid(lse - pre_lse[0].transpose(0, 1)).unsqueeze(-1)
                # = (e^lse out + e^pre_lse pre) / (e^lse + e^pre_lse), merged in fp32 as the kernel's softmax is
                out = torch.lerp(pre.float(), out.float(), weight).to(out.dtype) if out.dtype != weight.dtype \
                    else torch.lerp(pre, out, weight)
            x = _add_linear(x, out.reshape(n, h * d), layer.o, layer.o_bias)
            gate_up = _linear(rms_norm(x, layer.ln2, layer.eps2), layer.gate_up, layer.gate_up_bias)
            inter = gate_up.shape[1] // 2
            gate = F.silu(gate_up[:, :inter], inplace=True).mul_(gate_up[:, inter:])
            x = _add_linear(x, gate, layer.down, layer.down_bias)
        return (x, kept) if keep_kv else x

    def prefix_cache(self, prefix_ids) -> list:
        """Per layer (keys, values) [1, KV heads, P, D] of a prefix, as `hidden` attends to them."""
        _, kept = self.hidden(torch.tensor([list(prefix_ids)]), 0, None, keep_kv=True)
        return [(k.contiguous(), v.contiguous()) for k, v in kept]

    @torch.no_grad()
    def logits(self, hidden_rows: torch.Tensor) -> torch.Tensor:
        """The model's logits for chosen hidden states [N, hidden] (final norm, then the LM head)."""
        return self.head(rms_norm(hidden_rows, self.norm, self.norm_eps))
