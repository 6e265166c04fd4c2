"""Command line: `pandian eval`, `pandian demo`, `pandian benchmarks`, `pandian runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="pandian (盘点): evaluate, compare and choose Chinese large language models.")

def _console(stderr: bool = False) -> Console:
    c = Console(stderr=stderr)
    # Piped or captured output has no width; rich would assume 80 columns and break the tables.
    return c if c.is_terminal else Console(stderr=stderr, width=140)


console = _console()
err = _console(stderr=True)

DATA_FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".xlsx")


def _fail(message: str, code: int = 2):
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def resolve_bench(bench: str, data_dir: Optional[Path], fields: list[str]):
    """(spec, data directory) for a built-in name, a spec .yaml, or the user's own data file."""
    from .data import default_data_dir
    from .spec import load_spec
    from .userfile import user_spec

    path = Path(bench)
    if path.suffix.lower() in DATA_FILE_SUFFIXES:
        overrides = {}
        for f in fields:
            if "=" not in f:
                _fail(f"--field expects NAME=COLUMN, got '{f}'")
            k, v = f.split("=", 1)
            overrides[k.strip()] = v.strip()
        return user_spec(path, overrides), path.parent
    return load_spec(bench), data_dir or default_data_dir()


def print_summary(summary: dict, per_subject: bool = False) -> None:
    acc = summary["accuracy"]
    table = Table(title=escape(f"{summary['title']} — {summary['model']}"), title_justify="left")
    table.add_column("category")
    table.add_column("subjects", justify="right")
    table.add_column("questions", justify="right")
    table.add_column("acc % per question (95% CI)", justify="right")
    table.add_column("acc % subject mean (95% CI)", justify="right")

    def fmt(a, ci):
        return f"{100 * a:.2f} ({100 * ci[0]:.2f}–{100 * ci[1]:.2f})"

    def row(name, g, style=None):
        q, m = g["questions"], g["subject_mean"]
        table.add_row(escape(name), str(g["subjects"]), str(q["n"]), fmt(q["acc"], q["ci95"]),
                      fmt(m["acc"], m["ci95"]), style=style)

    for cat, g in sorted(acc["categories"].items()):
        row(cat, g)
    row("Overall", acc["overall"], style="bold")
    console.print(table)
    if per_subject:
        sub = Table(title="per subject", title_justify="left")
        for c in ("subject", "questions", "acc % (95% CI)"):
            sub.add_column(c, justify="left" if c == "subject" else "right")
        for s, g in acc["subjects"].items():
            sub.add_row(escape(s), str(g["n"]), fmt(g["acc"], g["ci95"]))
        console.print(sub)
    if "accuracy_norm" in summary:
        o = summary["accuracy_norm"]["overall"]["questions"]
        console.print(f"length-normalised choice scoring (acc_norm): {fmt(o['acc'], o['ci95'])}")
    notes = []
    if summary["shots_dropped"]:
        notes.append(f"{summary['shots_dropped']} prompt(s) dropped few-shot examples to fit the context")
    if summary["truncated"]:
        notes.append(f"{summary['truncated']} prompt(s) were left-truncated even with no shots (see records)")
    for reason, n in summary["skipped"].items():
        notes.append(f"{n} item(s) skipped: {reason.replace('_', ' ')}")
    if summary.get("extraction_failure_rate") is not None:
        notes.append(f"no answer could be extracted from {summary['extraction_failures']} response(s) "
                     f"({100 * summary['extraction_failure_rate']:.1f}%); they count as wrong and are marked per record")
    if summary.get("failed_calls"):
        notes.append(f"{len(summary['failed_calls'])} call(s) failed after retries and were not scored; rerun to retry "
                     f"(first: {summary['failed_calls'][0]['error']})")
    if any(summary.get("methods", {}).values()):
        notes.append("choice read from " + ", ".join(f"{m}: {n}" for m, n in summary["methods"].items() if n))
    usage = (summary.get("resources") or {}).get("usage")
    if usage:
        cost = f", cost {usage['cost']:.4f}" if usage.get("cost") is not None else ""
        notes.append(f"API: {usage.get('calls', 0)} calls, {usage.get('cache_hits', 0)} cache hits, "
                     f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} completion tokens"
                     f"{cost}")
    decode = (summary.get("resources") or {}).get("decode")
    if decode:
        notes.append(f"generation: time to first token p50 {decode['ttft_s_p50']:.3f} s, per-token latency p50 "
                     f"{decode['token_latency_s_p50'] or 0:.4f} s / p95 {decode['token_latency_s_p95'] or 0:.4f} s")
    for n in notes:
        console.print(f"[yellow]note:[/] {escape(n)}")
    speed = f", {summary['questions_per_s']} questions/s" if summary["questions_per_s"] else ""
    res = summary.get("resources") or {}
    if res.get("weights_gb") is not None:
        speed += f"; weights {res['weights_gb']:.3f} GB, peak RSS {res['peak_rss_gb']:.2f} GB"
        if res.get("cuda_max_allocated_gb") is not None:
            speed += f", CUDA peak {res['cuda_max_allocated_gb']:.2f} GB"
    console.print(f"run {summary['run_id']}: {summary['questions']} questions, {summary['computed_now']} computed now "
                  f"in {summary['wall_s']:.1f} s{speed}", highlight=False)


def run_eval(model, spec, opts, db: Path, out: Optional[Path], quiet: bool = False):
    from .generative import evaluate_generative
    from .runner import evaluate, write_outputs
    from .store import ResultStore

    generative = opts.api or opts.scoring == "generate" or spec.kind != "multiple_choice"
    run = evaluate_generative if generative else evaluate
    store = ResultStore(db)
    progress = Progress(TextColumn(f"{spec.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=err, disable=quiet, transient=False)
    task = None

    def on_start(total, todo):
        nonlocal task
        task = progress.add_task("eval", total=total, completed=total - todo)

    try:
        with progress:
            result = run(model, spec, opts, store, on_start=on_start, on_progress=lambda n: progress.advance(task, n))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/] every finished batch is stored; rerun the same command to resume.")
        raise typer.Exit(130) from None
    finally:
        store.close()
    if out:
        write_outputs(out, result)
    return result


def is_api_ref(model: str) -> bool:
    from .backends.openai_api import PRESETS

    prefix = model.split(":", 1)[0]
    return ":" in model and (prefix == "openai" or prefix in PRESETS) and not Path(model).exists()


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(..., help="Hugging Face hub id, local directory, modelscope:ID, or an API model: "
                                        "PRESET:NAME (deepseek, qwen, ernie, spark, zhipu, baichuan, moonshot, 360, yi, "
                                        "vllm, llamacpp, ollama) or openai:NAME with --base-url"),
    bench: str = typer.Option(..., help="built-in benchmark name, a spec .yaml, or your own .csv/.jsonl/.json/.xlsx"),
    data_dir: Optional[Path] = typer.Option(None, help="folder with benchmark releases [env PANDIAN_DATA_DIR]"),
    shots: int = typer.Option(0, help="few-shot examples, the first k of the few-shot split in fixed order"),
    subjects: Optional[str] = typer.Option(None, help="comma-separated subjects (default: all)"),
    limit: Optional[int] = typer.Option(None, help="evaluate the first N questions of each subject"),
    split: Optional[str] = typer.Option(None, help="split to evaluate (default: the spec's eval split)"),
    prompt_format: Optional[str] = typer.Option(None, help="a prompt format of the spec, e.g. native or lm-eval"),
    scoring: str = typer.Option("letter", help="letter: log-prob of the answer letter; choice: of each choice's "
                                               "text; generate: the model writes an answer, pandian extracts it"),
    chat_template: bool = typer.Option(False, help="wrap the prompt in the tokenizer's chat template"),
    system_prompt: Optional[str] = typer.Option(None, help="system message (with --chat-template or an API model)"),
    max_tokens: Optional[int] = typer.Option(None, help="generation: max new tokens (default: the spec's)"),
    temperature: float = typer.Option(0.0, help="generation: 0 = greedy"),
    top_p: Optional[float] = typer.Option(None, help="generation: nucleus sampling"),
    seed: Optional[int] = typer.Option(None, help="generation: sampling seed"),
    batch_size: Optional[int] = typer.Option(None, help="max rows per forward (default: by token budget)"),
    dtype: str = typer.Option("auto", help="auto (bf16 on CUDA, fp32 on CPU), float32, bfloat16, float16"),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
    trust_remote_code: bool = typer.Option(False, help="allow the model's own modelling code to run"),
    adapter: Optional[str] = typer.Option(None, help="PEFT / LoRA adapter directory or hub id"),
    revision: Optional[str] = typer.Option(None, help="model revision (hub)"),
    quant: Optional[str] = typer.Option(None, help="int8 or int4 (bitsandbytes LLM.int8 / NF4, CPU or CUDA)"),
    backend: str = typer.Option("hf", help="hf (transformers) or vllm (in-process, CUDA); .gguf files use llama.cpp, "
                                           "PRESET:NAME the OpenAI-compatible client"),
    base_url: Optional[str] = typer.Option(None, help="API: base URL of an OpenAI-compatible server"),
    completions: bool = typer.Option(False, help="API: text completions of the raw prompt instead of chat"),
    concurrency: int = typer.Option(8, help="API: requests in flight"),
    rpm: Optional[float] = typer.Option(None, help="API: requests per minute at most"),
    max_retries: int = typer.Option(5, help="API: retries of a failed call (429, 5xx, timeouts, malformed)"),
    timeout: float = typer.Option(120.0, help="API: seconds per call"),
    price_in: Optional[float] = typer.Option(None, help="API: price per 1M prompt tokens, for the cost line"),
    price_out: Optional[float] = typer.Option(None, help="API: price per 1M completion tokens"),
    field: list[str] = typer.Option([], help="for your own file: NAME=COLUMN (question, choices, answer, "
                                             "answer_format, subject, category, id); choices as A|B|C|D"),
    no_prefix_reuse: bool = typer.Option(False, help="recompute shared few-shot prefixes (slower; same results)"),
    db: Optional[Path] = typer.Option(None, help="results database [default ~/.pandian/results.db]"),
    out: Optional[Path] = typer.Option(None, help="also write OUT/summary.json and OUT/records.jsonl"),
    per_subject: bool = typer.Option(False, help="print the per-subject table too"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Evaluate a model on a benchmark; results are stored per question and resumable."""
    from .backends.hf import ModelLoadError, load_hf_model
    from .backends.openai_api import APIConfigError, OpenAIBackend
    from .data import DataError
    from .runner import EvalOptions
    from .spec import SpecError
    from .store import default_db

    if scoring not in ("letter", "choice", "generate"):
        _fail("--scoring must be letter, choice or generate")
    try:
        spec, ddir = resolve_bench(bench, data_dir, field)
        opts = EvalOptions(data_dir=ddir, shots=shots, subjects=subjects.split(",") if subjects else None,
                           limit=limit, split=split, prompt_format=prompt_format, scoring=scoring,
                           chat_template=chat_template, system_prompt=system_prompt, batch_size=batch_size,
                           reuse_prefix=not no_prefix_reuse, max_tokens=max_tokens, temperature=temperature,
                           top_p=top_p, seed=seed, api=is_api_ref(model), api_chat=not completions)
        # Validate data before loading a model: a typo should not cost a 10-minute load.
        from .data import load_split

        load_split(spec, opts.data_dir, opts.split or spec.splits.eval, opts.subjects)
        db = db or default_db()
        if opts.api:
            m = OpenAIBackend.from_ref(model, base_url, cache_db=db, concurrency=concurrency, rpm=rpm,
                                       max_retries=max_retries, timeout=timeout, price_in=price_in,
                                       price_out=price_out)
        elif model.lower().endswith(".gguf"):
            from .backends.llamacpp_backend import load_gguf_model

            m = load_gguf_model(model)
        elif backend == "vllm":
            from .backends.vllm_backend import load_vllm_model

            m = load_vllm_model(model, dtype=dtype, trust_remote_code=trust_remote_code, quant=quant)
        else:
            m = load_hf_model(model, dtype=dtype, device=device, trust_remote_code=trust_remote_code,
                              adapter=adapter, revision=revision, quant=quant)
        result = run_eval(m, spec, opts, db, out, quiet=as_json)
    except (SpecError, DataError, ModelLoadError, APIConfigError) as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(result.summary, indent=1, ensure_ascii=False))
    else:
        print_summary(result.summary, per_subject)


@app.command()
def demo(
    data_dir: Optional[Path] = typer.Option(None, help="folder with benchmark releases [env PANDIAN_DATA_DIR]"),
    db: Optional[Path] = typer.Option(None, help="results database [default ~/.pandian/results.db]"),
    cmmlu_limit: int = typer.Option(10, help="CMMLU questions per subject (5-shot)"),
):
    """Offline end-to-end run on a tiny random-init model built locally (scores at chance by design)."""
    from .demo import run_demo

    run_demo(data_dir, db, cmmlu_limit)


judge_app = typer.Typer(no_args_is_help=True, help="Grade open answers with a judge model (AlignBench, MT-Bench).")
app.add_typer(judge_app, name="judge")


def _judge_backend(judge: str, base_url: Optional[str], db: Path, device: str):
    from .backends.hf import load_hf_model
    from .backends.openai_api import OpenAIBackend

    if is_api_ref(judge):
        return OpenAIBackend.from_ref(judge, base_url, cache_db=db)
    return load_hf_model(judge, device=device)


def _judge_context(run_ids: list[str], db: Optional[Path], data_dir: Optional[Path]):
    from .data import default_data_dir
    from .spec import SpecError, load_spec
    from .store import ResultStore, default_db

    store = ResultStore(db or default_db())
    runs = [store.run(r) for r in run_ids]
    if any(r is None for r in runs):
        _fail(f"unknown run among {', '.join(run_ids)}; `pandian runs` lists them")
    benches = {r["benchmark"] for r in runs}
    if len(benches) != 1:
        _fail(f"the runs are on different benchmarks: {', '.join(sorted(benches))}")
    try:
        spec = load_spec(benches.pop())
    except SpecError as e:
        _fail(str(e))
    return store, spec, data_dir or default_data_dir()


@judge_app.command("grade")
def judge_grade(
    run_id: str = typer.Argument(..., help="a run of an open benchmark (alignbench, mt-bench)"),
    judge: str = typer.Option(..., help="judge model: API reference or local model"),
    base_url: Optional[str] = typer.Option(None),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    db: Optional[Path] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
):
    """Single-answer grading, 1-10, against the reference answer; judge prompts and raw verdicts are stored."""
    from .judge import judge_single
    from .spec import SpecError
    from .store import default_db

    store, spec, ddir = _judge_context([run_id], db, data_dir)
    try:
        res = judge_single(store, _judge_backend(judge, base_url, db or default_db(), device), run_id, spec, ddir)
    except SpecError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
        return
    t = Table(title=escape(f"{spec.title}: {store.run(run_id)['model']} graded by {res['judge']}"), title_justify="left")
    for c in ("subject", "answers", "mean score (95% CI)"):
        t.add_column(c, justify="left" if c == "subject" else "right")
    for name, m in [*res["subjects"].items(), ("Overall", res["mean"])]:
        ci = m["ci95"]
        t.add_row(escape(name), str(m["n"]), "-" if m["mean"] is None else f"{m['mean']:.2f} ({ci[0]:.2f}–{ci[1]:.2f})")
    console.print(t)
    console.print(f"{res['judged']} verdicts, {res['unparsed']} without a score, {res['failed_calls']} failed calls",
                  highlight=False)


@judge_app.command("pairwise")
def judge_pairwise_cmd(
    run_ids: list[str] = typer.Argument(..., help="two or more runs of the same open benchmark"),
    judge: str = typer.Option(..., help="judge model: API reference or local model"),
    base_url: Optional[str] = typer.Option(None),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    db: Optional[Path] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
):
    """Every pair of runs compared question by question in both orders; Bradley-Terry ratings with 95% CIs."""
    from itertools import combinations

    from .compare import variant_label
    from .judge import judge_pairwise, ratings
    from .store import default_db

    if len(run_ids) < 2:
        _fail("pairwise needs at least two runs")
    store, spec, ddir = _judge_context(run_ids, db, data_dir)
    backend = _judge_backend(judge, base_url, db or default_db(), device)
    pairs = [judge_pairwise(store, backend, a, b, spec, ddir) for a, b in combinations(run_ids, 2)]
    labels = {r: f"{variant_label(store.run(r))}#{r[:6]}" for r in run_ids}
    result = {"pairs": [{k: v for k, v in p.items() if k != "outcomes"} for p in pairs],
              "ratings": ratings(pairs, labels)}
    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    t = Table(title=escape(f"{spec.title}: pairwise, judge {backend.name}, both orders"), title_justify="left")
    for c in ("A", "B", "questions", "A wins", "B wins", "ties"):
        t.add_column(c)
    for p in pairs:
        t.add_row(escape(labels[p["run_a"]]), escape(labels[p["run_b"]]), str(p["questions"]), str(p["a"]),
                  str(p["b"]), str(p["tie"]))
    console.print(t)
    r = Table(title="Bradley-Terry ratings (Elo scale, 95% bootstrap CI over questions)", title_justify="left")
    for c in ("model", "rating", "95% CI"):
        r.add_column(c)
    for name, v in result["ratings"].items():
        r.add_row(escape(name), f"{v['rating']:.0f}", f"{v['ci95'][0]:.0f}–{v['ci95'][1]:.0f}")
    console.print(r)


@app.command()
def fit(
    model: str = typer.Argument(..., help="model directory, config.json, or a hub id in the local cache"),
    gpu: str = typer.Option(..., help="GPU memory, e.g. 24GB, 80G, 24"),
    quant: Optional[str] = typer.Option(None, help="int8, int4 (bitsandbytes), gptq-int8, gptq-int4, awq"),
    context: int = typer.Option(2048, help="prompt + generated tokens"),
    batch: int = typer.Option(1),
    as_json: bool = typer.Option(False, "--json"),
):
    """Predict inference GPU memory (weights + KV cache + activations + overhead) from config.json alone."""
    from .fit import fit_report

    try:
        print(fit_report(model, gpu, quant, context, batch, as_json))
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))


@app.command()
def gguf(
    model_dir: Path = typer.Argument(..., help="a local Hugging Face model directory"),
    out: Path = typer.Option(..., help="the .gguf file to write"),
    type_: str = typer.Option("q4_k_m", "--type", help="f32, f16, bf16, q8_0, q4_k_m, q4_0"),
    llama_cpp_dir: Optional[Path] = typer.Option(None, help="llama.cpp source tree [env LLAMA_CPP_DIR]"),
    pretokenizer: Optional[str] = typer.Option(None, help="name the BPE pre-tokenizer when llama.cpp cannot tell "
                                                         "(e.g. qwen2 for a tokenizer trained with Qwen2's rules)"),
):
    """Make a GGUF variant of a local model with llama.cpp's converter and quantizer (for --model X.gguf)."""
    from .backends.hf import ModelLoadError
    from .backends.llamacpp_backend import convert_to_gguf, quantize_gguf

    try:
        if type_ in ("f32", "f16", "bf16", "q8_0"):
            convert_to_gguf(model_dir, out, type_, llama_cpp_dir, pretokenizer)
        else:
            full = out.with_suffix(".f32.gguf")
            convert_to_gguf(model_dir, full, "f32", llama_cpp_dir, pretokenizer)
            quantize_gguf(full, out, type_)
            full.unlink()
    except (ModelLoadError, KeyError) as e:
        _fail(f"{e}")
    console.print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)", highlight=False)


@app.command("serve-model")
def serve_model(
    model: str = typer.Argument(..., help="local directory or hub id of a causal LM"),
    host: str = typer.Option("127.0.0.1", help="bind address (loopback by default)"),
    port: int = typer.Option(8000),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    served_name: Optional[str] = typer.Option(None, help="model name clients use (default: the directory name)"),
    api_key_env: Optional[str] = typer.Option(None, help="require the key held in this environment variable"),
    trust_remote_code: bool = typer.Option(False),
):
    """Serve a local model over the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models)."""
    import os

    from .serve import serve

    serve(model, host=host, port=port, device=device, dtype=dtype, served_name=served_name,
          api_key=os.environ.get(api_key_env) if api_key_env else None, trust_remote_code=trust_remote_code)


@app.command("compare")
def compare_cmd(
    runs_: list[str] = typer.Argument(..., metavar="RUN...", help="run ids (or prefixes) or model names; the first "
                                                                   "is the baseline"),
    bench: Optional[str] = typer.Option(None, help="when naming models: which benchmark's runs"),
    db: Optional[Path] = typer.Option(None, help="results database"),
    flips: int = typer.Option(10, help="flipped questions to list per variant"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
):
    """Compare runs on the same questions: paired accuracy deltas, McNemar, flips, KL, memory, speed, Pareto."""
    from .compare import compare, resolve
    from .spec import SpecError
    from .store import ResultStore, default_db

    store = ResultStore(db or default_db())
    try:
        result = compare(store, resolve(store, runs_, bench))
    except SpecError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    print_comparison(result, flips)


def _gb(x):
    return "-" if x is None else (f"{1024 * x:.1f} MB" if x < 1 else f"{x:.2f} GB")


def print_comparison(r: dict, n_flips: int) -> None:
    t = Table(title=f"{r['benchmark']}: {r['questions']} shared questions, baseline {r['baseline']}",
              title_justify="left")
    for c in ("variant", "acc %", "Δ pts (95% CI)", "McNemar p", "right→wrong", "wrong→right", "mean KL",
              "weights", "peak mem", "q/s (× base)", "Pareto frontier"):
        t.add_column(c, justify="left" if c == "variant" else "right", no_wrap=c == "variant")
    for v in r["variants"]:
        base = "delta" not in v
        frontier = ", ".join(a for a in ("memory", "speed") if v.get(f"dominated_{a}") is False) or "dominated"
        t.add_row(escape(v["label"]), f"{100 * v['accuracy']:.2f}",
                  "baseline" if base else f"{100 * v['delta']:+.2f} ({100 * v['delta_ci95'][0]:+.2f}, "
                                          f"{100 * v['delta_ci95'][1]:+.2f})",
                  "" if base else f"{v['mcnemar_p']:.3g}", "" if base else str(len(v["right_to_wrong"])),
                  "" if base else str(len(v["wrong_to_right"])), "" if base else f"{v['mean_kl']:.2e}",
                  _gb(v.get("weights_gb")), _gb(v.get("peak_memory_gb")),
                  (f"{v['questions_per_s']:.1f}" + (f" ({v['speed_ratio']:.2f}×)" if "speed_ratio" in v else ""))
                  if v.get("questions_per_s") else "-", frontier)
    console.print(t)
    others = [v for v in r["variants"] if "delta" in v]
    cats = sorted({c for v in others for c in v["categories"]})
    if cats:
        ct = Table(title="Δ accuracy by category, points (95% paired CI)", title_justify="left")
        ct.add_column("category")
        for v in others:
            ct.add_column(escape(v["label"]), justify="right")
        for c in cats:
            ct.add_row(c, *[f"{100 * v['categories'][c]['delta']:+.2f} ({100 * v['categories'][c]['delta_ci95'][0]:+.2f}"
                            f", {100 * v['categories'][c]['delta_ci95'][1]:+.2f})" for v in others])
        console.print(ct)
    for v in others:
        for kind in ("right_to_wrong", "wrong_to_right"):
            qs = v[kind][:n_flips]
            if qs:
                shown = ", ".join(f"{q} (gold {r['gold'][q]}, {r['preds'][r['baseline']][q]}→{r['preds'][v['label']][q]})"
                                  for q in qs)
                more = f" … +{len(v[kind]) - len(qs)}" if len(v[kind]) > len(qs) else ""
                console.print(escape(f"{v['label']} {kind.replace('_', ' ')}: {shown}{more}"), highlight=False)
    console.print("records: pandian compare --json gives every flipped question id; each maps to its record "
                  "(prompt hash, per-choice log-probs) in the results database.", highlight=False)


@app.command()
def benchmarks():
    """List the built-in benchmark specs."""
    from .spec import builtin_names, load_spec

    table = Table("name", "title", "language", "eval split", "few-shot", "subjects", "prompt formats", "licence")
    for name in builtin_names():
        s = load_spec(name)
        table.add_row(name, s.title, s.language, s.splits.eval, s.splits.fewshot or "-",
                      str(len(s.subjects)) if s.subjects else (s.fields.subject or "-"), ", ".join(s.prompts),
                      s.license)
    console.print(table)


@app.command()
def runs(db: Optional[Path] = typer.Option(None, help="results database")):
    """List stored runs."""
    from .store import ResultStore, default_db

    store = ResultStore(db or default_db())
    table = Table("run", "model", "benchmark", "shots", "format", "variant", "questions", "acc %")
    for r in store.runs():
        cfg = store.run(r["run_id"])["config"]
        acc = f"{100 * r['correct'] / r['records']:.2f}" if r["records"] else "-"
        table.add_row(r["run_id"], escape(r["model"]), escape(r["benchmark"]), str(cfg.get("shots")),
                      str(cfg.get("prompt_format")), escape(str(cfg.get("quant") or cfg.get("dtype"))), str(r["records"]),
                      acc)
    console.print(table)

