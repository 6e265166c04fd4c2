"""`pandian runs` and `pandian benchmarks`: what is stored, and what can be run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DbOption, console


@app.command()
def benchmarks():
    """List the built-in benchmark specs."""
    from pandian.core.spec import builtin_names, load_spec

    table = Table("name", "title", "language", "eval split", "few-shot", "subjects", "prompt formats", "licence")
    for name in builtin_names():
        s = load_spec(name)
        table.add_row(name, escape(s.title), s.language, s.splits.eval, s.splits.fewshot or "-",
                      str(len(s.subjects)) if s.subjects else (s.fields.subject or "-"), ", ".join(s.prompts),
                      escape(s.license))
    console.print(table)


@app.command()
def runs(db: Optional[Path] = DbOption):
    """List stored runs."""
    from pandian.store import open_store

    store = open_store(db)
    table = Table("run", "model", "benchmark", "shots", "format", "variant", "questions", "acc %")
    for r in store.runs():
        cfg = r["config"]
        acc = f"{100 * r['correct'] / r['scored']:.2f}" if r["scored"] else "-"
        table.add_row(r["run_id"], escape(r["model"]), escape(r["benchmark"]), str(cfg.get("shots")),
                      str(cfg.get("prompt_format")), escape(str(cfg.get("quant") or cfg.get("dtype"))),
                      str(r["records"]), acc)
    console.print(table)
