"""`pandian report`: the survey of a results store and the catalog as one HTML file (or Markdown)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DbOption, console, fail


@app.command("report")
def report_cmd(
    out: Path = typer.Option(..., "--out", help="file to write (.html, or .md with --format md)"),
    fmt: str = typer.Option("html", "--format", help="html (one self-contained file, works offline) or md"),
    db: Optional[str] = DbOption,
    with_records: bool = typer.Option(False, "--with-records", help="embed every record for a question browser "
                                                                    "inside the file (large)"),
    catalog: bool = typer.Option(True, "--catalog/--no-catalog", help="include the catalog's published facts "
                                                                      "(and the recommendations made from them)"),
    scenario: list[str] = typer.Option([], "--scenario", metavar="SUITE",
                                       help="recommend for this suite (repeatable; default: every suite with a "
                                            "measured result in the store)"),
    gpu: str = typer.Option("24GB", "--gpu", help="GPU memory budget of the recommendations"),
    commercial: bool = typer.Option(False, "--commercial", help="recommend only licences that allow commercial use"),
    api: bool = typer.Option(False, "--api", help="also rank API models in the recommendations"),
):
    """Write the survey: catalog, performance by benchmark and category, versions against cost, flipped questions,
    bias and safety (CBBQ, SafetyBench), each model's strengths and weaknesses, scenario recommendations with their
    reasons. Measured numbers carry their 95% interval and run id; published ones their source."""
    from pandian.app.survey import judgement_sections
    from pandian.cli.choose import GENERAL
    from pandian.cli.common import open_db, require_store
    from pandian.core.fit import parse_gpu
    from pandian.core.spec import SpecError
    from pandian.core.suite import load_suite
    from pandian.report import write_report

    if fmt == "html" and importlib.util.find_spec("plotly") is None:
        fail("the HTML report embeds plotly.js: pip install 'pandian[report]' (or use --format md)")
    if fmt not in ("html", "md"):
        fail(f"--format must be html or md, not '{fmt}'")
    if not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist")
    require_store(db)
    try:
        gpu_gb = parse_gpu(gpu)
    except ValueError as e:
        fail(f"--gpu: {e}")
    scenarios = [GENERAL["zh"] if name == "general" else name for name in scenario]
    try:
        for name in scenarios:
            load_suite(name)
    except SpecError as e:
        fail(f"--scenario: {e}")
    if scenarios and not catalog:
        fail("--scenario needs the catalog: recommendations rank its checkpoints (drop --no-catalog)")
    cat = None
    if catalog:
        from pandian.catalog import load_catalog

        cat = load_catalog()
    store = open_db(db)
    try:
        sections = judgement_sections(store, cat, gpu_gb, scenarios=scenarios, commercial=commercial,
                                      include_api=api)
        data = write_report(store, out, fmt=fmt, with_records=with_records, catalog=cat, sections=sections)
    finally:
        store.close()
    rec = sections["recommendations"]
    console.print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB): {len(data['runs'])} runs on "
                  f"{len(data['benchmarks'])} benchmarks; {len(sections['profiles'])} model profiles, CBBQ bias of "
                  f"{len(sections['bias']['cbbq'])} models, "
                  + (f"recommendations for {len(rec['scenarios'])} scenarios" if rec else "no recommendations"),
                  highlight=False)
