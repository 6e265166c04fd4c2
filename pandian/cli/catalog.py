"""`pandian catalog`: the surveyed models with their published facts, one model in full, the conflict audit."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DbOption, JsonOption, Typer, console, fail

catalog_app = Typer(help="The surveyed models: published scores with sources, GPU memory, licences, and how "
                         "pandian evaluates each.", no_args_is_help=False)
app.add_typer(catalog_app, name="catalog")


def _how(model) -> str:
    kinds = sorted({r.how for r in model.routes})
    return ", ".join(kinds)


@catalog_app.callback(invoke_without_command=True)
def catalog_list(
    ctx: typer.Context,
    domain: Optional[str] = typer.Option(None, help="a word of the model's domain: legal, medical, finance, ..."),
    open_weights: bool = typer.Option(False, "--open", help="only models whose weights are published (fully or "
                                                            "in part)"),
    commercial: bool = typer.Option(False, help="only models whose licence allows commercial use (outright or "
                                                "after an application to the vendor)"),
    as_json: bool = JsonOption,
):
    """List the catalog (filters combine)."""
    if ctx.invoked_subcommand is not None:
        return
    from pandian.catalog import load_catalog

    cat = load_catalog()
    models = cat.select(domain=domain, open_weights=open_weights, commercial=commercial)
    if as_json:
        print(json.dumps({"catalog": cat.fingerprint, "models": [m.to_dict() for m in models]}, ensure_ascii=False,
                         indent=1))
        return
    table = Table("key", "name", "org", "weights", "commercial", "domain", "scores", "evaluated by",
                  title=f"{len(models)} of {len(cat.models)} models (catalog {cat.fingerprint})", title_justify="left")
    for m in models:
        table.add_row(m.key, escape(f"{m.name_zh} / {m.name_en}"), escape(m.org), m.open_weights,
                      m.commercial_use or "not stated", escape(m.domain), str(len(cat.scores(m.key))), _how(m))
    console.print(table)
    console.print("`pandian catalog show KEY` for a model's scores, sources, memory figures and evaluation routes.")


@catalog_app.command("show")
def catalog_show(key: str = typer.Argument(..., help="a catalog key (`pandian catalog` lists them)"),
                 db: Optional[str] = DbOption, as_json: bool = JsonOption):
    """One model: its facts, how pandian evaluates it, published scores with sources and conflicts, GPU memory,
    and the runs of it in the results store beside the published numbers."""
    from pandian.app.published import store_measurements
    from pandian.catalog import CatalogError, load_catalog
    from pandian.cli.stored import existing_store

    cat = load_catalog()
    try:
        model = cat.model(key)
    except CatalogError as e:
        fail(str(e))
    with existing_store(db) as store:
        measured = store_measurements(store, key, cat) if store else []
    data = {**model.to_dict(), "scores": [s.to_dict() for s in cat.scores(key)],
            "resources": [r.to_dict() for r in cat.resources(key)],
            "conflicts": [c.to_dict() for c in cat.conflicts(key)], "measured": measured,
            "catalog": cat.fingerprint}
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    from pandian.cli.render_catalog import print_model

    print_model(data)


@catalog_app.command("conflicts")
def catalog_conflicts(key: Optional[str] = typer.Argument(None, help="one model (default: all)"),
                      comparable: bool = typer.Option(False, help="also group settings that differ only in an "
                                                                  "unstated split (read as the leaderboard's)"),
                      as_json: bool = JsonOption):
    """Where sources publish different numbers for the same model, benchmark and setting: every value with its
    source, never an average."""
    from pandian.catalog import CatalogError, load_catalog

    cat = load_catalog()
    try:
        if key:
            cat.model(key)
        conflicts = cat.conflicts(key, comparable=comparable)
    except CatalogError as e:
        fail(str(e))
    if as_json:
        print(json.dumps([c.to_dict() for c in conflicts], ensure_ascii=False, indent=1))
        return
    table = Table("model", "variant", "benchmark", "setting", "values (source)", "kind",
                  title=f"{len(conflicts)} conflicts", title_justify="left")
    for c in conflicts:
        values = "\n".join(f"{s.text}  {s.source.short} (line {s.line})" for s in c.scores)
        table.add_row(c.model_key, escape(c.variant), escape(c.benchmark), escape(c.setting or "not stated"),
                      escape(values), "rounding" if c.rounding_only else f"differ by {c.spread:.2f}")
    console.print(table)
