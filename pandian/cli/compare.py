"""`pandian compare`: runs of the same questions side by side, with paired statistics."""

from __future__ import annotations

import json
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DbOption, fail


@app.command("compare")
def compare_cmd(
    runs_: list[str] = typer.Argument(..., metavar="RUN...", help="run ids (or prefixes) or model names; the first "
                                                                   "is the baseline"),
    bench: Optional[str] = typer.Option(None, help="when naming models: which benchmark's runs"),
    db: Optional[str] = DbOption,
    flips: int = typer.Option(10, help="flipped questions to list per variant"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
):
    """Compare runs on the same questions: paired accuracy deltas, McNemar, flips, KL, memory, speed, Pareto."""
    from pandian.app.compare import compare, resolve
    from pandian.cli.render import print_comparison
    from pandian.core.spec import SpecError
    from pandian.cli.common import open_db

    store = open_db(db)
    try:
        result = compare(store, resolve(store, runs_, bench))
    except SpecError as e:
        fail(str(e))
    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    print_comparison(result, flips)
