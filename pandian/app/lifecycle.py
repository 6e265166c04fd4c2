"""The one run lifecycle, for every kind of evaluation:

    inputs (validated before anything is written) -> identity -> skip what is stored -> compute, committing
    records batch by batch -> session (cost, status) -> summary from the stored records

How a question is answered is a strategy: log-likelihood scoring (`likelihood.py`) for backends that expose token
log-probs, generation plus extraction (`generation.py`) for every backend. Progress goes out through callbacks; this
layer prints nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal, Protocol

from pandian import settings
from pandian.app.privacy import check_private_data
from pandian.backends.base import can_score
from pandian.backends.resources import fingerprint, library_versions, process_age_s
from pandian.core.data import Question, Split, check_split, fingerprint_files, input_files, load_shots, load_split
from pandian.core.identity import run_identity
from pandian.core.metrics import credit_summary, set_credit, summarize
from pandian.core.overflow import POLICIES
from pandian.core.records import Record
from pandian.core.sources import DataFile, files_of
from pandian.core.spec import BenchmarkSpec, SpecError
from pandian.store import ResultStore


@dataclass
class EvalOptions:
    data_dir: Path
    shots: int = 0
    subjects: list[str] | None = None
    limit: int | None = None  # the first N questions of each subject
    split: str | None = None
    prompt_format: str | None = None
    scoring: Literal["letter", "choice", "generate"] | None = None  # None: the format's own, else letter
    overflow: Literal["drop-shots", "truncate-left"] | None = None  # None: the prompt format's policy
    chat_template: bool = False
    system_prompt: str | None = None
    batch_size: int | None = None
    reuse_prefix: bool = True
    # generative scoring (--scoring generate, short-answer and open tasks, API models)
    max_tokens: int | None = None
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    completions: bool = False  # API: text completions of the raw prompt (base models) instead of chat
    allow_remote_data: bool = False  # a private benchmark's questions may go to a remote API
    catalog_key: str | None = None  # the catalog model this is (stored with the run, not part of its identity)


@dataclass
class Progress:
    start: Callable[[int, int], None] = lambda total, todo: None  # questions selected, questions still to compute
    advance: Callable[[int], None] = lambda n: None


@dataclass
class EvalResult:
    run_id: str
    summary: dict
    records: list[Record] = field(repr=False)


@dataclass
class Inputs:
    loaded: Split
    questions: list[Question]  # the selected questions, validated
    data_fp: str
    shots: Callable[[Question], list[Question]]  # the question's k few-shot examples
    total: int | None = None  # questions in the whole split (every subject): what a complete run stores


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that both end a run the same way: finished batches kept."""


class Strategy(Protocol):
    def identity(self, spec: BenchmarkSpec, opts: EvalOptions) -> dict:
        """The strategy's part of the run identity: max_length, chat_template, generation settings."""

    def compute(self, todo: list[Question]) -> Iterator[list[Record]]: ...

    def session_stats(self, wall: float) -> dict: ...

    def summarize(self, summary: dict, records: list[Record]) -> None: ...


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


def load_inputs(spec: BenchmarkSpec, opts: EvalOptions, split: str) -> Inputs:
    """Everything a run reads, validated before anything is written. The data fingerprint covers every file the
    split and its few-shot examples depend on (all subjects), so that choosing subjects never changes a run's
    identity."""
    _before_reading(spec, opts.data_dir, [split, spec.splits.fewshot if opts.shots else None], opts.subjects)
    loaded = load_split(spec, opts.data_dir, split, opts.subjects)
    pool = load_shots(spec, opts.data_dir, opts.subjects) if opts.shots else None

    def shots(q: Question) -> list[Question]:
        return pool.pick(q, opts.shots) if pool is not None else []

    data_fp = fingerprint_files(input_files(spec, opts.data_dir, split)) if loaded.files else "hub"
    total = len(loaded.questions)
    if opts.subjects:  # the other subjects count too, when they are on disk (a hub read is not worth a count)
        every_file = files_of(spec, opts.data_dir, split, None)
        on_disk = loaded.files and all(f.path.exists() for f in every_file)
        total = _with_other_subjects(spec, opts.data_dir, split, loaded, every_file, opts.subjects) \
            if on_disk else None
    return Inputs(loaded, select(loaded.questions, opts.limit), data_fp, shots, total)


def _with_other_subjects(spec: BenchmarkSpec, data_dir: Path, split: str, chosen: Split, every_file: list[DataFile],
                         subjects: list[str]) -> int:
    """The split's question count over every subject, reading only the files the chosen subjects did not."""
    if chosen.every_subject is not None:  # one file held every subject: it was read whole
        return chosen.every_subject
    others = list(dict.fromkeys(f.subject for f in every_file if f.subject not in subjects))
    return len(chosen.questions) + (len(load_split(spec, data_dir, split, others).questions) if others else 0)


def read_split(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list[str] | None = None) -> Split:
    """One split's questions read as a run reads them (`load_inputs`), for what reads a benchmark outside a run:
    bias scores, judging, a suite's chance level."""
    _before_reading(spec, data_dir, [split], subjects)
    return load_split(spec, data_dir, split, subjects)


def _before_reading(spec: BenchmarkSpec, data_dir: Path, splits: list[str | None], subjects: list[str] | None):
    """A split that is a typo is named as one; and when a file is missing, so that the hub is the fallback, whether
    the hub answers is asked once: offline, the hub libraries are told, and the local route is the answer at once
    (they would retry for half a minute)."""
    splits = list(dict.fromkeys(sp for sp in splits if sp is not None))
    for sp in splits:
        check_split(spec, data_dir, sp)
    if spec.data.hub is not None and not all(f.path.exists() for sp in splits
                                             for f in files_of(spec, data_dir, sp, subjects)):
        settings.hub_reachable()


class Committed:
    """The compute -> commit step every lifecycle shares (evaluation records, judge verdicts): each batch is stored
    the moment it is complete, so an interruption loses at most the batch in flight, and a rerun skips what is
    stored."""

    def __init__(self, commit: Callable[[list], None], progress: Progress):
        self.commit, self.progress, self.count = commit, progress, 0

    def drain(self, batches: Iterable[list]) -> None:
        for batch in batches:
            self.commit(batch)
            self.count += len(batch)
            self.progress.advance(len(batch))


def resolve_options(spec: BenchmarkSpec, fmt_name: str, opts: EvalOptions) -> EvalOptions:
    """The run's scoring and overflow policy: what was asked for, else what the prompt format declares."""
    fmt = spec.prompts[fmt_name]
    scoring = opts.scoring or fmt.scoring or "letter"
    if fmt.scoring and scoring != fmt.scoring:
        raise SpecError(f"{spec.name}: prompt format '{fmt_name}' reproduces {fmt.source or 'another harness'} and "
                        f"is scored by --scoring {fmt.scoring}, not {scoring}; drop --scoring or choose another "
                        f"format ({', '.join(spec.prompts)})")
    overflow = opts.overflow or fmt.overflow
    if overflow not in POLICIES:
        raise SpecError(f"--overflow must be {' or '.join(POLICIES)}, not '{overflow}'")
    return replace(opts, scoring=scoring, overflow=overflow)


def uses_generation(backend, spec: BenchmarkSpec, opts: EvalOptions) -> bool:
    return not can_score(backend) or opts.scoring == "generate" or spec.kind != "multiple_choice"


@dataclass
class Identified:
    run_id: str
    ident: dict
    inputs: Inputs
    strategy: Strategy


def identify(backend, spec: BenchmarkSpec, opts: EvalOptions, inputs: Inputs | None = None) -> Identified:
    """The run that (backend, benchmark, options) computes into, with its validated inputs; nothing is written.
    A backend opened without weights (load_hf_model(weights=False)) gives the same run id as the loaded model."""
    from pandian.app.generation import GenerationStrategy
    from pandian.app.likelihood import LikelihoodStrategy
    from pandian.app.validate import check_inputs

    split = opts.split or spec.splits.eval
    fmt_name = opts.prompt_format or spec.default_prompt
    if fmt_name not in spec.prompts:
        raise SpecError(f"{spec.name}: no prompt format '{fmt_name}'; it has {', '.join(spec.prompts)}")
    opts = resolve_options(spec, fmt_name, opts)
    if inputs is None:
        inputs = check_inputs(spec, opts)
    check_private_data(spec, backend, opts.allow_remote_data, len(inputs.questions))
    strategy_cls = GenerationStrategy if uses_generation(backend, spec, opts) else LikelihoodStrategy
    strategy: Strategy = strategy_cls(backend, spec, opts, inputs)
    run_id, ident = run_identity(spec_name=spec.name, spec_hash=spec.spec_hash(), model_identity=backend.identity(),
                                 data_fp=inputs.data_fp, split=split, prompt_format=fmt_name, shots=opts.shots,
                                 scoring=opts.scoring, system_prompt=opts.system_prompt, overflow=opts.overflow,
                                 prompt_source=spec.prompts[fmt_name].source,
                                 **strategy.identity(spec, opts))
    return Identified(run_id, ident, inputs, strategy)


def evaluate(backend, spec: BenchmarkSpec, opts: EvalOptions, store: ResultStore,
             progress: Progress | None = None, inputs: Inputs | None = None,
             startup: dict | None = None) -> EvalResult:
    """`inputs`: what `load_inputs` returned when the caller validated the data already (it is read once).
    `startup`: the caller's start-up timings (before this call), completed here and stored with the session."""
    from pandian.app.validate import check_inputs

    progress = progress or Progress()
    startup = dict(startup or {})
    if inputs is None:
        t = time.perf_counter()
        inputs = check_inputs(spec, opts)
        startup["data_s"] = round(time.perf_counter() - t, 3)
    found = identify(backend, spec, opts, inputs)
    run_id, ident, inputs, strategy = found.run_id, found.ident, found.inputs, found.strategy
    # the spec and data folder travel with the run (not its identity), so its prompts can be re-rendered later
    config = {**ident, "model": backend.name, "spec": spec.model_dump(mode="json"),
              "data_dir": str(Path(opts.data_dir).resolve()), "catalog_key": opts.catalog_key}
    store.ensure_run(run_id, backend.name, spec.name, config, library_versions())
    done = store.done_qids(run_id)
    questions = inputs.questions
    todo = [q for q in questions if q.qid not in done]
    progress.start(len(questions), len(todo))

    started, t0, status = time.time(), time.perf_counter(), "complete"
    first_batch: list[float] = []  # when the first records were stored, and the process's age then

    def advance(n: int) -> None:
        if not first_batch:
            first_batch.extend([time.perf_counter(), process_age_s()])
        progress.advance(n)

    committed = Committed(lambda records: store.add_records(run_id, records), Progress(progress.start, advance))
    try:
        committed.drain(strategy.compute(todo))
    except KeyboardInterrupt as e:
        status = "terminated" if isinstance(e, Terminated) else "interrupted"
        raise
    finally:
        wall, computed = time.perf_counter() - t0, committed.count
        stats = strategy.session_stats(wall)
        if first_batch:
            prepare = sum(stats.get(k) or 0 for k in ("render_s", "tokenize_s"))
            startup.update({k: stats[k] for k in ("render_s", "tokenize_s") if k in stats},
                           first_batch_s=round(first_batch[0] - t0 - prepare, 3), to_first_batch_s=first_batch[1])
        session = {"status": status, "questions_per_s": computed / wall if wall > 0 else None,
                   "questions_selected": len(questions), "questions_total": inputs.total,
                   "skipped": inputs.loaded.skipped, "multi_answer": sorted(q.qid for q in questions if q.multi),
                   **backend.resources(), **stats, "startup": startup, "hardware": fingerprint()}
        store.add_session(run_id, started, wall, computed, session)

    order = {q.qid: i for i, q in enumerate(questions)}
    records = sorted(store.records(run_id, set(order)), key=lambda r: order[r.qid])
    summary = build_summary(spec, backend.name, run_id, ident, records, inputs.loaded.skipped, computed, wall)
    summary.update(answer_kinds(spec, {q.qid for q in questions if q.multi}, len(questions), records))
    summary["resources"] = {k: session.get(k) for k in RESOURCE_KEYS if session.get(k) is not None}
    summary["hardware"] = session["hardware"]
    strategy.summarize(summary, records)
    return EvalResult(run_id, summary, records)


def answer_kinds(spec: BenchmarkSpec, multi: set[str], n: int, records: list[Record]) -> dict:
    """How many of the n questions have one answer and how many (`multi`, their ids) several; with multi-answer
    ones, the accuracy (exact set) of each kind and the partial credit over all (see docs/specs.md)."""
    if spec.kind != "multiple_choice":
        return {}
    out: dict = {"answers": {"single": n - len(multi), "multi": len(multi)}}
    if multi:
        scored = [r for r in records if r.correct is not None]
        out["accuracy_by_answers"] = {
            kind: summarize(((r.subject, r.correct) for r in scored if (r.qid in multi) == (kind == "multi")),
                            spec.categories_of)["overall"]["questions"] for kind in ("single", "multi")}
        out["partial_credit"] = credit_summary((r.subject, set_credit(r.pred, r.gold)[1]) for r in scored)
    return out


RESOURCE_KEYS = ("load_s", "weights_gb", "peak_rss_gb", "cuda_max_allocated_gb", "cuda_max_reserved_gb",
                 "prefill_tokens_per_s", "usage", "decode", "startup")


def build_summary(spec: BenchmarkSpec, model_name: str, run_id: str, ident: dict, records: list[Record],
                  skipped: dict, computed: int, wall: float) -> dict:
    scored = [r for r in records if r.correct is not None]
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
        # what the overflow policy did: prompts that kept fewer examples, prompts cut from the left
        "overflow": ident.get("overflow", "drop-shots"),
        "shots_dropped": sum(1 for r in records if r.n_shots < ident["shots"]),
        "truncated": sum(1 for r in records if r.truncated_tokens),
        "skipped": skipped,
        "accuracy": summarize(((r.subject, r.correct) for r in scored), spec.categories_of),
    }
    if ident["scoring"] == "choice":
        summary["accuracy_norm"] = summarize(((r.subject, r.correct_norm) for r in scored), spec.categories_of)
    return summary


def write_outputs(out: Path, result: EvalResult) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=1, ensure_ascii=False))
    bench = result.summary["benchmark"]
    with (out / "records.jsonl").open("w", encoding="utf-8") as f:
        for r in result.records:
            f.write(json.dumps({"benchmark": bench, **r.to_dict()}, ensure_ascii=False) + "\n")
