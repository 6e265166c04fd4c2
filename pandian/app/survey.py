"""The report's judgement sections: bias and safety, strengths and weaknesses, scenario recommendations.

They are what `pandian bias`, `pandian profile` and `pandian recommend` compute, run over the whole store here,
because pandian.report only reads the store and the catalog: it gets these as plain data (dicts) and renders them.
"""

from __future__ import annotations

from pandian.app.bias import CBBQ, bias_report
from pandian.app.profile import build_profile, latest_runs
from pandian.app.recommend import recommend
from pandian.app.suites import suite_results
from pandian.catalog import Catalog
from pandian.core.data import DataError
from pandian.core.metrics import wilson
from pandian.core.refusal import refusal_rate
from pandian.core.spec import SpecError
from pandian.core.suite import builtin_suites, load_suite
from pandian.store import ResultStore

SAFETY = ("safetybench-zh",)  # benchmarks whose refusals the safety section counts beside CBBQ's


def _models(runs: list[dict], benchmarks=None) -> list[str]:
    """Stored model names in order of their first run (of one of `benchmarks`, when given)."""
    return list(dict.fromkeys(r["model"] for r in runs if benchmarks is None or r["benchmark"] in benchmarks))


def with_interval(refusal: dict) -> dict:
    n, k = refusal["responses"], refusal["refusals"]
    return {**refusal, "ci95": list(wilson(k, n)) if n else [None, None]}


def bias_section(store: ResultStore) -> dict:
    """CBBQ's bias score of every model with a CBBQ run (as `pandian bias MODEL`), and the refusal rate of each
    SafetyBench run's generated answers. A model whose CBBQ data cannot be read any more says why."""
    runs = store.run_list()
    cbbq = []
    for model in _models(runs, CBBQ):
        ids = [r["run_id"] for r in latest_runs(runs, model) if r["benchmark"] in CBBQ]
        try:
            report = bias_report(store, ids)
        except (SpecError, DataError, OSError) as e:
            cbbq.append({"model": model, "runs": ids, "error": str(e)})
            continue
        cbbq.append({**report, "refusal": with_interval(report["refusal"])})
    safety = []
    for r in runs:
        if r["benchmark"] in SAFETY:
            pairs = [(rec.response, rec.pred) for rec in store.records(r["run_id"])]
            safety.append({"run_id": r["run_id"], "model": r["model"], "benchmark": r["benchmark"],
                           "refusal": with_interval(refusal_rate(pairs))})
    return {"cbbq": cbbq, "safety": safety, "benchmarks": list(CBBQ) + list(SAFETY)}


def profile_section(store: ResultStore, *, by: str = "subject", published: bool = True) -> list[dict]:
    """Every stored model's profile as `pandian profile MODEL` makes it (latest run per configuration, peers on
    the same questions, Holm-corrected); its published scores only when the report shows the catalog."""
    runs = store.run_list()
    out, cache = [], {}
    for model in _models(runs):
        mine = latest_runs(runs, model)
        key = next((r["config"]["catalog_key"] for r in mine if r["config"].get("catalog_key")), None)
        p = build_profile(store, [r["run_id"] for r in mine], by=by, catalog_key=key, cache=cache).to_dict()
        if not published:
            p["published"] = []
        out.append(p)
    return out


def recommendation_section(store: ResultStore, catalog: Catalog, gpu_gb: float, *, scenarios: list[str] = (),
                           commercial: bool = False, include_api: bool = False, context: int = 2048) -> dict:
    """`pandian recommend` for each scenario asked for, or else for every built-in suite with a measured result
    in the store (the others are listed as not measured)."""
    out, unmeasured = [], []
    for name in scenarios or builtin_suites():
        suite = load_suite(name)
        measured = suite_results(store, suite)
        if not scenarios and not any(r.score for r in measured):
            unmeasured.append(name)
            continue
        out.append(recommend(catalog, suite, gpu_gb, commercial=commercial, include_api=include_api,
                             context=context, measured=measured))
    return {"gpu_gb": gpu_gb, "commercial": commercial, "api": include_api, "asked": bool(scenarios),
            "scenarios": out, "unmeasured": unmeasured}


def judgement_sections(store: ResultStore, catalog: Catalog | None, gpu_gb: float, *, scenarios: list[str] = (),
                       commercial: bool = False, include_api: bool = False) -> dict:
    """The three sections as the report's data keys. Without a catalog there is nothing to recommend from."""
    return {"bias": bias_section(store),
            "profiles": profile_section(store, published=catalog is not None),
            "recommendations": None if catalog is None else recommendation_section(
                store, catalog, gpu_gb, scenarios=scenarios, commercial=commercial, include_api=include_api)}
