"""llama.cpp backend for GGUF files (optional extra `pandian[llamacpp]`): log-likelihoods and generation on CPU,
the way 4-bit models (Q4_K_M, Q8_0) run on laptops and servers without a GPU.

Log-likelihoods reuse llama.cpp's KV cache across questions: requests are taken in group order, and each one only
evaluates the tokens after its longest common prefix with what the context already holds, so a subject's k-shot
prefix is computed once. Tokenization is the GGUF's own (llama.cpp's), which is what a llama.cpp deployment uses.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from pandian.backends.base import GenerationRequest, GenerationResult, ModelLoadError, Timing
from pandian.backends.base import TokenRequest as Request
from pandian.backends.engine import EngineStats, common_prefix_len
from pandian.backends.model_files import check_gguf
from pandian.backends.tokenize import encode_pairs


class GGUFTokenizer:
    """The slice of the transformers tokenizer interface pandian uses, over llama.cpp's tokenizer."""

    def __init__(self, llm):
        self.llm = llm
        self.add_bos = llm.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self.bos_token = self._piece(llm.token_bos()) if self.add_bos else None
        self.eos_token_id = llm.token_eos()
        self.pad_token_id = self.eos_token_id
        self.chat_template = llm.metadata.get("tokenizer.chat_template")

    def _piece(self, tok: int) -> str:
        return self.llm.detokenize([tok], special=True).decode("utf-8", errors="replace")

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_special_tokens and self.add_bos, special=True)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")

    def apply_chat_template(self, messages: list[dict], tokenize: bool = False, add_generation_prompt: bool = True):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if not self.chat_template:
            raise ModelLoadError("this GGUF file carries no chat template; use a plain prompt (no --chat-template)")
        # the template comes with the file: untrusted, so it renders sandboxed
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt, bos_token=self.bos_token or "",
            eos_token=self._piece(self.eos_token_id))


class LlamaCppScorer:
    """Same contract as LoglikelihoodEngine.score."""

    def __init__(self, llm):
        self.llm = llm
        self.token_budget = llm.n_ctx()
        self.stats = EngineStats()

    def _logprobs_after(self, ids: list[int]) -> np.ndarray:
        """Evaluate `ids` (reusing the cached common prefix); return the log-softmax rows of every position."""
        llm = self.llm
        keep = common_prefix_len([list(llm.input_ids[: llm.n_tokens]), ids]) if llm.n_tokens else 0
        keep = min(keep, len(ids) - 1)  # at least one token to evaluate, so its logits are fresh
        llm.n_tokens = keep
        t0 = time.perf_counter()
        llm.eval(ids[keep:])
        self.stats.forward_s += time.perf_counter() - t0
        self.stats.forwards += 1
        self.stats.row_tokens += len(ids) - keep
        scores = llm.scores[: len(ids)].astype(np.float64)
        top = scores.max(axis=1, keepdims=True)
        return scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))

    def score(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, list[float]]]]:
        order = sorted(range(len(requests)), key=lambda i: (repr(requests[i].group), requests[i].ctx))
        for i in order:
            r = requests[i]
            ctx = list(r.ctx)
            out = []
            if all(len(c) == 1 for c in r.conts):  # letters: one evaluation of the context
                lp = self._logprobs_after(ctx)[len(ctx) - 1]
                out = [float(lp[c[0]]) for c in r.conts]
            else:
                for cont in r.conts:
                    lp = self._logprobs_after(ctx + list(cont))
                    out.append(float(sum(lp[len(ctx) - 1 + t, tok] for t, tok in enumerate(cont))))
            yield [(i, out)]


@dataclass
class LlamaCppModel:
    """A GGUF file in llama.cpp: its own tokenizer, log-likelihoods with KV prefix reuse, streamed generation."""
    name: str
    path: Path
    llm: object
    tokenizer: GGUFTokenizer
    fingerprint: str
    load_s: float
    quant: str  # the file's weight type, e.g. gguf-q4_k_m

    @property
    def max_length(self) -> int:
        return self.llm.n_ctx()

    def identity(self) -> dict:
        return {"model": self.name, "fingerprint": self.fingerprint, "dtype": "float32", "quant": self.quant,
                "backend": "llama.cpp"}

    @property
    def chat_template(self) -> str | None:
        return self.tokenizer.chat_template

    def apply_chat(self, messages) -> str:
        return self.tokenizer.apply_chat_template(list(messages))

    def tokenize(self, contexts, continuations, rule):
        return encode_pairs(self.tokenizer, contexts, continuations, rule)

    def scorer(self, batch_size: int | None = None, reuse_prefix: bool = True) -> LlamaCppScorer:
        return LlamaCppScorer(self.llm)

    def resources(self) -> dict:
        from pandian.backends.resources import memory_snapshot

        import torch

        return {"load_s": self.load_s, "device": "cpu", "weights_gb": round(self.path.stat().st_size / 1e9, 4),
                **memory_snapshot(torch.device("cpu"))}

    def generate(self, requests: Sequence[GenerationRequest], batch_size: int = 0):
        from pandian.backends.hf_generate import prompt_text

        for i, r in enumerate(requests):
            t0 = time.perf_counter()
            steps, pieces, finish = [], [], None
            prompt = prompt_text(self, r)
            ids = self.tokenizer.encode(prompt)
            if r.keep_last:  # llama.cpp takes token ids as well as text
                ids = ids[-r.keep_last:]
            stream = self.llm.create_completion(ids if r.keep_last else prompt, max_tokens=r.max_tokens, temperature=r.temperature or 0.0,
                                                top_p=r.top_p or 1.0, stop=list(r.stop), seed=r.seed, stream=True)
            for chunk in stream:
                steps.append(time.perf_counter())
                choice = chunk["choices"][0]
                pieces.append(choice["text"])
                finish = choice.get("finish_reason") or finish
            text = "".join(pieces)
            timing = Timing(1, (steps[0] - t0) if steps else time.perf_counter() - t0,
                            [b - a for a, b in zip(steps, steps[1:])], time.perf_counter() - t0)
            yield i, GenerationResult(text=text, finish_reason=finish,
                                      prompt_tokens=len(ids),
                                      completion_tokens=len(self.tokenizer.encode(text, add_special_tokens=False)),
                                      timing=timing)


def load_gguf_model(path: str, n_ctx: int = 4096, n_threads: int | None = None) -> LlamaCppModel:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelLoadError("GGUF files need llama-cpp-python: pip install 'pandian[llamacpp]'") from None
    t0 = time.perf_counter()
    gguf = Path(path)
    check_gguf(path)
    llm = Llama(model_path=str(gguf), n_ctx=n_ctx, logits_all=True, verbose=False,
                n_threads=n_threads or os.cpu_count())
    return LlamaCppModel(str(gguf), gguf, llm, GGUFTokenizer(llm), _file_fingerprint(gguf), time.perf_counter() - t0,
                         gguf_type(llm))


def gguf_type(llm) -> str:
    """The file's weight type by llama.cpp's name (Q4_K_M, Q8_0, F16, ...), the variant label of a GGUF run."""
    import llama_cpp

    code = int(llm.metadata.get("general.file_type", -1))
    names = {getattr(llama_cpp, n): n.removeprefix("LLAMA_FTYPE_MOSTLY_").removeprefix("LLAMA_FTYPE_ALL_")
             for n in dir(llama_cpp) if n.startswith("LLAMA_FTYPE_")}
    return f"gguf-{names.get(code, code)}".lower()


def _file_fingerprint(path: Path) -> str:
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        h.update(f.read())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- making GGUF variants of a local HF model

_CONVERT = """
import sys
sys.path[:0] = [{gguf_py!r}, {root!r}]
from conversion.base import TextModel
if {pre!r}:
    # llama.cpp recognises a BPE pre-tokenizer by hashing a test string's ids; a tokenizer trained here has no
    # known hash, so its (known) pre-tokenizer rules are named explicitly.
    TextModel.get_vocab_base_pre = lambda self, tokenizer: {pre!r}
import convert_hf_to_gguf
sys.argv = ["convert_hf_to_gguf.py", *{args!r}]
convert_hf_to_gguf.main()
"""


def convert_to_gguf(hf_dir: Path, out: Path, outtype: str = "f32", llama_cpp_dir: Path | None = None,
                    pretokenizer: str | None = None) -> Path:
    """HF directory -> GGUF with llama.cpp's own converter (its source tree, e.g. llama-cpp-python's sdist
    vendor/llama.cpp, given here or in LLAMA_CPP_DIR). outtype: f32, f16, bf16, q8_0."""
    root = Path(llama_cpp_dir or os.environ.get("LLAMA_CPP_DIR", ""))
    if not (root / "convert_hf_to_gguf.py").exists():
        raise ModelLoadError("converting to GGUF needs llama.cpp's convert_hf_to_gguf.py: set LLAMA_CPP_DIR to a "
                             "llama.cpp source tree (llama-cpp-python's sdist has one under vendor/llama.cpp)")
    code = _CONVERT.format(gguf_py=str(root / "gguf-py"), root=str(root), pre=pretokenizer or "",
                           args=[str(hf_dir), "--outtype", outtype, "--outfile", str(out)])
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return out


def quantize_gguf(src: Path, out: Path, kind: str = "q4_k_m") -> Path:
    """Requantize a GGUF file (e.g. f32 -> Q4_K_M) with llama.cpp's quantizer."""
    import llama_cpp

    ftype = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
             "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}[kind]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    if llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params) != 0:
        raise ModelLoadError(f"llama.cpp could not quantize {src} to {kind}")
    return out
