"""Tiny random-init models in Hugging Face format, built here without any download.

They score at chance by design: they exist to exercise loading, tokenization, batching, caching and speed on real
files. The tokenizer is a byte-level BPE trained locally with Qwen2's own pre-tokenizer rules, because transformers
rebuilds a `model_type: qwen2` tokenizer with those rules whatever tokenizer.json says; training with other rules
would make `AutoTokenizer` produce different ids than the file we trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from pandian.settings import home

QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinyShape:
    vocab_size: int = 4096
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    max_positions: int = 4096
    seed: int = 0


# ~32M parameters: big enough that matmuls, not Python, dominate a CPU forward (the speed bench's default).
BENCH_SHAPE = TinyShape(vocab_size=8192, hidden_size=512, num_layers=8, num_heads=8, num_kv_heads=2,
                        intermediate_size=1536, max_positions=4096)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def build_tiny_model(out_dir: Path, texts: list[str], shape: TinyShape = TinyShape()) -> Path:
    """Write a random-init Qwen2 causal LM and its tokenizer to `out_dir` (HF layout)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(texts, shape.vocab_size)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "bos_token": None,
        "model_max_length": shape.max_positions,
        "chat_template": CHATML_TEMPLATE,
        "add_prefix_space": False,
    }, ensure_ascii=False, indent=1))
    config = Qwen2Config(
        vocab_size=tok.get_vocab_size(),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tok.token_to_id("<|endoftext|>"),
        pad_token_id=tok.token_to_id("<|endoftext|>"),
    )
    torch.manual_seed(shape.seed)
    model = Qwen2ForCausalLM(config).eval()
    model.save_pretrained(out_dir)
    (out_dir / "pandian_tiny.json").write_text(json.dumps(
        {"note": "random-init model built by pandian: scores at chance by design", **asdict(shape)}, indent=1))
    return out_dir


def cached_tiny_model(texts: list[str], shape: TinyShape = TinyShape(), root: Path | None = None) -> Path:
    """Build once per (shape, corpus); later calls return the cached directory."""
    digest = hashlib.sha256(json.dumps(asdict(shape)).encode())
    for t in texts:
        digest.update(t.encode())
    out = (root or home() / "models") / f"tiny-qwen2-{digest.hexdigest()[:12]}"
    if (out / "pandian_tiny.json").exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    build_tiny_model(tmp, texts, shape)
    try:
        tmp.rename(out)  # atomic: a concurrent builder or a crash never leaves a half-written model in place
    except OSError:
        if not (out / "pandian_tiny.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
    return out
