"""`pandian eval`: one model on one benchmark, stored per question and resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DataDirOption, DbOption, FieldOption, TrustSpecCodeOption, fail, \
    resolve_bench, run_eval


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
    field: list[str] = FieldOption,
    trust_spec_code: bool = TrustSpecCodeOption,
    allow_remote_data: bool = typer.Option(False, help="let a remote API see a private benchmark's questions (your "
                                                       "own file, or a spec marked private)"),
    no_prefix_reuse: bool = typer.Option(False, help="recompute shared few-shot prefixes (slower; same results)"),
    db: Optional[str] = DbOption,
    out: Optional[Path] = typer.Option(None, help="also write OUT/summary.json and OUT/records.jsonl"),
    per_subject: bool = typer.Option(False, help="print the per-subject table too"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Evaluate a model on a benchmark, or on every part of a scenario suite (--suite); results are stored per
    question and resumable.

    A benchmark of your own is one spec file: docs/specs.md describes every field, with worked examples;
    `pandian prompts` shows the exact prompts a spec renders."""
    from pandian.app.lifecycle import EvalOptions, write_outputs
    from pandian.app.published import beside_published
    from pandian.app.suites import check_parts, run_suite
    from pandian.backends.base import ModelLoadError
    from pandian.backends.openai_api import APIConfigError
    from pandian.backends.registry import ModelOptions, load_backend
    from pandian.catalog import CatalogError, load_catalog
    from pandian.cli.render import print_summary
    from pandian.cli.render_catalog import print_published_beside
    from pandian.cli.suite import print_suite_result
    from pandian.core.data import DataError, load_split
    from pandian.core.spec import SpecError
    from pandian.core.suite import load_suite
    from pandian.settings import data_dir as resolve_data_dir
    from pandian.cli.common import open_db

    if scoring not in ("letter", "choice", "generate"):
        fail("--scoring must be letter, choice or generate")
    if (bench is None) == (suite is None):
        fail("give --bench or --suite (one of them)")
    if suite and (subjects or split or prompt_format or shots or field):
        fail("--suite: each part sets its own subjects, shots, split and prompt format; drop --subjects, "
             "--shots, --split, --prompt-format and --field")
    try:
        if catalog_key:
            load_catalog().model(catalog_key)
        the_suite = load_suite(suite) if suite else None
        spec, ddir = ((None, resolve_data_dir(data_dir)) if suite
                      else resolve_bench(bench, data_dir, field, trust_spec_code))
        opts = EvalOptions(data_dir=ddir, shots=shots, subjects=subjects.split(",") if subjects else None,
                           limit=limit, split=split, prompt_format=prompt_format, scoring=scoring,
                           chat_template=chat_template, system_prompt=system_prompt, batch_size=batch_size,
                           reuse_prefix=not no_prefix_reuse, max_tokens=max_tokens, temperature=temperature,
                           top_p=top_p, seed=seed, completions=completions, allow_remote_data=allow_remote_data,
                           catalog_key=catalog_key)
        # Validate data before loading a model: a typo should not cost a 10-minute load.
        if the_suite:
            check_parts(the_suite, opts)
        else:
            load_split(spec, opts.data_dir, opts.split or spec.splits.eval, opts.subjects)
        store = open_db(db)
        try:
            m = load_backend(model, ModelOptions(
                backend=backend, dtype=dtype, device=device, trust_remote_code=trust_remote_code, adapter=adapter,
                revision=revision, quant=quant, base_url=base_url, cache=store, concurrency=concurrency, rpm=rpm,
                max_retries=max_retries, timeout=timeout, price_in=price_in, price_out=price_out))
            if the_suite:
                result = run_suite(m, the_suite, opts, store,
                                   lambda b, sp, o, st: run_eval(b, sp, o, st, None, quiet=as_json))
            else:
                result = run_eval(m, spec, opts, store, None, quiet=as_json)
                beside = beside_published(spec.name, result.summary["accuracy"], result.summary["config"],
                                          m.name, catalog_key)
                if beside is not None:
                    result.summary["published"] = beside
        finally:
            store.close()
    except (SpecError, DataError, ModelLoadError, APIConfigError, CatalogError) as e:
        fail(str(e))
    if the_suite:
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "suite.json").write_text(json.dumps(result.to_dict(), indent=1, ensure_ascii=False),
                                            encoding="utf-8")
        print_suite_result(result, as_json)
        return
    if out:
        write_outputs(out, result)
    if as_json:
        print(json.dumps(result.summary, indent=1, ensure_ascii=False))
    else:
        print_summary(result.summary, per_subject)
        print_published_beside(result.summary.get("published"))
