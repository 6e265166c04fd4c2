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
LIBRARIES = {"vllm": "vllm", "llamacpp": "llama_cpp", "api": "openai"}  # ... and the library it brings
# --dtype names -> torch's
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16",
          "fp16": "float16"}
QUANTS = ("int8", "int4")


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


def check_model(ref: str, opts: ModelOptions, chat_template: bool = False) -> str:
    """Everything about a model reference that can be known without loading it: the backend it takes, dtype,
    device, quantization, that the directory is a whole model (or the GGUF file a GGUF file), and that its tokenizer
    has a chat template when one is asked for. Returns the backend kind; ModelLoadError naming the flag."""
    from importlib.util import find_spec

    from pandian.backends import model_files

    kind = backend_kind(ref, opts.backend)
    if kind == "llamacpp":
        model_files.check_gguf(ref)
    needs = [(LIBRARIES[kind], EXTRAS[kind], f"the {kind} backend")] if kind in LIBRARIES else []
    needs += [("bitsandbytes", "quant", "--quant")] if opts.quant and kind == "hf" else []
    needs += [("peft", "peft", "--adapter")] if opts.adapter else []
    for library, extra, what in needs:
        if find_spec(library) is None:
            raise ModelLoadError(f"{what} needs {library}, which is not installed: pip install 'pandian[{extra}]'")
    if opts.dtype != "auto" and opts.dtype not in DTYPES:
        raise ModelLoadError(f"unknown --dtype '{opts.dtype}': use auto, float32, bfloat16 or float16")
    if opts.quant is not None and opts.quant not in QUANTS:
        raise ModelLoadError(f"unknown --quant '{opts.quant}': use int8 or int4 (bitsandbytes)")
    if kind not in ("hf", "vllm"):
        return kind
    if kind == "hf":
        check_device(opts.device)
    path = model_files.local_model_dir(ref, opts.revision)
    if path is not None:
        model_files.check_model_dir(path, ref)
        if chat_template and not opts.trust_remote_code and not model_files.has_chat_template(path):
            raise ModelLoadError(f"--chat-template: {ref} has no chat template (none in tokenizer_config.json, no "
                                 "chat_template.jinja); use a plain prompt (no --chat-template)")
    if opts.adapter:
        adapter = model_files.local_model_dir(opts.adapter)
        if adapter is not None:
            model_files.check_model_dir(adapter, opts.adapter, adapter=True)
    return kind


def check_device(device: str) -> None:
    """--device names a device this torch can use (torch is imported only when a device is named)."""
    if device in ("auto", "cpu"):
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ModelLoadError(f"unknown --device '{device}': use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ModelLoadError(f"--device {device}: this torch ({torch.__version__}, {build}) sees no CUDA GPU; "
                                 "use --device cpu (or auto), or install a CUDA build of torch on a machine with one")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelLoadError(f"--device {device}: there are {torch.cuda.device_count()} CUDA device(s), "
                                 f"numbered from 0")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"--device {device}: MPS is not available here; use --device cpu")


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
