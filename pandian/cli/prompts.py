"""`pandian prompts`: the exact prompts and continuations a spec renders, without loading a model."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import BenchOption, DataDirOption, FieldOption, JsonOption, TrustSpecCodeOption, fail, \
    resolve_bench


def _quoted(xs) -> str:
    return " | ".join(json.dumps(x, ensure_ascii=False) for x in xs)


@app.command("prompts")
def prompts_cmd(
    bench: str = BenchOption,
    data_dir: Optional[Path] = DataDirOption,
    subjects: Optional[str] = typer.Option(None, help="comma-separated subjects (default: all)"),
    shots: int = typer.Option(0, help="few-shot examples, as pandian eval --shots"),
    n: int = typer.Option(3, "-n", help="how many questions to show (the first ones)"),
    qid: Optional[str] = typer.Option(None, help="comma-separated question ids to show instead (as in records)"),
    split: Optional[str] = typer.Option(None, help="split (default: the spec's eval split)"),
    prompt_format: Optional[str] = typer.Option(None, help="a prompt format of the spec"),
    scoring: str = typer.Option("letter", help="letter, choice or generate, as pandian eval --scoring"),
    model: Optional[str] = typer.Option(None, help="a local model directory or hub id: count tokens with its "
                                                   "tokenizer (the weights are not loaded)"),
    trust_remote_code: bool = typer.Option(False, help="allow the model's own tokenizer code to run"),
    field: list[str] = FieldOption,
    trust_spec_code: bool = TrustSpecCodeOption,
    as_json: bool = JsonOption,
):
    """Print the exact prompts and scored continuations of the first questions. See docs/specs.md."""
    from pandian.app.lifecycle import EvalOptions
    from pandian.app.preview import preview
    from pandian.backends.base import ModelLoadError
    from pandian.core.data import DataError
    from pandian.core.spec import SpecError

    if scoring not in ("letter", "choice", "generate"):
        fail("--scoring must be letter, choice or generate")
    if n < 1:
        fail(f"-n {n}: at least 1 question to show")
    try:
        spec, ddir = resolve_bench(bench, data_dir, field, trust_spec_code)
        opts = EvalOptions(data_dir=ddir, shots=shots, subjects=subjects.split(",") if subjects else None,
                           split=split, prompt_format=prompt_format, scoring=scoring)
        tokenizer = None
        if model is not None:
            from pandian.backends.hf import load_tokenizer

            tokenizer = load_tokenizer(model, trust_remote_code)
        fmt_name, items = preview(spec, opts, n, tokenizer, qid.split(",") if qid else None)
    except (SpecError, DataError, ModelLoadError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps([asdict(i) for i in items], indent=1, ensure_ascii=False))
        return
    split_name = opts.split or spec.splits.eval
    for k, item in enumerate(items, start=1):
        gold = f" · answer {item.gold}" if item.gold is not None else ""
        typer.echo(f"=== {k}/{len(items)} {item.qid} · {split_name} · {fmt_name} · {item.n_shots} shot(s){gold} ===")
        typer.echo(item.text)
        if item.continuations:
            what = f"{len(item.continuations)} sets of labels" if item.multi else "continuations"
            typer.echo(f"--- {what}: {_quoted(item.continuations)}")
        else:
            typer.echo(f"--- the model writes its answer (max_tokens {spec.generation.max_tokens}"
                       + (f", stop {_quoted(spec.generation.stop)}" if spec.generation.stop else "") + ")")
        if item.prompt_tokens is not None:
            conts = f"; continuations {', '.join(map(str, item.continuation_tokens))}" if item.continuation_tokens \
                else ""
            typer.echo(f"--- tokens: prompt {item.prompt_tokens}{conts}")
