"""vLLM backend (optional extra `pandian[vllm]`, CUDA): log-likelihoods from prompt log-probs, generation with
continuous batching, automatic prefix caching on, so a k-shot prefix shared by a subject is computed once.

Tokenization is the transformers tokenizer's, exactly as for the HF backend, and token ids (not text) go to vLLM:
both backends score the very same sequences. Model reference: `vllm:/path/or/hub-id` on the command line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Hashable, Iterator, Sequence

from pathlib import Path

from pandian.backends.base import GenerationRequest, GenerationResult, ModelLoadError, Timing
from pandian.backends.base import TokenRequest as Request
from pandian.backends.engine import EngineStats
from pandian.backends.hf import fingerprint_dir, resolve_model_dir
from pandian.backends.tokenize import apply_chat_template, encode_pairs, encode_texts


class VLLMScorer:
    """Same contract as LoglikelihoodEngine.score: batches of (request index, [log-prob of each continuation])."""

    def __init__(self, llm, batch_size: int = 512):
        self.llm = llm
        self.batch_size = batch_size
        self.token_budget = batch_size
        self.stats = EngineStats()

    def score(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, list[float]]]]:
        from vllm import SamplingParams, TokensPrompt

        # prompt_logprobs=0 returns the log-prob of each prompt token itself; max_tokens=1 is vLLM's minimum.
        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        order = sorted(range(len(requests)), key=lambda i: _group_key(requests[i].group))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            prompts, owners = [], []
            for i in idx:
                for j, cont in enumerate(requests[i].conts):
                    prompts.append(TokensPrompt(prompt_token_ids=list(requests[i].ctx) + list(cont)))
                    owners.append((i, j))
            t0 = time.perf_counter()
            outs = self.llm.generate(prompts, params, use_tqdm=False)
            self.stats.forward_s += time.perf_counter() - t0
            self.stats.forwards += 1
            scores: dict[int, list[float]] = {i: [0.0] * len(requests[i].conts) for i in idx}
            for (i, j), out in zip(owners, outs):
                ctx_len, cont = len(requests[i].ctx), requests[i].conts[j]
                lps = out.prompt_logprobs  # one dict per prompt position (None at position 0)
                scores[i][j] = sum(lps[ctx_len + t][tok].logprob for t, tok in enumerate(cont))
                self.stats.row_tokens += ctx_len + len(cont)
            yield [(i, scores[i]) for i in idx]


def _group_key(group: Hashable) -> str:
    return repr(group)  # neighbours share prefixes, which keeps vLLM's prefix cache warm


@dataclass
class VLLMModel:
    """A model in vLLM's engine, scored and generated from token ids of the transformers tokenizer."""
    name: str
    path: Path
    llm: object
    tokenizer: object
    dtype: str
    fingerprint: str
    load_s: float
    quant: str | None
    max_length: int

    def identity(self) -> dict:
        # vLLM's kernels round differently from transformers': a run of its own
        return {"model": self.name, "fingerprint": self.fingerprint, "dtype": self.dtype, "quant": self.quant,
                "backend": "vllm"}

    @property
    def chat_template(self) -> str | None:
        return getattr(self.tokenizer, "chat_template", None)

    def apply_chat(self, messages) -> str:
        if not self.chat_template:
            raise ModelLoadError(f"{self.name}: a chat template was asked for but its tokenizer has none")
        return apply_chat_template(self.tokenizer, messages)

    def tokenize(self, contexts, continuations, rule):
        return encode_pairs(self.tokenizer, contexts, continuations, rule)

    def scorer(self, batch_size: int | None = None, reuse_prefix: bool = True) -> VLLMScorer:
        return VLLMScorer(self.llm, batch_size or 512)

    def resources(self) -> dict:
        from pandian.backends.resources import memory_snapshot

        import torch

        return {"load_s": self.load_s, "device": "cuda", **memory_snapshot(torch.device("cuda"))}

    def generate(self, requests: Sequence[GenerationRequest], batch_size: int = 0):
        from vllm import SamplingParams, TokensPrompt

        from pandian.backends.hf_generate import prompt_text

        ids = [x[-r.keep_last:] if r.keep_last else x
               for x, r in zip(encode_texts(self.tokenizer, [prompt_text(self, r) for r in requests]), requests)]
        params = [SamplingParams(max_tokens=r.max_tokens, temperature=r.temperature or 0.0, top_p=r.top_p or 1.0,
                                 stop=list(r.stop) or None, seed=r.seed) for r in requests]
        t0 = time.perf_counter()
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=x) for x in ids], params, use_tqdm=False)
        wall = time.perf_counter() - t0
        for i, out in enumerate(outs):
            o = out.outputs[0]
            m = out.metrics  # per-request timestamps when vLLM records them
            ttft = (m.first_token_time - m.arrival_time) if m and getattr(m, "first_token_time", None) else None
            yield i, GenerationResult(text=o.text, finish_reason=o.finish_reason, prompt_tokens=len(ids[i]),
                                      completion_tokens=len(o.token_ids),
                                      timing=None if ttft is None else Timing(1, ttft, [], wall))


def load_vllm_model(ref: str, dtype: str = "auto", trust_remote_code: bool = False, quant: str | None = None,
                    gpu_memory_utilization: float = 0.85, max_model_len: int | None = None) -> VLLMModel:
    try:
        from vllm import LLM
    except ImportError:
        raise ModelLoadError("the vllm backend needs vLLM and a CUDA GPU: pip install 'pandian[vllm]'") from None
    from transformers import AutoTokenizer

    t0 = time.perf_counter()
    path = resolve_model_dir(ref)
    llm = LLM(model=str(path), dtype=dtype, trust_remote_code=trust_remote_code, enable_prefix_caching=True,
              quantization={"int8": "bitsandbytes", "int4": "bitsandbytes"}.get(quant) if quant else None,
              gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len)
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    cfg = llm.llm_engine.model_config
    return VLLMModel(ref, path, llm, tok, str(cfg.dtype).removeprefix("torch."), fingerprint_dir(path),
                     time.perf_counter() - t0, quant, cfg.max_model_len)
