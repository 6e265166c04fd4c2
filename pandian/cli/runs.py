"""`pandian runs [list|show|delete|export]` and `pandian benchmarks`: what is stored, and what can be run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DbOption, JsonOption, Typer, console, fail, printable
from pandian.cli.render import safe

runs_app = Typer(invoke_without_command=True, no_args_is_help=False,
                 help="Stored runs: list them (the default), show a run's summary, export or delete it.")
app.add_typer(runs_app, name="runs")
RunArgument = typer.Argument(..., metavar="RUN", help="a run id or a unique prefix of one (`pandian runs` lists them)")


@app.command()
def benchmarks(specs: list[Path] = typer.Argument(None, help="spec .yaml files to describe too")):
    """List the built-in benchmark specs (and any spec files given)."""
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
        table.add_row(safe(s.name), safe(s.title or "-"), s.language, s.splits.eval, shots,
                      str(len(s.subjects)) if s.subjects else (s.fields.subject or "-"), ", ".join(s.prompts),
                      safe(s.license or "-"), safe("; ".join(n for n in notes if n)))
    console.print(table)


def _open(db: Optional[str]):
    from pandian.cli.common import open_db

    return open_db(db, existing=True)


def _find(store, ref: str) -> dict:
    from pandian.app.runs import RunNotFound, find_run

    try:
        return find_run(store, ref)
    except RunNotFound as e:
        fail(printable(e))


@runs_app.callback()
def runs(ctx: typer.Context, db: Optional[str] = DbOption, as_json: bool = JsonOption):
    """List stored runs: date, settings, variant, and how many of the benchmark's questions are stored."""
    if ctx.invoked_subcommand is not None:
        return
    from pandian.app.runs import overview

    store = _open(db)
    rows = overview(store)
    store.close()
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    table = Table()
    for name in ("run", "date", "model", "benchmark", "shots", "format", "scoring", "chat", "variant",
                 "stored / total", "acc %"):  # ids and dates stay whole; a long model path wraps
        table.add_column(name, no_wrap=name in ("run", "date", "stored / total"), overflow="fold")
    for r in rows:
        acc = f"{100 * r['accuracy']:.2f}" if r["accuracy"] is not None else "-"
        total = "?" if r["total"] is None else str(r["total"])
        table.add_row(r["run_id"], time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"])),
                      safe(r["model"]), safe(r["benchmark"]), str(r["shots"]), safe(r["prompt_format"]),
                      safe(r["scoring"]), "yes" if r["chat_template"] else "no", safe(r["variant"]),
                      f"{r['stored']} / {total} {r['status']}", acc)
    console.print(table)


@runs_app.command("show")
def runs_show(run: str = RunArgument, db: Optional[str] = DbOption, per_subject: bool = typer.Option(
        False, help="print the per-subject table too"), as_json: bool = JsonOption):
    """A run's summary table from its stored records (no model is loaded, nothing is recomputed)."""
    from pandian.app.runs import stored_summary
    from pandian.cli.render import print_summary
    from pandian.core.spec import SpecError

    store = _open(db)
    try:
        summary = stored_summary(store, _find(store, run)).summary
    except SpecError as e:
        fail(printable(e))
    finally:
        store.close()
    if as_json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
        return
    print_summary(summary, per_subject, footer=False)
    st = summary["stored"]
    total = "an unknown number of" if st["total"] is None else f"{st['total']}"
    console.print(f"run {summary['run_id']}: {st['questions']} of {total} questions stored ({st['status']}), "
                  f"{st['sessions']} session(s), {summary['wall_s']:.1f} s of computing", highlight=False)
    if st["last_failed_calls"]:
        console.print(f"[yellow]note:[/] the last session left {st['last_failed_calls']} question(s) unscored "
                      f"(calls failed after retries; first: {safe(st['last_failure'])}); rerun its command to retry "
                      "them", highlight=False)


@runs_app.command("export")
def runs_export(run: str = RunArgument, out: Path = typer.Option(..., help="folder for summary.json and "
                                                                           "records.jsonl"),
                db: Optional[str] = DbOption):
    """Write a run's summary.json and records.jsonl (as `eval --out` does) from the store alone."""
    from pandian.app.runs import export_run
    from pandian.core.spec import SpecError

    if out.exists() and not out.is_dir():
        fail(printable(f"--out {out}: exists and is not a folder; name a folder (it is created when missing)"))
    store = _open(db)
    try:
        result = export_run(store, _find(store, run), out)
    except SpecError as e:
        fail(printable(e))
    finally:
        store.close()
    console.print(f"wrote {safe(out / 'summary.json')} and {safe(out / 'records.jsonl')} "
                  f"({len(result.records)} records)", highlight=False)


@runs_app.command("delete")
def runs_delete(run: str = RunArgument, db: Optional[str] = DbOption):
    """Delete a run: its records, sessions and the judgments that read it (the API response cache stays)."""
    store = _open(db)
    try:
        target = _find(store, run)
        counts = store.delete_run(target["run_id"])
    finally:
        store.close()
    console.print(f"deleted run {target['run_id']} ({safe(target['model'])} on {safe(target['benchmark'])}): "
                  f"{counts['records']} records, {counts['sessions']} sessions, {counts['judgments']} judgments",
                  highlight=False)
