"""Hugging Face transformers backend: load a causal LM (hub id, local directory, ModelScope id, PEFT adapter) and
score continuations through the prefix-reusing engine."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from pandian.backends.base import ModelLoadError
from pandian.backends.engine import LoglikelihoodEngine
from pandian.backends.model_files import HUB_PATTERNS, check_model_dir, local_model_dir, unreachable
from pandian.backends.resources import memory_snapshot, weights_gb
from pandian.backends.tokenize import apply_chat_template, encode_pairs

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".json", ".txt", ".py", ".tiktoken")




def fingerprint_dir(path: Path) -> str:
    """Identity of a model directory without reading every byte of a 30 GB checkpoint: for each file, its name,
    size and the hashes of its first and last MiB. Any retrained, re-quantized or edited weight file changes it."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        size = f.stat().st_size
        h.update(f"{f.relative_to(path)}\0{size}\0".encode())
        with f.open("rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()[:16]


def resolve_model_dir(ref: str, revision: str | None = None) -> Path:
    """A local directory for `ref`: a path, `modelscope:ID`, or a Hugging Face hub id (from the local cache when it
    is there or the hub cannot be reached)."""
    local = local_model_dir(ref, revision)
    if local is not None:
        return local
    if ref.startswith("modelscope:"):
        try:
            from modelscope import snapshot_download
        except ImportError:
            raise ModelLoadError(f"{ref}: install the modelscope package (pip install 'pandian[modelscope]')") from None
        return Path(snapshot_download(ref.split(":", 1)[1], revision=revision))
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref, revision=revision, allow_patterns=HUB_PATTERNS))
    except Exception as e:
        raise unreachable(ref, f"could not be read from the Hugging Face hub ({type(e).__name__})") from None


def pick_device(device: str) -> torch.device:
    from pandian.backends.registry import check_device

    check_device(device)
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    from pandian.backends.registry import DTYPES

    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown --dtype '{dtype}': use auto, float32, bfloat16 or float16")
    return getattr(torch, DTYPES[dtype])


@dataclass
class HFModel:
    """A transformers causal LM: log-likelihood scoring through the prefix-reusing engine, and generation."""
    name: str
    path: Path
    module: object  # the transformers model; None until needed where `light` scores (see `model`)
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    fingerprint: str
    load_s: float
    quant: str | None = None
    config: object = None  # the model's config (with weights=False, read without the weights)
    load_module: Callable[[], object] | None = None  # loads `module` when it was deferred
    light: object = None  # light_model.LightModel: the checkpoint's tensors for pandian's decoder, until `model`

    @property
    def model(self):
        """The transformers model. A checkpoint that pandian's decoder computes from its tensors alone
        (light_model.fits) loads it only when something needs transformers' forward: generation, multi-token
        continuations, a caller's own use. Until then, letter scoring needs neither the import nor the build."""
        if self.module is None and self.load_module is not None:
            t = time.perf_counter()
            self.light = None  # freed before transformers reads the same checkpoint again
            self.module, self.load_module = self.load_module(), None
            self.load_s += time.perf_counter() - t
        return self.module

    @property
    def max_length(self) -> int:
        cfg = self.config
        for attr in ("max_position_embeddings", "seq_length", "n_positions", "max_sequence_length"):
            if getattr(cfg, attr, None):
                return int(getattr(cfg, attr))
        return int(min(getattr(self.tokenizer, "model_max_length", 2048), 1 << 20))

    def identity(self) -> dict:
        return {"model": self.name, "fingerprint": self.fingerprint, "dtype": str(self.dtype).removeprefix("torch."),
                "quant": self.quant}

    @property
    def chat_template(self) -> str | None:
        return getattr(self.tokenizer, "chat_template", None)

    def apply_chat(self, messages) -> str:
        if not self.chat_template:
            raise ModelLoadError(f"{self.name}: a chat template was asked for but its tokenizer has none; "
                                 "use a plain prompt (no --chat-template)")
        return apply_chat_template(self.tokenizer, messages)

    def tokenize(self, contexts: list[str], continuations: list[tuple[str, ...]],
                 rule: str) -> list[tuple[list[int], list[list[int]]]]:
        return encode_pairs(self.tokenizer, contexts, continuations, rule)

    def parameter_count(self) -> int:
        loaded = self.module if self.module is not None else self.light
        return sum(p.numel() for p in loaded.parameters())

    def scorer(self, batch_size: int | None = None, reuse_prefix: bool = True) -> LoglikelihoodEngine:
        token_budget, kv_budget = self.budgets()
        sizes = {"token_budget": token_budget, "kv_budget": kv_budget, "max_batch": batch_size or 256,
                 "reuse_prefix": reuse_prefix}
        if self.light is not None and reuse_prefix:
            return LoglikelihoodEngine(self.light, full_model=lambda: self.model, **sizes)
        return LoglikelihoodEngine(self.model, **sizes)

    def generate(self, requests, batch_size: int = 8):
        from pandian.backends.hf_generate import generate

        return generate(self, requests, batch_size)

    def resources(self) -> dict:
        loaded = self.module if self.module is not None else self.light
        return {"load_s": self.load_s, "device": str(self.device), "weights_gb": round(weights_gb(loaded), 4),
                **memory_snapshot(self.device)}

    def budgets(self) -> tuple[int, int]:
        """Tokens per forward and KV-cache slots per batch. On CUDA both follow free memory; on an out-of-memory
        error the engine halves the batch and retries, so these only need to be good guesses."""
        cfg = self.config
        if self.device.type != "cuda":
            return 1024, 1 << 18
        free, _ = torch.cuda.mem_get_info(self.device)
        elem = torch.finfo(self.dtype).bits // 8
        hidden = cfg.hidden_size
        layers = cfg.num_hidden_layers
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or hidden // cfg.num_attention_heads
        kv_per_token = 2 * layers * kv_heads * head_dim * elem
        # activations of one layer at a time dominate: ~ (hidden + 2 x intermediate) per token, x4 for temporaries
        inter = getattr(cfg, "intermediate_size", 4 * hidden)
        act_per_token = 4 * (hidden + 2 * inter) * elem
        usable = int(free * 0.6)
        token_budget = max(512, min(65536, usable // 2 // act_per_token))
        kv_budget = max(4096, usable // 2 // kv_per_token)
        return token_budget, kv_budget


QUANT = {
    # bitsandbytes runs the same LLM.int8 / NF4 kernels on CPU as on CUDA (bitsandbytes >= 0.45), so a variant
    # measured on a laptop is the variant deployed on a GPU.
    "int8": lambda dt: {"load_in_8bit": True},
    "int4": lambda dt: {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": dt,
                        "bnb_4bit_use_double_quant": False},
}


def quantization_config(quant: str | None, dtype: torch.dtype):
    if quant is None:
        return None
    if quant not in QUANT:
        raise ModelLoadError(f"unknown --quant '{quant}': use int8 or int4 (bitsandbytes)")
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        raise ModelLoadError("--quant needs bitsandbytes: pip install 'pandian[quant]'") from None
    return BitsAndBytesConfig(**QUANT[quant](dtype))


def load_hf_model(ref: str, dtype: str = "auto", device: str = "auto", trust_remote_code: bool = False,
                  adapter: str | None = None, revision: str | None = None, quant: str | None = None,
                  weights: bool = True) -> HFModel:
    """weights=False: the tokenizer and config only, which give the run's identity, context length, chat template and
    token counts without reading the weights (what `pandian plan` needs for a grid of large models). On the CPU, a
    checkpoint that pandian's decoder computes from its tensors alone defers transformers' model (HFModel.model)."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from pandian.backends.light_model import fits, load_light_model

    hf_logging.disable_progress_bar()  # rich draws pandian's own progress; two bars on one line garble both
    t0 = time.perf_counter()
    path = resolve_model_dir(ref, revision)
    check_model_dir(path, ref)  # every caller (eval, judge, serve-model) learns what is wrong before a long load
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    with remote_code_hint(ref, trust_remote_code):
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    fingerprint = fingerprint_dir(path)
    adapter_path = None
    if adapter:
        adapter_path = resolve_model_dir(adapter)
        check_model_dir(adapter_path, adapter, adapter=True)
        fingerprint = hashlib.sha256((fingerprint + fingerprint_dir(adapter_path)).encode()).hexdigest()[:16]
        ref = f"{ref}+{adapter}"

    def module():
        with remote_code_hint(ref, trust_remote_code):
            return transformers_model(path, dt, dev, trust_remote_code, quant, adapter_path)

    if not weights:
        return HFModel(ref, path, None, tokenizer, dev, dt, fingerprint, time.perf_counter() - t0, quant, config)
    if dev.type == "cpu" and quant is None and adapter is None and fits(path, config):
        light = load_light_model(path, config, dt)
        return HFModel(ref, path, None, tokenizer, dev, dt, fingerprint, time.perf_counter() - t0, quant, config,
                       load_module=module, light=light)
    model = module()
    return HFModel(ref, path, model, tokenizer, dev, dt, fingerprint, time.perf_counter() - t0, quant, model.config)


@contextmanager
def remote_code_hint(ref: str, trust_remote_code: bool):
    """transformers' ValueError for a model that ships its own code, as the flag to pass."""
    try:
        yield
    except ValueError as e:
        if "trust_remote_code" in str(e) and not trust_remote_code:
            raise ModelLoadError(f"{ref} ships its own modelling code; rerun with --trust-remote-code if you trust "
                                 "it") from None
        raise


def transformers_model(path: Path, dt: torch.dtype, dev: torch.device, trust_remote_code: bool, quant: str | None,
                       adapter_path: Path | None):
    """The transformers model on its device, in eval mode, with a LoRA adapter merged in."""
    from transformers import AutoModelForCausalLM

    qconfig = quantization_config(quant, dt)
    extra = {"quantization_config": qconfig, "device_map": str(dev)} if qconfig else {}
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dt, trust_remote_code=trust_remote_code, **extra)
    if adapter_path is not None:
        try:
            from peft import PeftModel
        except ImportError:
            raise ModelLoadError("--adapter needs peft: pip install 'pandian[peft]'") from None
        # Merging gives the same function as the adapter applied on the fly, and runs at base-model speed.
        model = PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
    if quant is None:
        model.to(dev)  # quantized models are placed by device_map at load
    return model.eval()


def load_tokenizer(ref: str, trust_remote_code: bool = False, revision: str | None = None):
    """A model's tokenizer alone (no weights), for counting a prompt's tokens."""
    from transformers import AutoTokenizer

    path = resolve_model_dir(ref, revision)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except ValueError as e:
        if "trust_remote_code" in str(e) and not trust_remote_code:
            raise ModelLoadError(f"{ref} ships its own tokenizer code; rerun with --trust-remote-code if you trust "
                                 "it") from None
        raise
