"""`pandian demo`: the product end to end, offline, on a tiny model built here."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from pandian.cli import app
from pandian.cli.common import DataDirOption, DbOption, console, fail, run_eval


@app.command()
def demo(
    data_dir: Optional[Path] = DataDirOption,
    db: Optional[str] = DbOption,
    cmmlu_limit: int = typer.Option(10, help="CMMLU questions per subject (5-shot)"),
    report: Optional[Path] = typer.Option(None, help="where to write the HTML report (default: demo-report.html "
                                                     "in pandian's home folder, ~/.pandian or PANDIAN_HOME)"),
):
    """Offline end to end on a tiny random-init model built locally (it scores at chance by design): evaluate,
    compare its bf16 version, recommend for the legal scenario, write the HTML report."""
    from pandian import settings
    from pandian.app.demo import demo_evaluations, demo_model_dir, has_cmmlu
    from pandian.app.compare import compare
    from pandian.app.survey import judgement_sections
    from pandian.catalog import load_catalog
    from pandian.report import write_report
    from pandian.backends.registry import ModelOptions, load_backend
    from pandian.cli.render import print_comparison, print_summary
    from pandian.cli.common import open_db

    if report is not None and (report.suffix not in (".html", ".md") or not report.parent.is_dir()):
        fail(f"--report {report}: give a .html or .md file in an existing folder")
    data_dir = settings.data_dir(data_dir)
    console.print("[bold]pandian demo[/]: building (or reusing) a tiny random-init model; it scores at chance "
                  "(~25% on 4 choices) by design — the point is the pipeline, not the number.")
    model_dir = demo_model_dir(data_dir)
    model = load_backend(str(model_dir))
    params = model.parameter_count() / 1e6
    console.print(f"model: {model_dir} ({params:.1f}M parameters)", highlight=False, markup=False)
    store = open_db(db)
    runs = []
    for spec, opts in demo_evaluations(data_dir, cmmlu_limit):
        result = run_eval(model, spec, opts, store, None)
        print_summary(result.summary)
        runs.append((spec, opts, result.run_id))
    # a version of the same model (bf16 weights) on the last benchmark's questions, compared with paired statistics
    spec, opts, base_run = runs[-1]
    console.print("[bold]the bf16 version of the same model[/] on the same questions, then "
                  f"[bold]pandian compare {base_run[:8]} <bf16 run>[/]:", highlight=False)
    variant = run_eval(load_backend(str(model_dir), ModelOptions(dtype="bfloat16")), spec, opts, store, None)
    print_comparison(compare(store, [base_run, variant.run_id]), 5)
    if not has_cmmlu(data_dir):
        console.print(f"[yellow]CMMLU not found under {escape(str(data_dir))}[/]: pass --data-dir or set "
                      "PANDIAN_DATA_DIR to a folder holding cmmlu/data/{dev,test}/ to include it.", highlight=False)
    # the recommendation and the report's sections in one computation: the report shows the same ranking
    catalog = load_catalog()
    sections = judgement_sections(store, catalog, 24.0, scenarios=["legal"], commercial=True)
    [rec] = sections["recommendations"]["scenarios"]
    console.print("[bold]pandian recommend --scenario legal --gpu 24GB --commercial[/] (the top 3 of "
                  f"{len(rec['ranked'])}; {len(rec['excluded'])} excluded, each with its reason):")
    for e in rec["ranked"][:3]:
        console.print(f"  {escape(e['reason'])}", highlight=False)
    out = report or settings.home() / "demo-report.html"
    if importlib.util.find_spec("plotly") is None:  # the HTML report embeds plotly.js; Markdown needs nothing
        out = out.with_suffix(".md")
    write_report(store, out, fmt="html" if out.suffix == ".html" else "md", catalog=catalog, sections=sections)
    console.print(f"[bold]pandian report --out {escape(str(out))}[/]: catalog, performance, the two versions "
                  "against memory and speed, strengths and weaknesses, the recommendation (open it in a browser; it "
                  "works offline)", highlight=False)
    console.print(f"records: {store.path} (pandian runs --db {store.path}; pandian web --db {store.path})",
                  highlight=False, markup=False)
    store.close()
