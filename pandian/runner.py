"""The runner: benchmark x backend -> per-question records in the store, resumable, then a summary.

Order of work: load and validate every question (bad input fails here, before anything is written); compute the
run's identity; skip questions already stored under it; render, tokenize and fit prompts to the model's context;
score them through the engine, committing records batch by batch; summarise from the stored records.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable, Literal

from . import __version__
from .data import Question, Split, fingerprint_files, load_split, split_files, subjects_of
from .engine import Request
from .metrics import summarize
from .prompts import Prompt, prompt_hash, render
from .resources import fingerprint, memory_snapshot, weights_gb
from .spec import BenchmarkSpec, SpecError
from .store import ResultStore


@dataclass
class EvalOptions:
    data_dir: Path
    shots: int = 0
    subjects: list[str] | None = None
    limit: int | None = None  # the first N questions of each subject
    split: str | None = None
    prompt_format: str | None = None
    scoring: Literal["letter", "choice", "generate"] = "letter"
    chat_template: bool = False
    system_prompt: str | None = None
    batch_size: int | None = None
    reuse_prefix: bool = True
    # generative scoring (--scoring generate, short-answer and open tasks, API models)
    max_tokens: int | None = None
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    api: bool = False  # the backend is an OpenAI-compatible endpoint (log-probs read when offered)
    api_chat: bool = True  # chat completions (messages); False: text completions of the raw prompt (base models)


@dataclass
class EvalResult:
    run_id: str
    summary: dict
    records: list[dict] = field(repr=False)


def library_versions() -> dict:
    import tokenizers
    import torch
    import transformers

    return {"pandian": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def select(questions: list[Question], limit: int | None) -> list[Question]:
    if limit is None:
        return questions
    seen: dict[str, int] = {}
    out = []
    for q in questions:
        seen[q.subject] = seen.get(q.subject, 0) + 1
        if seen[q.subject] <= limit:
            out.append(q)
    return out


def run_identity(spec: BenchmarkSpec, model_identity: dict, opts: EvalOptions, split: str, fmt_name: str,
                 data_fp: str, max_length: int | None, chat_template: str | None,
                 generation: dict | None = None) -> tuple[str, dict]:
    """Everything that can change a number. Batch size, limit and subject selection are absent on purpose:
    they choose which questions are computed and how fast, never what a question scores."""
    ident = {
        "weights": model_identity.get("fingerprint"),
        "dtype": model_identity.get("dtype"),
        "benchmark": spec.name,
        "spec_hash": spec.spec_hash(),
        "data": data_fp,
        "split": split,
        "prompt_format": fmt_name,
        "shots": opts.shots,
        "scoring": opts.scoring,
        "chat_template": hashlib.sha256(chat_template.encode()).hexdigest()[:12] if chat_template else None,
        "system_prompt": opts.system_prompt,
        "max_length": max_length,
    }
    if generation is not None:  # sampling settings change generated answers
        ident["generation"] = generation
    for k, v in model_identity.items():  # e.g. a quantization variant, an API's base URL
        # a local model's name is display only (its weights fingerprint identifies it); an API model's is its identity
        if k != "fingerprint" and (k != "model" or ident["weights"] is None):
            ident.setdefault(k, v)
    run_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return run_id, ident


def _tokenize(model, prompts: list[Prompt], k: int, rule: str, chat: Callable[[str], str] | None):
    """Token ids for each prompt, dropping few-shot examples from the end until it fits the model's context. A
    question too long even with no shots keeps its end (left truncation), and its record says how many tokens were
    cut. Yields (context ids, continuation ids, shots kept, tokens cut, prompt hash) in prompt order."""
    limit = model.max_length
    shots = [k] * len(prompts)
    done: dict[int, tuple] = {}
    pending = list(range(len(prompts)))
    while pending:
        texts = [prompts[i].text(shots[i]) for i in pending]
        if chat is not None:
            texts = [chat(t) for t in texts]
        encoded = model.encode(texts, [prompts[i].continuations for i in pending], rule)
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


@dataclass
class Inputs:
    loaded: Split
    questions: list[Question]  # the selected questions, validated
    data_fp: str
    shots: Callable[[Question], list[Question]]  # the question's k few-shot examples


def load_inputs(spec: BenchmarkSpec, opts: EvalOptions, split: str) -> Inputs:
    """Everything a run reads, validated before anything is written. The data fingerprint covers every file of the
    evaluated and few-shot splits (all subjects), so that choosing subjects never changes a run's identity."""
    if opts.shots and not spec.splits.fewshot:
        raise SpecError(f"{spec.name} has no few-shot split; use --shots 0")
    loaded = load_split(spec, opts.data_dir, split, opts.subjects)
    pool: dict[str, list[Question]] = {}
    if opts.shots:
        for s in load_split(spec, opts.data_dir, spec.splits.fewshot, opts.subjects).questions:
            pool.setdefault(s.subject if spec.splits.fewshot_per_subject else "", []).append(s)

    def shots(q: Question) -> list[Question]:
        """The first k examples (fixed order) of the question's subject, or of the whole few-shot split."""
        if not opts.shots:
            return []
        candidates = pool.get(q.subject if spec.splits.fewshot_per_subject else "", [])
        chosen = list(islice((s for s in candidates if s.origin != q.origin), opts.shots))
        if len(chosen) < opts.shots:
            raise SpecError(f"{spec.name}: subject '{q.subject}' has {len(chosen)} few-shot examples in "
                            f"'{spec.splits.fewshot}', fewer than --shots {opts.shots}")
        return chosen

    files = [p for sp in {split, spec.splits.fewshot} - {None}
             for _, p in split_files(spec, opts.data_dir, sp, subjects_of(spec))]
    data_fp = fingerprint_files([p for p in files if p.exists()]) if loaded.files else "hub"
    return Inputs(loaded, select(loaded.questions, opts.limit), data_fp, shots)


def evaluate(model, spec: BenchmarkSpec, opts: EvalOptions, store: ResultStore,
             on_start: Callable[[int, int], None] = lambda total, todo: None,
             on_progress: Callable[[int], None] = lambda n: None) -> EvalResult:
    split = opts.split or spec.splits.eval
    fmt_name = opts.prompt_format or spec.default_prompt
    if fmt_name not in spec.prompts:
        raise SpecError(f"{spec.name}: no prompt format '{fmt_name}'; it has {', '.join(spec.prompts)}")
    fmt = spec.prompts[fmt_name]
    inputs = load_inputs(spec, opts, split)
    loaded, questions = inputs.loaded, inputs.questions

    chat_template = model.tokenizer.chat_template if opts.chat_template else None
    run_id, ident = run_identity(spec, model.identity(), opts, split, fmt_name, inputs.data_fp, model.max_length,
                                 chat_template)
    store.ensure_run(run_id, model.name, spec.name, {**ident, "model": model.name}, library_versions())
    done = store.done_qids(run_id)
    todo = [q for q in questions if q.qid not in done]
    on_start(len(questions), len(todo))

    # 2. prompts -> token requests
    chat = (lambda text: model.apply_chat(text, opts.system_prompt)) if opts.chat_template else None
    prompts, shot_cache = [], {}
    for q in todo:
        prompts.append(render(spec, fmt, q, inputs.shots(q), opts.scoring, shot_cache))
    requests, meta = [], []
    for q, prompt, (ctx, cont_ids, n_shots, cut, phash) in zip(
            todo, prompts, _tokenize(model, prompts, opts.shots, fmt.tokenization, chat)):
        requests.append(Request(tuple(ctx), tuple(tuple(c) for c in cont_ids), (q.subject, n_shots)))
        meta.append((q, phash, n_shots, cut, prompt.continuations))

    # 3. score, committing batch by batch
    engine = model.engine(opts.batch_size, opts.reuse_prefix)
    started, t0, computed = time.time(), time.perf_counter(), 0
    status = "complete"
    try:
        for batch in engine.score(requests):
            recs = [make_record(meta[i][0], scores, *meta[i][1:], scoring=opts.scoring) for i, scores in batch]
            store.add_records(run_id, recs)
            computed += len(recs)
            on_progress(len(recs))
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall = time.perf_counter() - t0
        st = engine.stats
        session = {
            "status": status, "load_s": getattr(model, "load_s", None), "device": str(model.device),
            "engine": asdict(st), "token_budget": engine.token_budget, "batch_size": opts.batch_size,
            "reuse_prefix": opts.reuse_prefix, "questions_per_s": computed / wall if wall > 0 else None,
            "prefill_tokens_per_s": (st.row_tokens + st.prefix_tokens) / st.forward_s if st.forward_s else None,
            "weights_gb": round(weights_gb(model.model), 4) if model.model is not None else None,
            **memory_snapshot(model.device),
            "hardware": fingerprint(),
        }
        store.add_session(run_id, started, wall, computed, session)

    # 4. summary from the stored records of the selected questions
    order = {q.qid: i for i, q in enumerate(questions)}
    records = sorted(store.records(run_id, set(order)), key=lambda r: order[r["qid"]])
    summary = build_summary(spec, model.name, run_id, ident, records, loaded.skipped, computed, wall)
    summary["resources"] = {k: session[k] for k in ("load_s", "weights_gb", "peak_rss_gb", "cuda_max_allocated_gb",
                                                     "cuda_max_reserved_gb", "prefill_tokens_per_s") if k in session}
    summary["hardware"] = session["hardware"]
    return EvalResult(run_id, summary, records)


def make_record(q: Question, scores: list[float], prompt_hash: str, n_shots: int, cut: int, conts, scoring: str):
    labels = q.labels
    pred = max(range(len(scores)), key=lambda i: scores[i])
    rec = {
        "qid": q.qid, "subject": q.subject, "prompt_hash": prompt_hash, "n_shots": n_shots,
        "logprobs": scores, "pred": labels[pred],
        "gold": labels[q.answer] if q.answer is not None else None,
        "correct": int(pred == q.answer) if q.answer is not None else None,
        "extra": {},
    }
    if cut:
        rec["extra"]["truncated_tokens"] = cut
    if scoring == "choice":
        # lm-eval's acc_norm: log-likelihood divided by the continuation's length in characters
        norm = [s / max(1, len(c)) for s, c in zip(scores, conts)]
        pn = max(range(len(norm)), key=lambda i: norm[i])
        rec["extra"].update(pred_norm=labels[pn], correct_norm=int(pn == q.answer) if q.answer is not None else None)
    return rec


def build_summary(spec: BenchmarkSpec, model_name: str, run_id: str, ident: dict, records: list[dict],
                  skipped: dict, computed: int, wall: float) -> dict:
    scored = [r for r in records if r["correct"] is not None]
    summary = {
        "run_id": run_id,
        "model": model_name,
        "benchmark": spec.name,
        "title": spec.title,
        "config": ident,
        "questions": len(records),
        "computed_now": computed,
        "wall_s": round(wall, 3),
        "questions_per_s": round(computed / wall, 2) if wall > 0 and computed else None,
        "shots_dropped": sum(1 for r in records if r["n_shots"] < ident["shots"]),
        "truncated": sum(1 for r in records if r["extra"].get("truncated_tokens")),
        "skipped": skipped,
        "accuracy": summarize(scored, spec.categories_of),
    }
    if ident["scoring"] == "choice":
        normed = [{**r, "correct": r["extra"]["correct_norm"]} for r in scored]
        summary["accuracy_norm"] = summarize(normed, spec.categories_of)
    return summary


def write_outputs(out: Path, result: EvalResult) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=1, ensure_ascii=False))
    bench = result.summary["benchmark"]
    with (out / "records.jsonl").open("w", encoding="utf-8") as f:
        for r in result.records:
            f.write(json.dumps({"benchmark": bench, **r}, ensure_ascii=False) + "\n")
