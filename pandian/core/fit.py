"""Will a model fit a GPU? Inference memory predicted from config.json alone, no weights needed.

total = weights + KV cache + activations + a fixed CUDA overhead. Every size is in GiB, printed "GB" as the
field does: nvidia-smi's MiB / 1024, torch.cuda.max_memory_allocated() / 2**30 and a "24 GB" card (24,564 MiB)
all count that way. tests/test_fit.py checks the sums against 105 published GPU-memory figures (mean error
about 6%, most within 10%) and against a forward measured on CPU.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
# CUDA context (~0.4-0.6 GiB with lazy module loading), cuBLAS workspaces and the caching allocator's rounding
# and fragmentation. nvidia-smi sees it, torch.cuda.max_memory_allocated() does not.
CUDA_OVERHEAD_GB = 0.8
DEFAULT_CONTEXT = 2048
# The published figures scatter about +-10% around the estimate: a verdict with less headroom than this is a guess.
BORDERLINE = 0.10

# Bytes per weight of a decoder linear layer, its quantization scales included.
WEIGHT_BYTES = {
    "fp32": 4, "bf16": 2, "fp16": 2,
    "int8": 1,  # bitsandbytes LLM.int8: one fp32 scale per output row, negligible
    # bitsandbytes nf4/fp4: one fp32 absmax per 64 weights (transformers' default, no double quantization)
    "int4": 0.5 + 4 / 64,
    "gptq-int8": 1 + 3 / 128,  # GPTQ/AWQ, group 128: an fp16 scale and a packed zero point per group
    "gptq-int4": 0.5 + 2.5 / 128,
}
QUANT_ALIASES = {
    None: "bf16", "": "bf16", "none": "bf16", "16bit": "bf16", "16-bit": "bf16", "half": "fp16", "bfloat16": "bf16",
    "float16": "fp16", "float32": "fp32", "32bit": "fp32", "8bit": "int8", "8-bit": "int8", "llm.int8": "int8",
    "4bit": "int4", "4-bit": "int4", "nf4": "int4", "fp4": "int4", "awq": "gptq-int4", "awq-int4": "gptq-int4",
}


def normalize_quant(quant: str | None) -> str:
    key = quant.strip().lower() if isinstance(quant, str) else quant
    q = QUANT_ALIASES.get(key, key)
    if q not in WEIGHT_BYTES:
        raise ValueError(f"unknown precision '{quant}': use fp32, bf16, fp16, int8, int4 (bitsandbytes nf4), "
                         "gptq-int8, gptq-int4 or awq")
    return q


@dataclass(frozen=True)
class Arch:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int  # width of one MLP branch (the SwiGLU gate and up projections each have this many outputs)
    gated: bool  # SwiGLU: three hidden x ffn matrices; GLM-1's GELU MLP: two
    vocab: int
    tied: bool
    max_positions: int | None

    @property
    def layer_linear_params(self) -> int:
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        attention = 2 * self.hidden * q + 2 * self.hidden * kv  # q and o projections; k and v
        return self.layers * (attention + (3 if self.gated else 2) * self.hidden * self.ffn)

    @property
    def kept_16bit_params(self) -> int:
        # What int8/int4 loaders leave in 16-bit: embeddings, lm_head (bitsandbytes skips the output embedding,
        # GPTQ/AWQ quantize only the decoder's linears) and the norms. Biases (Qwen, ChatGLM2, InternLM qkv) are
        # under 0.1% of any model here and are left out.
        heads_out = 0 if self.tied else self.vocab * self.hidden
        return self.vocab * self.hidden + heads_out + (2 * self.layers + 1) * self.hidden

    @property
    def params(self) -> int:
        return self.layer_linear_params + self.kept_16bit_params


def _first(config: dict, *keys, default=None):
    for k in keys:
        if config.get(k) is not None:
            return config[k]
    return default


def read_arch(config: dict) -> Arch:
    """Architecture numbers from the config styles of Qwen, Qwen2, LLaMA/Yi/DeepSeek, Baichuan, ChatGLM, InternLM."""
    if _first(config, "num_experts", "n_routed_experts", "num_local_experts"):
        raise ValueError("mixture-of-experts configs are not supported: every expert's weights would need counting")
    required = (("hidden_size",), ("num_hidden_layers", "num_layers", "n_layer"), ("num_attention_heads", "n_head"),
                ("vocab_size", "padded_vocab_size"))
    missing = [keys[0] for keys in required if not isinstance(_first(config, *keys), int) or _first(config, *keys) < 1]
    if missing:
        raise ValueError(f"config.json has no {', '.join(missing)} (or not as a positive integer): a partial config "
                         "cannot be sized")
    hidden = config["hidden_size"]
    layers = _first(config, "num_hidden_layers", "num_layers", "n_layer")
    heads = _first(config, "num_attention_heads", "n_head")
    # ChatGLM-6B (GLM-1): GELU MLP; its lm_head is tied to the embedding by PretrainedConfig's default.
    glm1 = "inner_hidden_size" in config
    if config.get("multi_query_attention"):  # ChatGLM2/3, GLM-4: a few shared key/value groups
        kv_heads = config.get("multi_query_group_num", 1)
    else:
        kv_heads = _first(config, "num_key_value_heads", default=heads)
    head_dim = _first(config, "head_dim", "kv_channels", default=hidden // heads)
    if config.get("model_type") == "qwen" and "intermediate_size" in config:
        ffn = config["intermediate_size"] // 2  # Qwen-1's intermediate_size counts w1 and w2 together
    else:
        ffn = _first(config, "intermediate_size", "ffn_hidden_size", "inner_hidden_size", default=4 * hidden)
    # ChatGLM2/3 have a separate output_layer and no tie_word_embeddings key; LLaMA-style configs default to untied.
    tied = config.get("tie_word_embeddings", glm1)
    name = config.get("_name_or_path") or config.get("model_type") or "model"
    return Arch(name=str(name), hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                ffn=ffn, gated=not glm1, vocab=_first(config, "padded_vocab_size", "vocab_size"), tied=bool(tied),
                max_positions=_first(config, "seq_length", "model_max_length", "max_sequence_length",
                                     "max_position_embeddings"))


def estimate(config: dict, quant: str | None = None, context: int = DEFAULT_CONTEXT, batch: int = 1, *,
             all_logits: bool = False, cuda_overhead_gb: float = CUDA_OVERHEAD_GB) -> dict:
    """Peak inference memory for `batch` sequences of `context` tokens, each piece in GB (GiB).

    Assumptions, each a choice a user can check: the prompt of `context` tokens is prefilled in one forward;
    attention is memory-efficient (SDPA / flash: no context x context score matrix); only the last position's
    logits are computed, as generate() and vLLM do (all_logits=True: every position's, in fp32, as a plain
    forward or a scoring loop does); the KV cache and activations are in the compute dtype (fp32 only when the
    model runs in fp32, else 16-bit, also for int8/int4 weights).
    """
    if context < 1 or batch < 1:
        raise ValueError(f"--context and --batch must be at least 1 (got context {context}, batch {batch})")
    arch = read_arch(config)
    q = normalize_quant(quant)
    act = 4 if q == "fp32" else 2
    quantized = q not in ("fp32", "bf16", "fp16")
    if quantized:
        weights = arch.layer_linear_params * WEIGHT_BYTES[q] + arch.kept_16bit_params * 2
    else:
        weights = arch.params * WEIGHT_BYTES[q]
    kv = arch.layers * 2 * arch.kv_heads * arch.head_dim * context * batch * act

    tokens = context * batch
    q_dim, kv_dim = arch.heads * arch.head_dim, arch.kv_heads * arch.head_dim
    mlp = (3 if arch.gated else 2) * arch.ffn  # SwiGLU: act(gate), up and their product alive at once; GELU: fc1, gelu
    attention = 2 * q_dim + 2 * kv_dim  # q, k, v and the attention output
    layer_peak = tokens * (2 * arch.hidden + max(mlp, attention)) * act  # + residual stream and its normed copy
    if quantized:
        # bitsandbytes 4-bit and GPTQ kernels dequantize a weight to 16-bit for a multi-token matmul.
        layer_peak += arch.hidden * arch.ffn * 2
    if q == "int8":
        # LLM.int8 writes each matmul's output as int32 before rescaling it to 16-bit: 2 more bytes per MLP output.
        layer_peak += tokens * arch.ffn * 2
    logits = batch * (context if all_logits else 1) * arch.vocab * 4
    activations = max(layer_peak, tokens * arch.hidden * act + logits)

    parts = {"weights_gb": weights / GIB, "kv_cache_gb": kv / GIB, "activations_gb": activations / GIB,
             "overhead_gb": float(cuda_overhead_gb)}
    out = {k: round(v, 3) for k, v in parts.items()}
    out["total_gb"] = round(sum(parts.values()), 3)
    out.update(model=arch.name, quant=q, context=context, batch=batch, params_b=round(arch.params / 1e9, 3),
               quantized_params_b=round(arch.layer_linear_params / 1e9, 3) if quantized else 0.0,
               max_positions=arch.max_positions, all_logits=all_logits)
    return out


def fits(total: float, gpu_gb: float) -> bool:
    return total <= gpu_gb


def parse_gpu(gpu: str | float) -> float:
    """'24GB', '24', '80G', '24 GiB' -> 24.0 / 80.0: a card's nominal size, which is its size in GiB."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(gib|gb|g)?\s*", str(gpu), flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"GPU size '{gpu}' not understood: write it as 24GB, 24G or 24")
    return float(m.group(1))


def load_config(model_ref: str | Path) -> dict:
    """config.json of a local model directory, a config.json path, or a hub id already in the local HF cache."""
    path = Path(model_ref).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        cached = None
        if not Path(model_ref).exists() and str(model_ref).count("/") == 1:
            try:
                from huggingface_hub import try_to_load_from_cache

                cached = try_to_load_from_cache(str(model_ref), "config.json")
            except (ImportError, ValueError):  # no hub library, or an id it rejects: not in the cache either
                cached = None
        if not isinstance(cached, str):
            raise FileNotFoundError(
                f"no config.json for '{model_ref}': pass a model directory or a config.json path "
                f"(only config.json is needed: huggingface-cli download {model_ref} config.json)")
        path = Path(cached)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # not JSON, or not UTF-8
        raise ValueError(f"{path}: not a valid config.json ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a valid config.json (a JSON object is expected)")
    config.setdefault("_name_or_path", path.parent.name if path.name == "config.json" else path.stem)
    return config


def fit_report(model_ref: str, gpu: str, quant: str | None = None, context: int | None = None, batch: int = 1,
               as_json: bool = False) -> str:
    """The text `pandian fit` prints: the breakdown and a verdict, or the same as a JSON object."""
    context = DEFAULT_CONTEXT if context is None else context
    if context < 1 or batch < 1:
        raise ValueError(f"--context {context} --batch {batch}: both must be at least 1")
    gpu_gb = parse_gpu(gpu)
    config = load_config(model_ref)
    try:
        est = estimate(config, quant, context, batch)
    except ValueError as e:
        raise ValueError(f"{model_ref}: {e}") from None
    headroom = gpu_gb - est["total_gb"]
    est.update(gpu_gb=gpu_gb, fits=fits(est["total_gb"], gpu_gb), headroom_gb=round(headroom, 3),
               borderline=abs(headroom) < BORDERLINE * est["total_gb"])
    note = ""
    if est["max_positions"] and est["context"] > est["max_positions"]:
        note = f"note: context {est['context']} is longer than the model's {est['max_positions']} positions"
        est["note"] = note
    if as_json:
        return json.dumps(est, ensure_ascii=False)
    kept = (f" ({est['quantized_params_b']:.2f}B in {est['quant']}, the rest in 16-bit)"
            if est["quantized_params_b"] else "")
    verdict = (f"fits ({headroom:.1f} GB to spare)" if est["fits"] else f"does not fit ({-headroom:.1f} GB short)")
    if est["borderline"]:
        verdict += f"; borderline: within the estimate's ~{BORDERLINE:.0%} error, try it"
    lines = [
        (f"{est['model']}: {est['params_b']:.2f}B parameters, {est['quant']}, "
         f"context {est['context']} x batch {est['batch']}, on a {gpu_gb:g} GB GPU"),
        f"  weights      {est['weights_gb']:7.2f} GB{kept}",
        f"  KV cache     {est['kv_cache_gb']:7.2f} GB",
        f"  activations  {est['activations_gb']:7.2f} GB  (one layer's prefill temporaries, last-token logits)",
        f"  CUDA/alloc   {est['overhead_gb']:7.2f} GB",
        f"  total        {est['total_gb']:7.2f} GB  -> {verdict}",
    ]
    return "\n".join(lines + ([note] if note else []))
