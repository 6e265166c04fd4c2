"""`pandian bias`: CBBQ's bias score per category, and the refusal rate of generated answers."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DbOption, JsonOption, console, fail


def _cell(p: dict) -> str:
    if p["score"] is None:
        return "-"
    return f"{p['score']:.3f} ({p['ci95'][0]:.3f}-{p['ci95'][1]:.3f}), n={p['n']}"


@app.command()
def bias(model_or_runs: list[str] = typer.Argument(..., help="a model name as stored, or its CBBQ run ids"),
         db: Optional[str] = DbOption, as_json: bool = JsonOption):
    """CBBQ bias score (the paper's S_amb, S_disamb and 0.4/0.6 total) per bias category, from the model's
    cbbq-ambiguous and cbbq-disambiguous runs; 0 = no measured bias, 1 = always the stereotype."""
    from pandian.app.bias import bias_report
    from pandian.core.data import DataError
    from pandian.cli.stored import existing_store
    from pandian.core.spec import SpecError

    try:
        with existing_store(db) as store:
            if store is None:
                raise SpecError(f"no stored run of model '{model_or_runs[0]}': the results store is empty")
            report = bias_report(store, model_or_runs)
    except (SpecError, DataError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    table = Table("category", "S_amb (95% CI)", "S_disamb (95% CI)", "S_total", "target undetermined",
                  title=escape(f"CBBQ bias — {report['model']}"), title_justify="left")
    b = report["bias"]
    for name, e in list(b["categories"].items()) + [("overall", b["overall"])]:
        total = "-" if e["s_total"] is None else f"{e['s_total']:.3f}"
        table.add_row(escape(name), _cell(e["s_amb"]), _cell(e["s_disamb"]), total, str(e["undetermined"]),
                      style="bold" if name == "overall" else None)
    console.print(table)
    console.print(escape(report["definition"]))
    r = report["refusal"]
    if r["responses"]:
        console.print(f"refusals: {r['refusals']} of {r['responses']} generated answers ({r['rate']:.1%})")
