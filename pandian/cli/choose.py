"""`pandian profile` and `pandian recommend`: what a model is measurably good and bad at, and which model to pick
for a scenario under a GPU and licence budget."""

from __future__ import annotations

import json
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DbOption, JsonOption, fail

# --lang picks the suite when a scenario exists in several languages.
GENERAL = {"zh": "general-zh", "en": "english"}


@app.command()
def profile(
    model_or_runs: list[str] = typer.Argument(..., help="a model name as stored (all its runs), or run ids"),
    by: str = typer.Option("subject", help="areas: subject, or category (the spec's subject groups)"),
    no_peers: bool = typer.Option(False, help="compare each area with the model's own other areas, not with "
                                              "other models' runs on the same questions"),
    catalog_key: Optional[str] = typer.Option(None, help="the catalog model this is, for its published scores"),
    alpha: float = typer.Option(0.05, help="family-wise error rate of the statements (Holm's correction)"),
    db: Optional[str] = DbOption,
    as_json: bool = JsonOption,
):
    """Significant strengths and weaknesses only (paired with peers where questions are shared, Holm-corrected),
    each with its evidence; published scores shown apart, labelled as published."""
    from pandian.app.profile import build_profile
    from pandian.catalog import CatalogError
    from pandian.cli.render_catalog import print_profile
    from pandian.cli.stored import existing_store
    from pandian.core.spec import SpecError

    try:
        with existing_store(db) as store:
            if store is None:
                raise SpecError(f"no stored run of model '{model_or_runs[0]}': the results store is empty")
            result = build_profile(store, model_or_runs, by=by, peers=not no_peers, catalog_key=catalog_key,
                                   alpha=alpha).to_dict()
    except (SpecError, CatalogError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_profile(result)


@app.command()
def recommend(
    scenario: str = typer.Option(..., help="a suite: legal, medical, finance, education, engineering, general, "
                                           "english, multilingual, safety (or a suite .yaml)"),
    gpu: str = typer.Option(..., help="GPU memory budget: 24GB, 80G, 16"),
    commercial: bool = typer.Option(False, help="only licences that allow commercial use (outright or after an "
                                                "application to the vendor)"),
    lang: Optional[str] = typer.Option(None, help="the language the deployment works in (zh, en): picks the suite "
                                                  "of `general`, and must match any other suite's language"),
    api: bool = typer.Option(False, help="also rank API models (they need no local GPU)"),
    context: int = typer.Option(2048, help="prompt length the memory must hold"),
    db: Optional[str] = DbOption,
    as_json: bool = JsonOption,
):
    """Rank models and precisions that fit the budget, by measured suite results where present and published
    scores otherwise (labelled, with source and setting); every rank and every exclusion has its reason."""
    from pandian.app.recommend import recommend as rank
    from pandian.app.suites import suite_results
    from pandian.catalog import load_catalog
    from pandian.cli.render_catalog import print_recommendation
    from pandian.core.fit import parse_gpu
    from pandian.core.spec import SpecError
    from pandian.cli.stored import existing_store
    from pandian.core.suite import load_suite

    try:
        gpu_gb = parse_gpu(gpu)
        name = GENERAL.get(lang or "zh") if scenario == "general" else scenario
        if name is None:
            fail(f"--lang {lang}: the general scenario exists in zh and en")
        suite = load_suite(name)
        if lang and suite.language != lang:
            fail(f"--lang {lang}: the {suite.name} suite is in '{suite.language}'")
        with existing_store(db) as store:
            measured = suite_results(store, suite) if store else []
        result = rank(load_catalog(), suite, gpu_gb, commercial=commercial, include_api=api, context=context,
                      measured=measured)
    except (SpecError, ValueError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_recommendation(result)
