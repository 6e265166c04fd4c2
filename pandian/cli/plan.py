"""`pandian plan FILE.yaml` (the work units, their cost, what is done) and `pandian run-plan FILE.yaml` (the rest,
on this machine or a Ray cluster)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DataDirOption, DbOption, JsonOption, console, err, fail


def _load(plan_file: Path, data_dir, db):
    from pandian.app.plan import load_plan
    from pandian.app.plan_check import check, mark_done
    from pandian.backends.base import ModelLoadError
    from pandian.core.spec import SpecError
    from pandian.store import StoreConnectionError, open_store

    try:
        plan = load_plan(plan_file, data_dir)
        check(plan)  # everything is validated before the store is opened (or created)
        store = open_store(db)
        mark_done(plan, store)
    except (SpecError, ModelLoadError, StoreConnectionError) as e:
        fail(str(e))
    return plan, store


def _units_json(plan) -> list[dict]:
    return [{"unit": u.key, "model": u.variant.model, "variant": u.variant.label, "benchmark": u.spec.name,
             "shard": u.shard, "run_id": u.run_id, "questions": u.questions, "done": u.done, "tokens": u.tokens,
             "flops": u.cost} for u in plan.units]


def _flop(x: float) -> str:
    for unit, k in (("P", 1e15), ("T", 1e12), ("G", 1e9)):
        if x >= k:
            return f"{x / k:,.1f} {unit}"
    return f"{x:,.0f}"


@app.command("plan")
def plan_cmd(
    plan_file: Path = typer.Argument(..., help="a plan .yaml: models x variants x benchmarks"),
    data_dir: Optional[Path] = DataDirOption,
    db: Optional[str] = DbOption,
    units: bool = typer.Option(False, "--units", help="one row per unit instead of one per run"),
    as_json: bool = JsonOption,
):
    """Show a plan's work units with their estimated cost and what the store already holds; loads no weights."""
    plan, store = _load(plan_file, data_dir, db)
    store.close()
    if as_json:
        print(json.dumps({"plan": plan.name, "units": _units_json(plan)}, indent=1, ensure_ascii=False))
        return
    rows: dict[tuple, list] = {}
    for u in plan.units:
        rows.setdefault((u.key,) if units else (u.variant.label, u.spec.name, u.entry), []).append(u)
    t = Table(title=escape(f"plan {plan.name}: {len(plan.units)} units, {len(plan.variants)} model variants"),
              title_justify="left")
    for c in ("unit" if units else "variant", "benchmark", "run", "units", "questions", "done", "tokens",
              "FLOP (est.)"):
        t.add_column(c, justify="left" if c in ("unit", "variant", "benchmark", "run") else "right")
    for group in rows.values():
        u0 = group[0]
        q, d = sum(u.questions for u in group), sum(u.done for u in group)
        tokens = sum(u.tokens or 0 for u in group)
        t.add_row(escape(u0.key if units else u0.variant.label), escape(u0.spec.name), u0.run_id or "?",
                  str(len(group)), str(q), "complete" if d >= q else str(d), f"{tokens:,}",
                  _flop(sum(u.cost for u in group)))
    console.print(t)
    todo = sorted((u for u in plan.units if not u.complete), key=lambda u: u.cost, reverse=True)
    console.print(f"{len(todo)} of {len(plan.units)} units to run, {sum(u.questions - u.done for u in todo)} "
                  f"questions; largest first: {escape(todo[0].key) if todo else '-'}", highlight=False)


def _bar(plan, quiet: bool):
    """One progress bar over the whole plan, shown once the executor is ready; and the notes it passes on."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from pandian.app.executors import PlanProgress

    bar = Progress(TextColumn(escape(f"plan {plan.name}")), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err, disable=quiet)
    task = bar.add_task("plan", total=sum(u.questions for u in plan.units), completed=sum(u.done for u in plan.units))
    return bar, PlanProgress(start=bar.start, advance=lambda n: bar.advance(task, n),
                             note=lambda m: err.print(f"[yellow]note:[/] {escape(m)}"))


@app.command("run-plan")
def run_plan_cmd(
    plan_file: Path = typer.Argument(..., help="a plan .yaml: models x variants x benchmarks"),
    executor: str = typer.Option("local", help="local (this process) or ray (a Ray cluster)"),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster address, e.g. 10.0.0.1:6379 or auto "
                                                         "(default: start a Ray instance on this machine)"),
    max_attempts: int = typer.Option(3, help="ray: tries per unit before giving up on it (a lost worker counts)"),
    data_dir: Optional[Path] = DataDirOption,
    db: Optional[str] = DbOption,
    as_json: bool = JsonOption,
):
    """Run the units of a plan that the store does not hold yet, largest first; results are the same records and
    run ids whichever executor computes them."""
    from pandian.app.executors import EXECUTORS, run_units
    from pandian.app.executors.ray import ExecutorError
    from pandian.backends.base import ModelLoadError
    from pandian.core.spec import SpecError
    from pandian.settings import store_location

    if executor not in EXECUTORS:
        fail(f"--executor must be {' or '.join(EXECUTORS)}, got '{executor}'")
    if ray_address and executor != "ray":
        fail("--ray-address needs --executor ray")
    plan, store = _load(plan_file, data_dir, db)
    store.close()
    todo = [u for u in plan.units if not u.complete]
    bar, progress = _bar(plan, as_json)
    extra = {"max_attempts": max_attempts} if executor == "ray" else {}
    try:
        # Ray prints its cluster notices (a node marked dead...) on stdout: they go to stderr, so that stdout
        # carries pandian's results only (--json stays parseable)
        with contextlib.redirect_stdout(sys.stderr):
            try:
                outcome = run_units(plan, todo, store_location(db), executor, ray_address, progress, **extra)
            finally:
                bar.stop()
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/] every finished batch is stored; rerun the same command to resume.")
        raise typer.Exit(130) from None
    except (ExecutorError, SpecError, ModelLoadError) as e:
        fail(str(e))
    summary = {"plan": plan.name, "executor": outcome.executor, "units_run": len(outcome.units),
               "units_skipped": len(plan.units) - len(todo), "computed": outcome.computed,
               "retried": outcome.retried, "workers_lost": outcome.workers_lost,
               "actors_started": outcome.actors_started, "wall_s": round(outcome.wall_s, 2),
               "failed": outcome.failed, "runs": sorted({u.run_id for u in outcome.units}),
               "units": [vars(u) for u in outcome.units]}
    if as_json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
    else:
        console.print(f"{summary['units_run']} units run ({summary['units_skipped']} already complete), "
                      f"{outcome.computed} questions computed in {outcome.wall_s:.1f} s by {executor}; "
                      f"{outcome.actors_started} model loads, {outcome.workers_lost} workers lost, "
                      f"{outcome.retried} unit attempts retried", highlight=False)
        for key, why in outcome.failed.items():
            err.print(f"[bold red]failed:[/] {escape(key)}: {escape(why)}")
    if outcome.failed:
        raise typer.Exit(1)
