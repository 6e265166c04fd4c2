"""Log-likelihood scoring: render each question's prompt, fit it to the model's context under the run's overflow
policy, score every choice's continuation through the backend's scorer, and make one record per question.

OpenCompass's perplexity configs (tokenization "opencompass") rank a choice by the mean log-likelihood of every
token of its whole text, context included. The context's part is computed once per question here, on top of the
few-shot prefix its subject shares, where OpenCompass runs the whole text once per choice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict
from typing import Iterator

from pandian.backends.base import TokenRequest, chat_messages
from pandian.core.data import Question
from pandian.core.overflow import Fitted, fit_prompts
from pandian.core.prompts import render
from pandian.core.records import Record
from pandian.core.spec import BenchmarkSpec


def make_record(q: Question, scores: list[float], fitted: Fitted, conts, answers, scoring: str) -> Record:
    """answers: what each continuation stands for, a label or (a multi-select question) a set of labels."""
    best = max(range(len(scores)), key=lambda i: scores[i])
    gold = q.answer_label
    rec = Record(qid=q.qid, subject=q.subject, prompt_hash=fitted.prompt_hash, n_shots=fitted.n_shots,
                 logprobs=scores, pred=answers[best], gold=gold,
                 correct=int(answers[best] == gold) if gold is not None else None, truncated_tokens=fitted.cut,
                 question_hash=q.content_hash)
    if scoring == "choice":
        # lm-eval's acc_norm: log-likelihood divided by the continuation's length in characters
        norm = [s / max(1, len(c)) for s, c in zip(scores, conts)]
        pn = max(range(len(norm)), key=lambda i: norm[i])
        rec.pred_norm = answers[pn]
        rec.correct_norm = int(answers[pn] == gold) if gold is not None else None
    return rec


class _Plan:
    """The token requests for a set of fitted questions, and which questions each one completes.

    One request per context (a question has several only when truncation cut its continuations' contexts
    differently). With perplexity scoring, each context's own log-likelihood is asked for too: its group's common
    prefix once, then each context's remainder on top of that prefix."""

    def __init__(self, questions: list[Question], fits: list[Fitted], perplexity: bool):
        self.requests: list[TokenRequest] = []
        self.users: list[list[int]] = []  # request -> questions waiting for it
        self.waiting = [0] * len(fits)
        self.cont_of: dict[int, tuple[int, ...]] = {}  # scoring request -> the question's continuation indices
        self.ctx_of: dict[int, tuple[int, int]] = {}   # context request -> (question, part)
        self.prefixes: set[int] = set()                # a group's shared prefix: one request for all its questions
        groups: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
        for qi, (q, f) in enumerate(zip(questions, fits)):
            for pi, part in enumerate(f.parts):
                # a cut context shares no prefix with the others: it gets a group of its own
                key = (q.subject, f.n_shots) if not part.cut else ("cut", qi, pi)
                self.cont_of[self._add(TokenRequest(part.ctx, tuple(f.ids[j] for j in part.conts), key), [qi])] = \
                    part.conts
                if perplexity:
                    groups[key].append((qi, pi))
        self.fits = fits
        for key, members in groups.items():
            self._context_requests(key, members)

    def _add(self, request: TokenRequest, users: list[int]) -> int:
        self.requests.append(request)
        self.users.append(users)
        for qi in users:
            self.waiting[qi] += 1
        return len(self.requests) - 1

    def _context_requests(self, key, members: list[tuple[int, int]]) -> None:
        ctxs = [self.fits[qi].parts[pi].ctx for qi, pi in members]
        # every context keeps a remainder after the shared prefix; a context alone needs no split
        n = min(len(c) for c in ctxs) - 1 if len(ctxs) > 1 else 0
        first = ctxs[0]
        for c in ctxs[1:]:
            n = next((i for i in range(n) if c[i] != first[i]), n)
        if n >= 2:
            self.prefixes.add(self._add(TokenRequest(first[:1], (first[1:n],), ("ctx-prefix", key)),
                                        sorted({qi for qi, _ in members})))
        start = max(n, 1)
        for qi, pi in members:
            c = self.fits[qi].parts[pi].ctx
            if len(c) > 1:
                self.ctx_of[self._add(TokenRequest(c[:start], (c[start:],), ("ctx", key)), [qi])] = (qi, pi)


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
        fits = fit_prompts(backend.tokenize, backend.max_length, prompts, opts.shots, self.fmt.tokenization,
                           opts.overflow, chat)
        self.timing = {"render_s": round(t1 - t0, 3), "tokenize_s": round(time.perf_counter() - t1, 3)}
        perplexity = self.fmt.tokenization == "opencompass"
        plan = _Plan(todo, fits, perplexity)
        cont_ll: dict[int, dict[int, float]] = defaultdict(dict)  # question -> continuation -> log-likelihood
        ctx_ll: dict[int, dict[int, float]] = defaultdict(dict)   # question -> part -> context log-likelihood
        prefix_ll: dict[int, float] = defaultdict(float)          # question -> its group prefix's log-likelihood
        self.scorer = backend.scorer(opts.batch_size, opts.reuse_prefix)
        for batch in self.scorer.score(plan.requests):
            done = []
            for ri, scores in batch:
                if ri in plan.cont_of:
                    qi = plan.users[ri][0]
                    cont_ll[qi].update(zip(plan.cont_of[ri], scores))
                elif ri in plan.prefixes:
                    for qi in plan.users[ri]:
                        prefix_ll[qi] = scores[0]
                else:
                    qi, pi = plan.ctx_of[ri]
                    ctx_ll[qi][pi] = scores[0]
                for qi in plan.users[ri]:
                    plan.waiting[qi] -= 1
                    if plan.waiting[qi] == 0:
                        done.append(qi)
            records = []
            for qi in done:
                f = fits[qi]
                scores = [cont_ll[qi][j] for j in range(len(f.ids))]
                if perplexity:
                    for pi, part in enumerate(f.parts):
                        context = prefix_ll[qi] + ctx_ll[qi].get(pi, 0.0)
                        for j in part.conts:  # OpenCompass divides by every token of the text, the first included
                            scores[j] = (context + scores[j]) / (len(part.ctx) + len(f.ids[j]))
                records.append(make_record(todo[qi], scores, f, prompts[qi].continuations, prompts[qi].answers,
                                           opts.scoring))
            if records:
                yield records

    def session_stats(self, wall: float) -> dict:
        if self.scorer is None:
            return dict(self.timing)
        st = self.scorer.stats
        return {**self.timing, "engine": asdict(st), "token_budget": self.scorer.token_budget,
                "batch_size": self.opts.batch_size, "reuse_prefix": self.opts.reuse_prefix,
                "prefill_tokens_per_s": (st.row_tokens + st.prefix_tokens) / st.forward_s if st.forward_s else None}

    def summarize(self, summary: dict, records: list[Record]) -> None:
        pass
