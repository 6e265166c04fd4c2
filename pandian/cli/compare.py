"""`pandian compare`: runs of the same questions side by side, with paired statistics."""

from __future__ import annotations

import json
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DbOption, fail, printable


@app.command("compare")
def compare_cmd(
    runs_: list[str] = typer.Argument(..., metavar="RUN...", help="run ids (or prefixes), model names or variant "
                                                                   "labels (model[int8]); the first is the baseline"),
    bench: Optional[str] = typer.Option(None, help="when naming models: which benchmark's runs"),
    db: Optional[str] = DbOption,
    flips: int = typer.Option(10, help="flipped questions to list per variant"),
    force: bool = typer.Option(False, help="pair question ids even when the runs hold different questions there "
                                           "(or it cannot be verified); the problems are printed"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
):
    """Compare runs on the same questions: paired accuracy deltas, McNemar, flips, KL, memory, speed, Pareto, and
    the settings that differ. Refuses runs whose shared question ids hold different questions."""
    from pandian.app.compare import compare
    from pandian.app.pairing import PairingError, resolve
    from pandian.cli.render import print_comparison
    from pandian.cli.common import open_db

    store = open_db(db, existing=True)
    try:
        result = compare(store, resolve(store.runs(), runs_, bench), force=force)
    except PairingError as e:
        fail(printable(e))
    finally:
        store.close()
    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    print_comparison(result, flips)
