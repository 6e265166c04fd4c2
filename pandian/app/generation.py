"""Generative evaluation: the model writes its answer; pandian extracts it (a choice letter or a number) and scores it,
or stores it for a judge (open tasks). Works the same for a local model and for any OpenAI-compatible API.

Multiple choice through an API asks for the first token's log-probs too: where the endpoint returns them the choice
is read from them, otherwise from the text; each record says which. A call that fails after its retries writes no
record (it is never scored as a wrong answer); the summary counts it and a rerun retries it.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Iterator

from pandian.backends.api_protocol import choice_logprobs
from pandian.backends.base import GenerationRequest, GenerationResult, Timing, can_score, chat_messages
from pandian.core.data import Question
from pandian.core.extract import extract_choice, extract_choices, extract_number, numbers_equal, strip_reasoning
from pandian.core.overflow import fit_prompts
from pandian.core.postprocess import POSTPROCESSORS
from pandian.core.prompts import Prompt, prompt_hash, render
from pandian.core.records import Record
from pandian.core.spec import BenchmarkSpec

COMMIT_EVERY = 16  # records per transaction: small enough that a crash loses little


def score(spec: BenchmarkSpec, q: Question, result: GenerationResult, api_scores: dict | None, prompt_hash: str,
          n_shots: int, postprocess: str | None = None) -> Record:
    """A record from one answer. api_scores: per-label log-probs from the endpoint, or None. postprocess: the
    OpenCompass post-processor a format names; it reads the raw text as OpenCompass does, and what it returns is
    the prediction, even a capital that is no label (OpenCompass scores that wrong)."""
    text = result.text or ""
    answer = strip_reasoning(text)
    rec = Record(qid=q.qid, subject=q.subject, prompt_hash=prompt_hash, n_shots=n_shots, pred="", gold=None,
                 correct=None, response=text, finish_reason=result.finish_reason,
                 prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                 question_hash=q.content_hash)
    if spec.kind == "multiple_choice":
        labels = q.labels
        if q.multi:  # a set of labels: one token's log-probs cannot say it
            pred = extract_choices(answer, labels, list(q.choices))
            rec.method = "generate"
        elif postprocess:
            pred = POSTPROCESSORS[postprocess](text, labels) or None
            rec.method = "generate"
        elif api_scores is not None:
            pred = max(labels, key=lambda lab: api_scores.get(lab, float("-inf")))
            rec.logprobs = [api_scores.get(lab, float("-inf")) for lab in labels]
            rec.method = "logprobs"
        else:
            pred = extract_choice(answer, labels, list(q.choices))
            rec.method = "generate"
        gold = q.answer_label
        correct = None if gold is None else int(pred == gold)
    elif spec.kind == "short_answer":
        pred = extract_number(answer)
        gold = q.answer
        correct = None if gold is None else int(numbers_equal(pred, gold))
    else:  # open: graded later by a judge
        pred, gold, correct = None, None, None
        rec.reference = q.target
        rec.turns = result.turns
    rec.pred, rec.gold, rec.correct = pred or "", gold, correct
    if spec.kind != "open":
        rec.extraction_failed = pred is None
    return rec


class GenerationStrategy:
    """The model writes its answer; pandian extracts and scores it, or stores it for a judge. Multiple choice
    through an API asks for the first token's log-probs too and reads the choice from them when offered."""

    def __init__(self, backend, spec: BenchmarkSpec, opts, inputs):
        self.backend, self.spec, self.opts, self.inputs = backend, spec, opts, inputs
        api = not can_score(backend)
        self.chat = (api and not opts.completions) or opts.chat_template
        self.fmt = spec.prompts[opts.prompt_format or spec.default_prompt]
        # an OpenCompass post-processor reads the text, so an API's first-token log-probs are not asked for
        self.api_logprobs = api and spec.kind == "multiple_choice" and not self.fmt.postprocess
        self.failed: list[dict] = []
        self.timings: list[Timing] = []

    def settings(self) -> dict:
        return {"max_tokens": self.opts.max_tokens or self.spec.generation.max_tokens,
                "temperature": self.opts.temperature, "top_p": self.opts.top_p, "seed": self.opts.seed,
                "stop": None if self.chat else self.spec.generation.stop, "messages": self.chat}

    def identity(self, spec, opts) -> dict:
        return {"max_length": self.backend.max_length, "chat_template": None, "generation": self.settings()}

    def _fit(self, prompts: list[Prompt], max_tokens: int) -> list[tuple[int, int]]:
        """(examples kept, tokens cut from the start) per prompt. A local model's own tokenizer counts the prompt
        (through its chat template when one is used) and `max_tokens` stay free for the answer; an API's context is
        the server's business, so its prompts go as they are."""
        if not can_score(self.backend) or not self.backend.max_length:
            return [(self.opts.shots, 0)] * len(prompts)
        chat = (lambda text: self.backend.apply_chat(chat_messages(text, self.opts.system_prompt))) if self.chat \
            else None
        fits = fit_prompts(self.backend.tokenize, self.backend.max_length, prompts, self.opts.shots, "separate",
                           self.opts.overflow, chat, reserve=max_tokens)
        return [(f.n_shots, f.cut) for f in fits]

    def _requests(self, questions: list[Question]) -> tuple[list[GenerationRequest], list[tuple[str, int, int]]]:
        """The requests, and per question (prompt hash, examples kept, tokens cut)."""
        g = self.settings()
        shot_cache: dict = {}
        prompts = [render(self.spec, self.fmt, q, self.inputs.shots(q), "letter", shot_cache) for q in questions]
        requests, meta = [], []
        room = (self.backend.max_length or 0) - g["max_tokens"]  # prompt tokens that leave the answer its room
        for prompt, (n_shots, cut) in zip(prompts, self._fit(prompts, g["max_tokens"])):
            text = prompt.text(n_shots)
            base = GenerationRequest(prompt="", max_tokens=g["max_tokens"], temperature=g["temperature"],
                                     top_p=g["top_p"], seed=g["seed"], stop=tuple(g["stop"] or ()),
                                     logprobs=self.api_logprobs, top_logprobs=20 if self.api_logprobs else 0,
                                     keep_last=room if cut and room > 0 else None)
            if self.chat:
                base = replace(base, prompt=None, messages=chat_messages(text, self.opts.system_prompt))
            else:
                base = replace(base, prompt=text)
            requests.append(base)
            meta.append((prompt_hash(text, ()), n_shots, cut))
        return requests, meta

    def compute(self, todo: list[Question]) -> Iterator[list[Record]]:
        requests, meta = self._requests(todo)
        pending: list[Record] = []
        for i, result in _conversations(self.backend, requests, todo):
            if result.error:
                self.failed.append({"qid": todo[i].qid, "error": result.error})
                continue
            api_scores = choice_logprobs(result.logprobs, tuple(todo[i].labels)) if self.api_logprobs else None
            rec = score(self.spec, todo[i], result, api_scores, meta[i][0], meta[i][1], self.fmt.postprocess)
            rec.truncated_tokens = meta[i][2]
            pending.append(rec)
            if result.timing is not None and all(result.timing is not t for t in self.timings):
                self.timings.append(result.timing)  # one per batch, shared by the batch's results
            if len(pending) >= COMMIT_EVERY:
                yield pending
                pending = []
        if pending:
            yield pending

    def session_stats(self, wall: float) -> dict:
        return {"failed_calls": len(self.failed), "first_failure": self.failed[0]["error"] if self.failed else None,
                "decode": latency_profile(self.timings)}

    def summarize(self, summary: dict, records: list[Record]) -> None:
        summary.update(generation_summary(self.spec, records))
        summary["failed_calls"] = self.failed


def generation_summary(spec: BenchmarkSpec, records: list[Record]) -> dict:
    """What generated answers add to a summary: how often extraction failed, and where choices were read from."""
    scored = [r for r in records if spec.kind != "open"]
    failures = sum(1 for r in scored if r.extraction_failed)
    return {"extraction_failures": failures, "extraction_failure_rate": failures / len(scored) if scored else None,
            "methods": {m: sum(1 for r in records if r.method == m) for m in ("logprobs", "generate")}}


def _conversations(backend, requests: list[dict], questions: list[Question]):
    """backend.generate, except that multi-turn questions (MT-Bench) continue: each later user turn is sent after
    the model's own earlier answers. A conversation whose call fails at any turn yields that failure."""
    turns = [q.extra.get("turns") or [q.question] for q in questions]
    if max((len(t) for t in turns), default=1) <= 1 or not requests or requests[0].messages is None:
        yield from backend.generate(requests)
        return
    convo = {i: list(r.messages) for i, r in enumerate(requests)}
    answers: dict[int, list[str]] = {i: [] for i in convo}
    last: dict[int, dict] = {}
    for t in range(max(len(x) for x in turns)):
        idx = [i for i in convo if t < len(turns[i])]
        for i in idx if t else []:
            convo[i] += [{"role": "assistant", "content": answers[i][-1]}, {"role": "user", "content": turns[i][t]}]
        for j, result in backend.generate([replace(requests[i], messages=tuple(convo[i])) for i in idx]):
            i = idx[j]
            if result.error:
                del convo[i]
                yield i, result
                continue
            answers[i].append(result.text or "")
            last[i] = result
    for i in convo:
        yield i, replace(last[i], text=answers[i][0], turns=answers[i])


def latency_profile(timings: list[Timing]) -> dict | None:
    """Time to first token and per-token latency (p50/p95) over the batches a local model generated."""
    if not timings:
        return None
    steps = sorted(s for t in timings for s in t.token_latencies_s)
    ttft = sorted(t.ttft_s for t in timings)

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None

    tokens = sum(len(t.token_latencies_s) + 1 for t in timings)
    decode_s = sum(t.wall_s - t.ttft_s for t in timings)
    return {"batches": len(timings), "ttft_s_p50": statistics.median(ttft), "ttft_s_p95": pct(ttft, 0.95),
            "token_latency_s_p50": pct(steps, 0.5), "token_latency_s_p95": pct(steps, 0.95),
            "decode_steps_per_s": tokens / decode_s if decode_s > 0 else None}
