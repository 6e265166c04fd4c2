"""Batched text generation for local transformers models: the one generation loop, used by `pandian eval` and by
`pandian serve-model`, with the latency profile of every batch and, when asked, each token's log-prob with its top
alternatives (the model's own: log-softmax of the raw logits, before temperature and top-p, as vLLM reports them).

Requests with the same sampling settings are batched together, longest prompt first, left-padded as decoder-only
generation requires. Generation stops at any of the model's end-of-sequence tokens or at a stop string.
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

import torch

from pandian.backends.base import GenerationRequest, GenerationResult, Timing
from pandian.backends.tokenize import encode_texts


class _StepClock:
    """A logits processor that only records when each decoding step happens: the first call comes right after the
    prefill (time to first token), the gaps between calls are per-token latencies."""

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def eos_ids(hf) -> set[int]:
    """Every token that ends generation: the generation config's (one or several) and the tokenizer's."""
    eos = getattr(hf.model.generation_config, "eos_token_id", None)
    eos = list(eos) if isinstance(eos, (list, tuple)) else [eos]
    return {int(e) for e in [*eos, hf.tokenizer.eos_token_id] if e is not None}


def prompt_text(backend, request: GenerationRequest) -> str:
    return backend.apply_chat(request.messages) if request.messages is not None else request.prompt


def _params(r: GenerationRequest) -> tuple:
    return (r.max_tokens, float(r.temperature or 0.0), float(r.top_p or 1.0), tuple(r.stop), r.seed,
            r.top_logprobs if r.logprobs or r.top_logprobs else None)


def generate(hf, requests: Sequence[GenerationRequest], batch_size: int = 8) -> Iterator[tuple[int, GenerationResult]]:
    """Yield (request index, result) batch by batch."""
    ids = [x[-r.keep_last:] if r.keep_last else x
           for x, r in zip(encode_texts(hf.tokenizer, [prompt_text(hf, r) for r in requests]), requests)]
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(_params(r), []).append(i)
    tok = hf.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos = eos_ids(hf)
    for params, idxs in groups.items():
        idxs.sort(key=lambda i: -len(ids[i]))
        for start in range(0, len(idxs), batch_size):
            batch = idxs[start:start + batch_size]
            yield from _run(hf, batch, [ids[i] for i in batch], *params, pad, eos)


@torch.no_grad()
def _run(hf, batch, rows, max_tokens, temperature, top_p, stop, seed, top_logprobs, pad, eos):
    width = max(len(r) for r in rows)
    room = hf.max_length - width
    if room <= 0:
        for i, r in zip(batch, rows):
            yield i, GenerationResult.failure(f"the prompt has {len(r)} tokens; the model's context is "
                                              f"{hf.max_length}: shorten it")
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
    if stop:  # stop early instead of generating to max_tokens and cutting
        sampling.update(stop_strings=list(stop), tokenizer=hf.tokenizer)
    if top_logprobs is not None:
        sampling.update(output_logits=True, return_dict_in_generate=True)
    t0 = time.perf_counter()
    out = hf.model.generate(input_ids=input_ids.to(hf.device), attention_mask=mask.to(hf.device),
                            max_new_tokens=min(max_tokens, room), pad_token_id=pad, eos_token_id=sorted(eos),
                            logits_processor=[clock], **sampling)
    t_end = time.perf_counter()
    sequences = out.sequences if top_logprobs is not None else out
    steps = clock.times
    timing = Timing(len(rows), (steps[0] - t0) if steps else t_end - t0,
                    [b - a for a, b in zip(steps, steps[1:])], t_end - t0)
    for b, i in enumerate(batch):
        new = sequences[b, width:].tolist()
        cut = next((k for k, t in enumerate(new) if t in eos), None)
        finish = "stop" if cut is not None else "length"
        new = new[:cut] if cut is not None else new
        text = hf.tokenizer.decode(new, skip_special_tokens=True)
        hit = min((p for p in (text.find(s) for s in stop) if p >= 0), default=-1)
        if hit >= 0:
            text, finish = text[:hit], "stop"
        logprobs = None
        if top_logprobs is not None:
            logprobs = _token_logprobs(hf.tokenizer, new, [lg[b] for lg in out.logits[:len(new)]], top_logprobs,
                                       hit if hit >= 0 else None)
        yield i, GenerationResult(text=text, finish_reason=finish, prompt_tokens=len(rows[b]),
                                  completion_tokens=len(new), logprobs=logprobs, timing=timing)


def _token_logprobs(tokenizer, new: list[int], logits: list[torch.Tensor], k: int, cut: int | None) -> list[dict]:
    """Each generated token's log-prob and its top-k alternatives. With a stop string at character `cut`, only the
    tokens wholly before it are kept (the one it starts inside is dropped)."""
    out, ends = [], []
    for n, (tok, lg) in enumerate(zip(new, logits)):
        logp = torch.log_softmax(lg.float(), -1)
        top = torch.topk(logp, k)
        out.append({"token": tokenizer.decode([tok]), "logprob": float(logp[tok]),
                    "top_logprobs": [{"token": tokenizer.decode([int(j)]), "logprob": float(v)}
                                     for v, j in zip(top.values, top.indices)]})
        if cut is not None:
            ends.append(len(tokenizer.decode(new[:n + 1], skip_special_tokens=True)))
    return out if cut is None else [s for s, end in zip(out, ends) if end <= cut]
