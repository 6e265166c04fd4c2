"""Log-likelihood scoring: render each question's prompt, tokenize it to fit the model's context, score every
choice's continuation through the backend's scorer, and make one record per question."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Callable, Iterator

from pandian.backends.base import TokenRequest, chat_messages
from pandian.core.data import Question
from pandian.core.prompts import Prompt, prompt_hash, render
from pandian.core.records import Record
from pandian.core.spec import BenchmarkSpec


def fit_to_context(backend, prompts: list[Prompt], k: int, rule: str, chat: Callable[[str], str] | None):
    """Token ids for each prompt, dropping few-shot examples from the end until it fits the model's context. A
    question too long even with no shots keeps its end (left truncation), and its record says how many tokens were
    cut. Returns (context ids, continuation ids, shots kept, tokens cut, prompt hash) in prompt order."""
    limit = backend.max_length
    shots = [k] * len(prompts)
    done: dict[int, tuple] = {}
    pending = list(range(len(prompts)))
    while pending:
        texts = [prompts[i].text(shots[i]) for i in pending]
        if chat is not None:
            texts = [chat(t) for t in texts]
        encoded = backend.tokenize(texts, [prompts[i].continuations for i in pending], rule)
        retry = []
        for i, text, (ctx, conts) in zip(pending, texts, encoded):
            excess = len(ctx) + max(len(c) for c in conts) - 1 - limit
            if excess > 0 and shots[i] > 0:
                shots[i] -= 1
                retry.append(i)
                continue
            cut = max(0, excess)
            done[i] = (ctx[cut:], conts, shots[i], cut, prompt_hash(text, prompts[i].continuations))
        pending = retry
    return [done[i] for i in range(len(prompts))]


def make_record(q: Question, scores: list[float], prompt_hash: str, n_shots: int, cut: int, conts, answers,
                scoring: str) -> Record:
    """answers: what each continuation stands for, a label or (a multi-select question) a set of labels."""
    best = max(range(len(scores)), key=lambda i: scores[i])
    gold = q.answer_label
    rec = Record(qid=q.qid, subject=q.subject, prompt_hash=prompt_hash, n_shots=n_shots, logprobs=scores,
                 pred=answers[best], gold=gold, correct=int(answers[best] == gold) if gold is not None else None,
                 truncated_tokens=cut, question_hash=q.content_hash)
    if scoring == "choice":
        # lm-eval's acc_norm: log-likelihood divided by the continuation's length in characters
        norm = [s / max(1, len(c)) for s, c in zip(scores, conts)]
        pn = max(range(len(norm)), key=lambda i: norm[i])
        rec.pred_norm = answers[pn]
        rec.correct_norm = int(answers[pn] == gold) if gold is not None else None
    return rec


class LikelihoodStrategy:
    def __init__(self, backend, spec: BenchmarkSpec, opts, inputs):
        self.backend, self.spec, self.opts, self.inputs = backend, spec, opts, inputs
        self.fmt = spec.prompts[opts.prompt_format or spec.default_prompt]
        self.scorer = None
        self.timing: dict = {}

    def identity(self, spec, opts) -> dict:
        template = self.backend.chat_template if opts.chat_template else None
        if opts.chat_template and not template:
            self.backend.apply_chat(chat_messages(""))  # raises the backend's clear error
        return {"max_length": self.backend.max_length, "chat_template": template}

    def compute(self, todo: list[Question]) -> Iterator[list[Record]]:
        opts, backend = self.opts, self.backend
        chat = (lambda text: backend.apply_chat(chat_messages(text, opts.system_prompt))) if opts.chat_template \
            else None
        shot_cache: dict = {}
        t0 = time.perf_counter()
        prompts = [render(self.spec, self.fmt, q, self.inputs.shots(q), opts.scoring, shot_cache) for q in todo]
        t1 = time.perf_counter()
        encoded = fit_to_context(backend, prompts, opts.shots, self.fmt.tokenization, chat)
        self.timing = {"render_s": round(t1 - t0, 3), "tokenize_s": round(time.perf_counter() - t1, 3)}
        requests, meta = [], []
        for q, prompt, (ctx, cont_ids, n_shots, cut, phash) in zip(todo, prompts, encoded):
            requests.append(TokenRequest(tuple(ctx), tuple(tuple(c) for c in cont_ids), (q.subject, n_shots)))
            meta.append((q, phash, n_shots, cut, prompt.continuations, prompt.answers))
        self.scorer = backend.scorer(opts.batch_size, opts.reuse_prefix)
        for batch in self.scorer.score(requests):
            yield [make_record(meta[i][0], scores, *meta[i][1:], scoring=opts.scoring) for i, scores in batch]

    def session_stats(self, wall: float) -> dict:
        if self.scorer is None:
            return dict(self.timing)
        st = self.scorer.stats
        return {**self.timing, "engine": asdict(st), "token_budget": self.scorer.token_budget,
                "batch_size": self.opts.batch_size, "reuse_prefix": self.opts.reuse_prefix,
                "prefill_tokens_per_s": (st.row_tokens + st.prefix_tokens) / st.forward_s if st.forward_s else None}

    def summarize(self, summary: dict, records: list[Record]) -> None:
        pass
