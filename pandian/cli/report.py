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
    catalog: bool = typer.Option(True, "--catalog/--no-catalog", help="include the catalog's published facts"),
):
    """Write the survey: catalog, performance by benchmark and category, versions against cost, flipped questions.
    Measured numbers carry their 95% interval and run id; published ones their source."""
    from pandian.report import write_report
    from pandian.cli.common import open_db, require_store

    if fmt == "html" and importlib.util.find_spec("plotly") is None:
        fail("the HTML report embeds plotly.js: pip install 'pandian[report]' (or use --format md)")
    if fmt not in ("html", "md"):
        fail(f"--format must be html or md, not '{fmt}'")
    if not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist")
    require_store(db)
    cat = None
    if catalog:
        from pandian.catalog import load_catalog

        cat = load_catalog()
    store = open_db(db)
    try:
        data = write_report(store, out, fmt=fmt, with_records=with_records, catalog=cat)
    finally:
        store.close()
    console.print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB): {len(data['runs'])} runs on "
                  f"{len(data['benchmarks'])} benchmarks", highlight=False)
