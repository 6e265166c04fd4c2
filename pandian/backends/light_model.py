"""A LLaMA-family model's weights read straight from its safetensors files, for pandian's own CPU decoder
(`prefix_attention.PrefixDecoder`), without transformers' modelling code.

Why: on a 2-core CPU, importing transformers' model classes takes about 1.8 s (they pull in torch.distributed.tensor,
torch._dynamo and sympy), and building the module takes a few tenths more. The decoder needs only the weight tensors.
On a small model that was most of the time before the first scored question.

The module tree below uses transformers' attribute names and biases for each family, and the checkpoint must match
it key for key. The decoder therefore reads the same tensors in the same dtype and computes the same numbers as on
the transformers model (the tests compare the log-probs). Any checkpoint outside that shape loads through
transformers: renamed or extra keys, pre-quantized weights, custom code, a rope whose frequencies change with the
length. So does anything the decoder does not compute (generation, multi-token continuations); see `HFModel.model`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pandian.backends.model_files import index_shards
from pandian.backends.prefix_attention import config_supported, rms_norm

STATIC_ROPE = {"default", "linear", "yarn", "llama3"}  # frequencies fixed at load ("dynamic", "longrope" are not)


def _biases(cfg) -> tuple[bool, bool, bool]:
    """Whether q/k/v, o and the MLP projections have biases, as transformers' class of each family builds them."""
    if cfg.model_type == "qwen2":
        return True, False, False
    if cfg.model_type == "mistral":
        return False, False, False
    attn = bool(getattr(cfg, "attention_bias", False))  # llama, qwen3
    return attn, attn, cfg.model_type == "llama" and bool(getattr(cfg, "mlp_bias", False))


def _head_dim(cfg) -> int:
    return getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads


class _Norm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size))
        self.variance_epsilon = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.variance_epsilon)


class _Rotary(nn.Module):
    """transformers' rotary embedding for a rope type whose frequencies are fixed: (cos, sin) at given positions."""

    def __init__(self, cfg):
        super().__init__()
        rope = cfg.rope_parameters
        if rope["rope_type"] == "default":
            dim = _head_dim(cfg)
            inv_freq, self.attention_scaling = 1.0 / (rope["rope_theta"] ** (
                torch.arange(0, dim, 2, dtype=torch.float) / dim)), 1.0
        else:
            from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # light: no modelling code

            inv_freq, self.attention_scaling = ROPE_INIT_FUNCTIONS[rope["rope_type"]](cfg)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x, position_ids):
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)


class _Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden, d = cfg.hidden_size, _head_dim(cfg)
        heads, kv = cfg.num_attention_heads, getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        qkv_bias, o_bias, _ = _biases(cfg)
        self.q_proj = nn.Linear(hidden, heads * d, bias=qkv_bias)
        self.k_proj = nn.Linear(hidden, kv * d, bias=qkv_bias)
        self.v_proj = nn.Linear(hidden, kv * d, bias=qkv_bias)
        self.o_proj = nn.Linear(heads * d, hidden, bias=o_bias)
        self.scaling = d ** -0.5
        if cfg.model_type == "qwen3":
            self.q_norm, self.k_norm = _Norm(d, cfg.rms_norm_eps), _Norm(d, cfg.rms_norm_eps)


class _MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        bias = _biases(cfg)[2]
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=bias)


class _Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn, self.mlp = _Attention(cfg), _MLP(cfg)
        self.input_layernorm = _Norm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = _Norm(cfg.hidden_size, cfg.rms_norm_eps)


class _Core(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        # given its weight, nn.Embedding skips the random init, which on the meta device imports torch._dynamo (1.4 s)
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size,
                                         _weight=torch.empty(cfg.vocab_size, cfg.hidden_size))
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = _Norm(cfg.hidden_size, cfg.rms_norm_eps)


class LightModel(nn.Module):
    """The weights of a transformers causal LM under its own names, with no forward: PrefixDecoder computes it."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = _Core(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def get_output_embeddings(self):
        return self.lm_head


def _files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():  # check_model_dir has read it already: a broken index never gets here
        return [path / f for f in index_shards(index)]
    single = path / "model.safetensors"
    return [single] if single.is_file() else []


def _expected_keys(cfg) -> set[str]:
    with torch.device("meta"):
        keys = set(LightModel(cfg).state_dict())
    return keys - {"lm_head.weight"} if cfg.tie_word_embeddings else keys


def fits(path: Path, cfg) -> bool:
    """Whether this checkpoint loads as a LightModel computing what transformers' class computes: a family and shape
    the decoder supports, a fixed rope, no pre-quantized weights or custom code, and exactly the expected tensors."""
    rope = getattr(cfg, "rope_parameters", None) or {}
    if (not config_supported(cfg) or getattr(cfg, "quantization_config", None) or getattr(cfg, "auto_map", None)
            or rope.get("rope_type") not in STATIC_ROPE or "rope_theta" not in rope):
        return False
    files = _files(path)
    if not files:
        return False
    from safetensors import safe_open

    keys = set()
    for f in files:
        with safe_open(f, framework="pt") as st:
            keys.update(st.keys())
    return keys == _expected_keys(cfg)


def load_light_model(path: Path, cfg, dtype: torch.dtype) -> LightModel:
    """The checkpoint's tensors in `dtype` (as transformers' from_pretrained(dtype=...) converts them), one file at
    a time, in a LightModel built on the meta device: no memory is spent on initial weights."""
    from safetensors import safe_open

    with torch.device("meta"):
        model = LightModel(cfg)
    model.model.rotary_emb = _Rotary(cfg)  # computed, not stored: built on the CPU
    state = {}
    for f in _files(path):
        with safe_open(f, framework="pt") as st:
            for key in st.keys():
                state[key] = st.get_tensor(key).to(dtype)
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight  # one parameter, as transformers ties them
    return model.eval().requires_grad_(False)
