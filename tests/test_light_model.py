"""A checkpoint read straight from safetensors (light_model) scores exactly as the transformers model it came from,
for each family and dtype the decoder covers; anything outside that shape loads through transformers; and a deferred
model loads transformers' class only when a request needs it (multi-token continuations, generation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pandian.backends.base import TokenRequest
from pandian.backends.engine import LoglikelihoodEngine
from pandian.backends.light_model import fits, load_light_model

from .test_prefix_decoder import build, requests, scored

FAMILIES = [
    ("qwen2", {}),
    ("qwen3", {"head_dim": 32}),
    ("llama", {"tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True}),
    ("llama", {"rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 64}}),
    ("mistral", {"sliding_window": None}),
]


def saved(tmp_path: Path, kind: str, **extra) -> Path:
    out = tmp_path / kind
    build(kind, **extra).save_pretrained(out)
    return out


def config_of(path: Path):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("kind,extra", FAMILIES)
def test_light_weights_score_exactly_as_transformers(tmp_path, kind, extra, dtype):
    from transformers import AutoModelForCausalLM

    path = saved(tmp_path, kind, **extra)
    cfg, dt = config_of(path), getattr(torch, dtype)
    assert fits(path, cfg)
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=dt).eval()
    light = load_light_model(path, cfg, dt)
    assert next(light.parameters()).dtype == dt
    assert sum(p.numel() for p in light.parameters()) == sum(p.numel() for p in hf.parameters())
    reqs = requests(40)
    engines = [LoglikelihoodEngine(m, token_budget=64) for m in (light, hf)]
    assert all(e.decoder is not None for e in engines)
    got, want = (scored(e, reqs) for e in engines)
    assert got == want  # the same tensors through the same code: not close, equal


def fits_with(tmp_path: Path, kind: str, **config) -> bool:
    path = saved(tmp_path, kind)
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**cfg, **config}))
    return fits(path, config_of(path))


def test_checkpoints_outside_the_shape_load_through_transformers(tmp_path):
    from safetensors.torch import load_file, save_file

    assert fits_with(tmp_path / "as saved", "llama")
    assert not fits_with(tmp_path / "a", "llama", rope_parameters={"rope_type": "dynamic", "factor": 2.0,
                                                                   "rope_theta": 10000.0})
    assert not fits_with(tmp_path / "b", "qwen2", quantization_config={"quant_method": "gptq", "bits": 4})
    assert not fits_with(tmp_path / "c", "qwen2", hidden_act="gelu")
    assert not fits_with(tmp_path / "d", "qwen2", auto_map={"AutoModelForCausalLM": "modeling_x.X"})
    extra = saved(tmp_path / "e", "qwen2")
    state = load_file(extra / "model.safetensors")
    save_file({**state, "model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(8)}, extra / "model.safetensors")
    assert not fits(extra, config_of(extra))  # an old checkpoint's extra tensor: transformers knows what to skip
    pt = saved(tmp_path / "f", "qwen2")  # a pickled checkpoint: transformers reads it
    torch.save(load_file(pt / "model.safetensors"), pt / "pytorch_model.bin")
    (pt / "model.safetensors").unlink()
    assert not fits(pt, config_of(pt))


def test_multi_token_continuations_swap_in_the_transformers_model(tmp_path):
    from transformers import AutoModelForCausalLM

    path = saved(tmp_path, "qwen2")
    loads = []

    def full():
        loads.append(1)
        return AutoModelForCausalLM.from_pretrained(path).eval()

    engine = LoglikelihoodEngine(load_light_model(path, config_of(path), torch.float32), token_budget=64,
                                 full_model=full)
    letters = requests(30, n=4)
    scored(engine, letters)
    assert loads == []  # letters: the decoder alone
    texts = [TokenRequest(r.ctx, ((7, 8), (9,), (10, 11, 12)), "texts") for r in requests(30, n=4, seed=2)]
    got = scored(engine, texts)
    assert loads == [1] and type(engine.model).__name__ == "Qwen2ForCausalLM"
    assert got == scored(LoglikelihoodEngine(full(), token_budget=64), texts)


DEFERRED = """
import sys
from pandian.backends.base import GenerationRequest, TokenRequest
from pandian.backends.hf import load_hf_model
m = load_hf_model(sys.argv[1], device="cpu")
assert m.module is None and m.parameter_count() > 0
ctx = tuple(m.tokenizer("问题：一加一等于几？\\n答案：")["input_ids"])
scores = [s for batch in m.scorer().score([TokenRequest(ctx, ((5,), (6,)), "s")]) for s in batch]
modeling = sorted(k for k in sys.modules if k.startswith("transformers.models.") and ".modeling_" in k
                  and not k.endswith(".modeling_auto"))  # modeling_auto: the name tables only
assert modeling == [] and "transformers.modeling_utils" not in sys.modules, modeling
assert m.resources()["weights_gb"] > 0
out = list(m.generate([GenerationRequest(prompt="答案：", max_tokens=3)]))
assert m.module is not None and m.light is None and len(out) == 1, out
print("ok", scores)
"""


def test_a_deferred_model_scores_letters_without_transformers_modelling_code(tiny_model_dir):
    """In a fresh interpreter: letter scoring imports no transformers model class; generation then loads it."""
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", DEFERRED, str(tiny_model_dir)], capture_output=True, text=True,
                         cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stderr[-3000:]
