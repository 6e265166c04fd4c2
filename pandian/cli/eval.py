"""`pandian eval`: one model on one benchmark, stored per question and resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DataDirOption, DbOption, FieldOption, TrustSpecCodeOption, exit_if_unscored, \
    fail, resolve_bench, run_eval


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(..., help="Hugging Face hub id, local directory, modelscope:ID, a .gguf file, or an "
                                        "API model: PRESET:NAME (deepseek, qwen, ernie, spark, zhipu, baichuan, "
                                        "moonshot, 360, yi, vllm, llamacpp, ollama) or openai:NAME with --base-url"),
    bench: Optional[str] = typer.Option(None, "--bench", help="built-in benchmark name, a spec .yaml "
                                        "(docs/specs.md), or your own .csv/.tsv/.jsonl/.json/.xlsx"),
    suite: Optional[str] = typer.Option(None, help="a scenario suite instead of --bench: every part, one suite score "
                                                   "(`pandian suites` lists them)"),
    catalog_key: Optional[str] = typer.Option(None, help="the catalog model this is (a local copy or fine-tune): its "
                                                         "published scores are set beside the measured ones"),
    data_dir: Optional[Path] = DataDirOption,
    shots: int = typer.Option(0, help="few-shot examples, the first k of the few-shot split in fixed order"),
    subjects: Optional[str] = typer.Option(None, help="comma-separated subjects (default: all)"),
    limit: Optional[int] = typer.Option(None, help="evaluate the first N questions of each subject"),
    split: Optional[str] = typer.Option(None, help="split to evaluate (default: the spec's eval split)"),
    prompt_format: Optional[str] = typer.Option(None, help="a prompt format of the spec: native, lm-eval, "
                                                         "opencompass (perplexity), opencompass-gen (generation)"),
    scoring: Optional[str] = typer.Option(None, help="letter (default): log-prob of the answer letter; choice: of "
                                                     "each choice's text; generate: the model writes an answer, "
                                                     "pandian extracts it"),
    overflow: Optional[str] = typer.Option(None, help="a prompt longer than the model's context: drop-shots (drop "
                                                      "examples from the end) or truncate-left (cut tokens from the "
                                                      "start, as lm-eval does); default: the prompt format's"),
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
    field: list[str] = FieldOption,
    trust_spec_code: bool = TrustSpecCodeOption,
    allow_remote_data: bool = typer.Option(False, help="let a remote API see a private benchmark's questions (your "
                                                       "own file, or a spec marked private)"),
    no_prefix_reuse: bool = typer.Option(False, "--no-prefix-reuse",
                                         help="recompute shared few-shot prefixes (slower; same results)"),
    db: Optional[str] = DbOption,
    out: Optional[Path] = typer.Option(None, help="also write OUT/summary.json and OUT/records.jsonl"),
    per_subject: bool = typer.Option(False, help="print the per-subject table too"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    profile: bool = typer.Option(False, "--profile", help="print where the time went: start-up stages, first "
                                                          "batch, scoring (also stored with every run)"),
):
    """Evaluate a model on a benchmark, or on every part of a scenario suite (--suite); results are stored per
    question and resumable.

    A benchmark of your own is one spec file: docs/specs.md describes every field, with worked examples;
    `pandian prompts` shows the exact prompts a spec renders."""
    import time

    from pandian.backends.resources import process_age_s

    startup = {"process_s": process_age_s()}  # the interpreter and the command line's own imports
    from pandian.app.lifecycle import EvalOptions, write_outputs
    from pandian.app.published import beside_published
    from pandian.app.suites import check_parts, run_suite
    from pandian.app.validate import check_eval
    from pandian.backends.registry import ModelOptions, load_backend
    from pandian.catalog import load_catalog
    from pandian.cli.common import open_db, warn
    from pandian.cli.render import print_profile, print_summary
    from pandian.cli.render_catalog import print_published_beside
    from pandian.cli.suite import print_suite_result
    from pandian.core.suite import load_suite
    from pandian.settings import data_dir as resolve_data_dir

    if overflow not in (None, "drop-shots", "truncate-left"):
        fail("--overflow must be drop-shots or truncate-left")
    if (bench is None) == (suite is None):
        fail("give --bench or --suite (one of them)")
    if suite and (subjects or split or prompt_format or shots or field):
        fail("--suite: each part sets its own subjects, shots, split and prompt format; drop --subjects, "
             "--shots, --split, --prompt-format and --field")
    if catalog_key:
        load_catalog().model(catalog_key)
    the_suite = load_suite(suite) if suite else None
    spec, ddir = ((None, resolve_data_dir(data_dir)) if suite
                  else resolve_bench(bench, data_dir, field, trust_spec_code))
    opts = EvalOptions(data_dir=ddir, shots=shots, subjects=subjects.split(",") if subjects is not None else None,
                       limit=limit, split=split, prompt_format=prompt_format, scoring=scoring, overflow=overflow,
                       chat_template=chat_template, system_prompt=system_prompt, batch_size=batch_size,
                       reuse_prefix=not no_prefix_reuse, max_tokens=max_tokens, temperature=temperature,
                       top_p=top_p, seed=seed, completions=completions, allow_remote_data=allow_remote_data,
                       catalog_key=catalog_key)
    mopts = ModelOptions(backend=backend, dtype=dtype, device=device, trust_remote_code=trust_remote_code,
                         adapter=adapter, revision=revision, quant=quant, base_url=base_url, concurrency=concurrency,
                         rpm=rpm, max_retries=max_retries, timeout=timeout, price_in=price_in, price_out=price_out)
    # Every option, the spec, the data and the model's files are checked before the model loads or anything is
    # written: a typo should not cost a 10-minute load, nor leave an empty run behind. A benchmark is read once.
    t = time.perf_counter()
    if the_suite:
        checked, warnings = None, check_parts(the_suite, opts, model, mopts, out)
    else:
        checked = check_eval(model, mopts, spec, opts, out)
        warnings = checked.warnings
    startup["data_s"] = round(time.perf_counter() - t, 3)
    for w in warnings:
        warn(w)
    store = open_db(db)
    unscored = {"failed_calls": [], "computed_now": 0}  # over a suite's parts

    def run_part(b, sp, o, st):
        part = run_eval(b, sp, o, st, None, quiet=as_json)
        unscored["failed_calls"] += part.summary.get("failed_calls") or []
        unscored["computed_now"] += part.summary["computed_now"]
        return part

    try:
        mopts.cache = store
        t = time.perf_counter()
        m = load_backend(model, mopts)
        load_s = getattr(m, "load_s", None) or 0.0
        startup.update(imports_s=round(time.perf_counter() - t - load_s, 3), load_s=round(load_s, 3))
        if the_suite:
            result = run_suite(m, the_suite, opts, store, run_part)
        else:
            result = run_eval(m, spec, opts, store, None, quiet=as_json, inputs=checked.inputs, startup=startup)
            beside = beside_published(spec.name, result.summary["accuracy"], result.summary["config"],
                                      m.name, catalog_key)
            if beside is not None:
                result.summary["published"] = beside
    finally:
        store.close()
    if the_suite:
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "suite.json").write_text(json.dumps(result.to_dict(), indent=1, ensure_ascii=False),
                                            encoding="utf-8")
        print_suite_result(result, as_json)
        exit_if_unscored(unscored)
        return
    if out:
        write_outputs(out, result)
    if as_json:
        print(json.dumps(result.summary, indent=1, ensure_ascii=False))
    else:
        print_summary(result.summary, per_subject)
        print_published_beside(result.summary.get("published"))
    if profile:
        print_profile(result.summary)
    exit_if_unscored(result.summary)
