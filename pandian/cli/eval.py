"""`pandian eval`: one model on one benchmark, stored per question and resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import BenchOption, DataDirOption, DbOption, FieldOption, TrustSpecCodeOption, fail, \
    resolve_bench, run_eval


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(..., help="Hugging Face hub id, local directory, modelscope:ID, a .gguf file, or an "
                                        "API model: PRESET:NAME (deepseek, qwen, ernie, spark, zhipu, baichuan, "
                                        "moonshot, 360, yi, vllm, llamacpp, ollama) or openai:NAME with --base-url"),
    bench: str = BenchOption,
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
    db: Optional[Path] = DbOption,
    out: Optional[Path] = typer.Option(None, help="also write OUT/summary.json and OUT/records.jsonl"),
    per_subject: bool = typer.Option(False, help="print the per-subject table too"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Evaluate a model on a benchmark; results are stored per question and resumable.

    A benchmark of your own is one spec file: docs/specs.md describes every field, with worked examples;
    `pandian prompts` shows the exact prompts a spec renders."""
    from pandian.app.lifecycle import EvalOptions
    from pandian.backends.openai_api import APIConfigError
    from pandian.backends.base import ModelLoadError
    from pandian.backends.registry import ModelOptions, load_backend
    from pandian.cli.render import print_summary
    from pandian.core.data import DataError, load_split
    from pandian.core.spec import SpecError
    from pandian.store import open_store

    if scoring not in ("letter", "choice", "generate"):
        fail("--scoring must be letter, choice or generate")
    try:
        spec, ddir = resolve_bench(bench, data_dir, field, trust_spec_code)
        opts = EvalOptions(data_dir=ddir, shots=shots, subjects=subjects.split(",") if subjects else None,
                           limit=limit, split=split, prompt_format=prompt_format, scoring=scoring,
                           chat_template=chat_template, system_prompt=system_prompt, batch_size=batch_size,
                           reuse_prefix=not no_prefix_reuse, max_tokens=max_tokens, temperature=temperature,
                           top_p=top_p, seed=seed, completions=completions, allow_remote_data=allow_remote_data)
        # Validate data before loading a model: a typo should not cost a 10-minute load.
        load_split(spec, opts.data_dir, opts.split or spec.splits.eval, opts.subjects)
        store = open_store(db)
        try:
            m = load_backend(model, ModelOptions(
                backend=backend, dtype=dtype, device=device, trust_remote_code=trust_remote_code, adapter=adapter,
                revision=revision, quant=quant, base_url=base_url, cache=store, concurrency=concurrency, rpm=rpm,
                max_retries=max_retries, timeout=timeout, price_in=price_in, price_out=price_out))
            result = run_eval(m, spec, opts, store, out, quiet=as_json)
        finally:
            store.close()
    except (SpecError, DataError, ModelLoadError, APIConfigError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps(result.summary, indent=1, ensure_ascii=False))
    else:
        print_summary(result.summary, per_subject)
