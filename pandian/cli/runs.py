"""`pandian runs` and `pandian benchmarks`: what is stored, and what can be run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DbOption, console


@app.command()
def benchmarks(specs: list[Path] = typer.Argument(None, help="spec .yaml files to describe too")):
    """List the built-in benchmark specs (and any spec files given)."""
    from pandian.cli.common import fail
    from pandian.core.spec import SpecError, builtin_names, load_spec

    table = Table("name", "title", "language", "eval split", "few-shot", "subjects", "prompt formats", "licence",
                  "notes")
    for name in [*builtin_names(), *map(str, specs or [])]:
        try:
            s = load_spec(name)
        except SpecError as e:
            fail(str(e))
        notes = [f"runs Python: preprocess {s.preprocess}" if s.preprocess else "",
                 "private" if s.private else "", "multi-answer scored" if s.multi_answer == "score" else ""]
        shots = s.splits.fewshot or ("inline" if s.shots and s.shots.inline else "file" if s.shots else "-")
        table.add_row(escape(s.name), escape(s.title or "-"), s.language, s.splits.eval, shots,
                      str(len(s.subjects)) if s.subjects else (s.fields.subject or "-"), ", ".join(s.prompts),
                      escape(s.license or "-"), escape("; ".join(n for n in notes if n)))
    console.print(table)


@app.command()
def runs(db: Optional[str] = DbOption):
    """List stored runs."""
    from pandian.cli.common import open_db

    store = open_db(db)
    table = Table("run", "model", "benchmark", "shots", "format", "variant", "questions", "acc %")
    for r in store.runs():
        cfg = r["config"]
        acc = f"{100 * r['correct'] / r['scored']:.2f}" if r["scored"] else "-"
        table.add_row(r["run_id"], escape(r["model"]), escape(r["benchmark"]), str(cfg.get("shots")),
                      str(cfg.get("prompt_format")), escape(str(cfg.get("quant") or cfg.get("dtype"))),
                      str(r["records"]), acc)
    console.print(table)
