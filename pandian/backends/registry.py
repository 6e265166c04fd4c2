"""From a model reference to a backend: one table, optional libraries imported only when their backend is chosen.

    PRESET:MODEL / openai:MODEL   OpenAI-compatible client (deepseek:deepseek-chat, openai:x --base-url URL)
    FILE.gguf                     llama.cpp
    --backend vllm REF            vLLM (CUDA)
    anything else                 transformers: a local directory, a hub id, modelscope:ID
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pandian.backends.base import ModelLoadError

BACKENDS = ("hf", "vllm", "llamacpp", "api")
EXTRAS = {"vllm": "vllm", "llamacpp": "llamacpp", "api": "api"}  # the pip extra each optional backend needs


@dataclass
class ModelOptions:
    backend: str = "hf"             # hf or vllm for weights; llama.cpp and the API client are chosen by the ref
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    adapter: str | None = None
    revision: str | None = None
    quant: str | None = None
    # API client
    base_url: str | None = None
    cache: object = None            # the store's response cache
    concurrency: int = 8
    rpm: float | None = None
    max_retries: int = 5
    timeout: float = 120.0
    price_in: float | None = None
    price_out: float | None = None


def is_api_ref(ref: str) -> bool:
    from pandian.backends.openai_api import PRESETS

    prefix = ref.split(":", 1)[0]
    return ":" in ref and (prefix == "openai" or prefix in PRESETS) and not Path(ref).exists()


def backend_kind(ref: str, backend: str = "hf") -> str:
    if is_api_ref(ref):
        return "api"
    if ref.lower().endswith(".gguf"):
        return "llamacpp"
    if backend not in ("hf", "vllm"):
        raise ModelLoadError(f"unknown --backend '{backend}': use hf or vllm (.gguf files use llama.cpp, "
                             "PRESET:MODEL the OpenAI-compatible client)")
    return backend


def load_backend(ref: str, opts: ModelOptions | None = None):
    """The backend for `ref`; ModelLoadError (with the pip extra to install) when it cannot be had."""
    opts = opts or ModelOptions()
    kind = backend_kind(ref, opts.backend)
    try:
        if kind == "api":
            from pandian.backends.openai_api import OpenAIBackend

            return OpenAIBackend.from_ref(ref, opts.base_url, cache=opts.cache, concurrency=opts.concurrency,
                                          rpm=opts.rpm, max_retries=opts.max_retries, timeout=opts.timeout,
                                          price_in=opts.price_in, price_out=opts.price_out)
        if kind == "llamacpp":
            from pandian.backends.llamacpp import load_gguf_model

            return load_gguf_model(ref)
        if kind == "vllm":
            from pandian.backends.vllm import load_vllm_model

            return load_vllm_model(ref, dtype=opts.dtype, trust_remote_code=opts.trust_remote_code, quant=opts.quant)
        from pandian.backends.hf import load_hf_model

        return load_hf_model(ref, dtype=opts.dtype, device=opts.device, trust_remote_code=opts.trust_remote_code,
                             adapter=opts.adapter, revision=opts.revision, quant=opts.quant)
    except ImportError as e:
        extra = EXTRAS.get(kind, "")
        raise ModelLoadError(f"the {kind} backend needs a library that is not installed ({e.name}): "
                             f"pip install 'pandian[{extra}]'") from None
