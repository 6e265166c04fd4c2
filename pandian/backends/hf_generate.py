"""Batched text generation for local transformers models, with the latency profile of every batch.

Requests and results have the same shape as the OpenAI-compatible backend's, so the generative runner treats a local
model and a vendor API alike: request {"messages" | "prompt", "max_tokens", "temperature", "top_p", "stop", "seed"};
result {"text", "finish_reason", "usage", "logprobs", "error", "attempts", "timing"}.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch

from .hf import HFModel


class _StepClock:
    """A logits processor that only records when each decoding step happens: the first call comes right after the
    prefill (time to first token), the gaps between calls are per-token latencies."""

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def prompt_text(hf: HFModel, request: dict) -> str:
    if "messages" in request:
        if not getattr(hf.tokenizer, "chat_template", None):
            raise ValueError(f"{hf.name}: chat messages need a chat template, and this tokenizer has none; "
                             "use a plain prompt (no --chat-template)")
        return hf.tokenizer.apply_chat_template(request["messages"], tokenize=False, add_generation_prompt=True)
    return request["prompt"]


def _params(r: dict) -> tuple:
    return (r.get("max_tokens", 256), float(r.get("temperature") or 0.0), float(r.get("top_p") or 1.0),
            tuple(r.get("stop") or ()), r.get("seed"))


def generate(hf: HFModel, requests: list[dict], batch_size: int = 8) -> Iterator[tuple[int, dict]]:
    """Yield (request index, result) batch by batch. Requests with the same sampling settings are batched together,
    longest prompt first, left-padded as decoder-only generation requires."""
    tok = hf.tokenizer
    texts = [prompt_text(hf, r) for r in requests]
    ids = hf._encode_texts(texts)
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(_params(r), []).append(i)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos = hf.model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, (list, tuple)) else [eos, tok.eos_token_id]) - {None}
    for (max_tokens, temperature, top_p, stop, seed), idxs in groups.items():
        idxs.sort(key=lambda i: -len(ids[i]))
        for start in range(0, len(idxs), batch_size):
            batch = idxs[start:start + batch_size]
            yield from _run(hf, batch, [ids[i] for i in batch], max_tokens, temperature, top_p, stop, seed, pad, eos)


@torch.no_grad()
def _run(hf, batch, rows, max_tokens, temperature, top_p, stop, seed, pad, eos):
    width = max(len(r) for r in rows)
    room = hf.max_length - width
    if room <= 0:
        for i, r in zip(batch, rows):
            yield i, _failure(f"the prompt has {len(r)} tokens; the model's context is {hf.max_length}")
        return
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        input_ids[b, width - len(r):] = torch.tensor(r)
        mask[b, width - len(r):] = 1
    clock = _StepClock()
    if seed is not None:
        torch.manual_seed(seed)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else \
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    t0 = time.perf_counter()
    if stop:  # stop early instead of generating to max_tokens and cutting
        sampling.update(stop_strings=list(stop), tokenizer=hf.tokenizer)
    out = hf.model.generate(input_ids=input_ids.to(hf.device), attention_mask=mask.to(hf.device),
                            max_new_tokens=min(max_tokens, room), pad_token_id=pad, logits_processor=[clock],
                            **sampling)
    t_end = time.perf_counter()
    steps = clock.times
    timing = {"batch": len(rows), "ttft_s": (steps[0] - t0) if steps else t_end - t0,
              "token_latencies_s": [b - a for a, b in zip(steps, steps[1:])], "wall_s": t_end - t0}
    for b, i in enumerate(batch):
        new = out[b, width:].tolist()
        cut = next((k for k, t in enumerate(new) if t in eos), None)
        finish = "stop" if cut is not None else "length"
        new = new[:cut] if cut is not None else new
        text = hf.tokenizer.decode(new, skip_special_tokens=True)
        hit = min((p for p in (text.find(s) for s in stop) if p >= 0), default=-1)
        if hit >= 0:
            text, finish = text[:hit], "stop"
        yield i, {"text": text, "finish_reason": finish, "logprobs": None, "error": None, "attempts": 1,
                  "usage": {"prompt_tokens": len(rows[b]), "completion_tokens": len(new)}, "timing": timing}


def _failure(message: str) -> dict:
    return {"text": None, "finish_reason": None, "logprobs": None, "error": message, "attempts": 1,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0}, "timing": None}
