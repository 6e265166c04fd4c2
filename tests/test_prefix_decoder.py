"""pandian's own CPU decoder forward computes the model's function: for each supported architecture (Qwen2 with
q/k/v biases, Qwen3 with per-head q/k norms, LLaMA with tied embeddings and grouped KV heads, Mistral), the engine's
log-probs at the answer positions equal a plain transformers forward over each full sequence within 1e-4 (fp32),
with a shared prefix and without; models it does not cover are left to transformers."""

from __future__ import annotations

import pytest
import torch

from pandian.backends import prefix_attention
from pandian.backends.base import TokenRequest
from pandian.backends.engine import LoglikelihoodEngine

SMALL = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=512)


def build(kind: str, **extra):
    import transformers

    cls, cfg_cls = {
        "qwen2": (transformers.Qwen2ForCausalLM, transformers.Qwen2Config),
        "qwen3": (transformers.Qwen3ForCausalLM, transformers.Qwen3Config),
        "llama": (transformers.LlamaForCausalLM, transformers.LlamaConfig),
        "mistral": (transformers.MistralForCausalLM, transformers.MistralConfig),
    }[kind]
    torch.manual_seed(0)
    model = cls(cfg_cls(**{**SMALL, **extra})).eval()
    with torch.no_grad():  # random-init norms are all ones; other weights make a wrong order of operations show
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.3)
    return model


def requests(prefix_len: int, n: int = 12, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    prefix = torch.randint(3, 500, (prefix_len,), generator=g).tolist()
    out = []
    for i in range(n):
        rest = torch.randint(3, 500, (5 + 7 * i % 23,), generator=g).tolist()
        out.append(TokenRequest(tuple(prefix + rest), ((7,), (8,), (9,), (10,)), "subject"))
    return out


def reference(model, req: TokenRequest) -> list[float]:
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([req.ctx])).logits[0, -1].float(), -1)
    return [lp[c[0]].item() for c in req.conts]


def scored(engine, reqs) -> dict[int, list[float]]:
    out = {}
    for batch in engine.score(reqs):
        out.update(dict(batch))
    return out


@pytest.mark.parametrize("kind,extra", [
    ("qwen2", {}),
    ("qwen3", {"head_dim": 32}),
    ("llama", {"tie_word_embeddings": True, "attention_bias": True}),
    ("mistral", {"sliding_window": None}),
])
@pytest.mark.parametrize("prefix_len", [0, 40])
def test_decoder_matches_a_plain_forward(kind, extra, prefix_len):
    model = build(kind, **extra)
    assert prefix_attention.supported(model)
    reqs = requests(prefix_len)
    engine = LoglikelihoodEngine(model, token_budget=64, kv_budget=1 << 16)
    assert engine.decoder is not None
    got = scored(engine, reqs)
    assert sorted(got) == list(range(len(reqs)))
    assert engine.stats.forwards > 2  # several batches, and the prefix once
    for i, r in enumerate(reqs):
        assert max(abs(a - b) for a, b in zip(got[i], reference(model, r))) < 1e-4, (kind, i)


def test_the_model_keeps_computing_as_before():
    """The decoder's fused weights are the model's own storage: the transformers forward is unchanged by it."""
    model = build("qwen2")
    req = requests(10, n=1)[0]
    before = reference(model, req)
    LoglikelihoodEngine(model)
    assert reference(model, req) == before


def test_unsupported_models_use_transformers():
    assert not prefix_attention.supported(build("mistral", sliding_window=16))
    assert not prefix_attention.supported(build("qwen2", hidden_act="gelu"))
    assert not prefix_attention.supported(build("qwen2", use_sliding_window=True, sliding_window=16))
    model = build("llama")
    assert LoglikelihoodEngine(model, reuse_prefix=False).decoder is None
    model.model.layers[0].mlp.up_proj = torch.nn.Identity()  # e.g. a quantized or adapted layer
    assert not prefix_attention.supported(model)


def test_bf16_stays_within_bf16_rounding():
    """bf16 on CPU: the same function up to bf16's rounding (the shared-prefix merge is done in fp32)."""
    model = build("llama").to(torch.bfloat16)
    reqs = requests(40)
    got = scored(LoglikelihoodEngine(model, token_budget=64), reqs)
    for i, r in enumerate(reqs):
        assert max(abs(a - b) for a, b in zip(got[i], reference(model, r))) < 0.02, i
