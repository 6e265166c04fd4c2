"""Generative evaluation: the model writes its answer; pandian extracts it (a choice letter or a number) and scores it,
or stores it for a judge (open tasks). Works the same for a local model and for any OpenAI-compatible API.

Multiple choice through an API asks for the first token's log-probs too: where the endpoint returns them the choice
is read from them, otherwise from the text; each record says which. A call that fails after its retries writes no
record (it is never scored as a wrong answer); the summary counts it and a rerun retries it.
"""

from __future__ import annotations

import statistics
import time

from .data import Question
from .extract import extract_choice, extract_number, numbers_equal, strip_reasoning
from .prompts import prompt_hash, render
from .resources import fingerprint, memory_snapshot
from .runner import EvalOptions, EvalResult, build_summary, library_versions, load_inputs, run_identity
from .spec import BenchmarkSpec
from .store import ResultStore

COMMIT_EVERY = 16  # records per transaction: small enough that a crash loses little


def _requests(spec: BenchmarkSpec, opts: EvalOptions, questions: list[Question], shots,
              chat: bool) -> tuple[list[dict], list[str]]:
    fmt = spec.prompts[opts.prompt_format or spec.default_prompt]
    shot_cache: dict = {}
    requests, hashes = [], []
    for q in questions:
        text = render(spec, fmt, q, shots(q), "letter", shot_cache).text()
        req: dict = {"max_tokens": opts.max_tokens or spec.generation.max_tokens, "temperature": opts.temperature,
                     "top_p": opts.top_p, "seed": opts.seed}
        if chat:
            req["messages"] = ([{"role": "system", "content": opts.system_prompt}] if opts.system_prompt else []) + \
                [{"role": "user", "content": text}]
        else:
            req["prompt"] = text
            if spec.generation.stop:
                req["stop"] = spec.generation.stop
        if spec.kind == "multiple_choice" and opts.api:
            req.update(logprobs=True, top_logprobs=20)
        requests.append(req)
        hashes.append(prompt_hash(text, ()))
    return requests, hashes


def score(spec: BenchmarkSpec, q: Question, result: dict, api_scores) -> dict:
    """A record from one answer. api_scores: per-label log-probs from the endpoint, or None."""
    text = result["text"] or ""
    answer = strip_reasoning(text)
    rec = {"qid": q.qid, "subject": q.subject, "logprobs": [], "extra": {"response": text}}
    if spec.kind == "multiple_choice":
        labels = q.labels
        if api_scores is not None:
            pred = max(labels, key=lambda lab: api_scores.get(lab, float("-inf")))
            rec["logprobs"] = [api_scores.get(lab, float("-inf")) for lab in labels]
            method = "logprobs"
        else:
            pred = extract_choice(answer, labels, list(q.choices))
            method = "generate"
        gold = labels[q.answer] if q.answer is not None else None
        correct = None if gold is None else int(pred == gold)
        rec["extra"]["method"] = method
    elif spec.kind == "short_answer":
        pred = extract_number(answer)
        gold = q.answer
        correct = None if gold is None else int(numbers_equal(pred, gold))
    else:  # open: graded later by a judge
        pred, gold, correct = None, None, None
        rec["extra"]["reference"] = q.target
        if result.get("turns"):
            rec["extra"]["turns"] = result["turns"]
    rec.update(pred=pred or "", gold=gold, correct=correct)
    if spec.kind != "open":
        rec["extra"]["extraction_failed"] = pred is None
    rec["extra"]["usage"] = result.get("usage")
    rec["extra"]["finish_reason"] = result.get("finish_reason")
    return rec


def evaluate_generative(backend, spec: BenchmarkSpec, opts: EvalOptions, store: ResultStore,
                        on_start=lambda total, todo: None, on_progress=lambda n: None) -> EvalResult:
    split = opts.split or spec.splits.eval
    inputs = load_inputs(spec, opts, split)
    loaded, questions = inputs.loaded, inputs.questions
    chat = (opts.api and opts.api_chat) or opts.chat_template
    gen = {"max_tokens": opts.max_tokens or spec.generation.max_tokens, "temperature": opts.temperature,
           "top_p": opts.top_p, "seed": opts.seed, "stop": None if chat else spec.generation.stop,
           "messages": chat}
    run_id, ident = run_identity(spec, backend.identity(), opts, split, opts.prompt_format or
                                 spec.default_prompt, inputs.data_fp, getattr(backend, "max_length", None),
                                 None, generation=gen)
    store.ensure_run(run_id, backend.name, spec.name, {**ident, "model": backend.name}, library_versions())
    done = store.done_qids(run_id)
    todo = [q for q in questions if q.qid not in done]
    on_start(len(questions), len(todo))
    requests, hashes = _requests(spec, opts, todo, inputs.shots, chat)

    started, t0 = time.time(), time.perf_counter()
    computed, failed, pending, timings = 0, [], [], []
    status = "complete"
    try:
        for i, result in _conversations(backend, requests, todo):
            if result.get("error"):
                failed.append({"qid": todo[i].qid, "error": result["error"]})
                continue
            api_scores = backend.choice_scores(result, todo[i].labels) if spec.kind == "multiple_choice" and \
                opts.api else None
            rec = score(spec, todo[i], result, api_scores)
            rec.update(prompt_hash=hashes[i], n_shots=opts.shots)
            if result.get("timing") and all(result["timing"] is not t for t in timings):
                timings.append(result["timing"])  # one per batch, shared by the batch's results
            pending.append(rec)
            if len(pending) >= COMMIT_EVERY:
                store.add_records(run_id, pending)
                computed += len(pending)
                on_progress(len(pending))
                pending = []
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if pending:
            store.add_records(run_id, pending)
            computed += len(pending)
            on_progress(len(pending))
        wall = time.perf_counter() - t0
        session = {"status": status, "failed_calls": len(failed), "questions_per_s": computed / wall if wall else None,
                   "decode": latency_profile(timings), "usage": getattr(backend, "usage_summary", lambda: None)(), "hardware": fingerprint(),
                   "load_s": getattr(backend, "load_s", None)}
        if getattr(backend, "device", None) is not None:
            session.update(memory_snapshot(backend.device))
        store.add_session(run_id, started, wall, computed, session)

    order = {q.qid: i for i, q in enumerate(questions)}
    records = sorted(store.records(run_id, set(order)), key=lambda r: order[r["qid"]])
    summary = build_summary(spec, backend.name, run_id, ident, records, loaded.skipped, computed, wall)
    scored = [r for r in records if spec.kind != "open"]
    summary["extraction_failures"] = sum(1 for r in scored if r["extra"].get("extraction_failed"))
    summary["extraction_failure_rate"] = summary["extraction_failures"] / len(scored) if scored else None
    summary["failed_calls"] = failed
    summary["methods"] = {m: sum(1 for r in records if r["extra"].get("method") == m) for m in ("logprobs", "generate")}
    summary["resources"] = {k: session.get(k) for k in ("usage", "decode", "load_s", "peak_rss_gb",
                                                        "cuda_max_allocated_gb")}
    summary["hardware"] = session["hardware"]
    return EvalResult(run_id, summary, records)


def _conversations(backend, requests: list[dict], questions: list[Question]):
    """backend.generate, except that multi-turn questions (MT-Bench) continue: each later user turn is sent after
    the model's own earlier answers. A conversation whose call fails at any turn yields that failure."""
    turns = [q.extra.get("turns") or [q.question] for q in questions]
    if max((len(t) for t in turns), default=1) <= 1 or not requests or "messages" not in requests[0]:
        yield from backend.generate(requests)
        return
    convo = {i: list(r["messages"]) for i, r in enumerate(requests)}
    answers: dict[int, list[str]] = {i: [] for i in convo}
    last: dict[int, dict] = {}
    for t in range(max(len(x) for x in turns)):
        idx = [i for i in convo if t < len(turns[i])]
        for i in idx if t else []:
            convo[i] += [{"role": "assistant", "content": answers[i][-1]}, {"role": "user", "content": turns[i][t]}]
        for j, result in backend.generate([{**requests[i], "messages": convo[i]} for i in idx]):
            i = idx[j]
            if result.get("error"):
                del convo[i]
                yield i, result
                continue
            answers[i].append(result["text"] or "")
            last[i] = result
    for i in convo:
        yield i, {**last[i], "text": answers[i][0], "turns": answers[i]}


def latency_profile(timings: list[dict]) -> dict | None:
    """Time to first token and per-token latency (p50/p95) over the batches a local model generated."""
    if not timings:
        return None
    steps = sorted(s for t in timings for s in t["token_latencies_s"])
    ttft = sorted(t["ttft_s"] for t in timings)

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None

    tokens = sum(len(t["token_latencies_s"]) + 1 for t in timings)
    decode_s = sum(t["wall_s"] - t["ttft_s"] for t in timings)
    return {"batches": len(timings), "ttft_s_p50": statistics.median(ttft), "ttft_s_p95": pct(ttft, 0.95),
            "token_latency_s_p50": pct(steps, 0.5), "token_latency_s_p95": pct(steps, 0.95),
            "decode_steps_per_s": tokens / decode_s if decode_s > 0 else None}
