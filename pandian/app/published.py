"""Measured beside published: a run of a catalog model next to the published scores for the same benchmark, with
the difference in points, the sources and every part of the setting that differs (shots, split, prompts).

A run is a catalog model's when its model reference is one of the catalog's hub ids (or a local directory named
like one), or when it was run with --catalog-key. The measured number is the aggregate the benchmark's authors report
(catalog benchmarks.csv: the mean of subjects for CMMLU and C-Eval, the pooled questions otherwise); a published
category score (CMMLU:STEM) is set beside the measured category of the same name.
"""

from __future__ import annotations

from pandian.catalog import Catalog, load_catalog, parse_setting, setting_differences
from pandian.core.metrics import summarize
from pandian.core.spec import SpecError, load_spec
from pandian.store import ResultStore


def _measured(accuracy: dict, part: str | None, measured_as: str, catalog: Catalog) -> tuple[float, int] | None:
    group = accuracy["overall"]
    if part:
        names = [c for c in accuracy["categories"] if catalog.same_part(part, c)]
        if not names:
            return None
        group = accuracy["categories"][names[0]]
    value = group["subject_mean"]["acc"] if measured_as == "subject_mean" else group["questions"]["acc"]
    return value, group["questions"]["n"]


def beside_published(benchmark: str, accuracy: dict, config: dict, model_ref: str, catalog_key: str | None = None,
                     catalog: Catalog | None = None) -> dict | None:
    """None when the model is not a catalog model; else the published rows for this benchmark, each with the
    measured value, the delta (measured - published, in points) and the setting differences."""
    cat = catalog or load_catalog()
    match = cat.match(model_ref, catalog_key)
    if match is None:
        return None
    rows = []
    for row in cat.benchmarks_for_spec(benchmark):
        for s in cat.scores(match.model.key):
            if s.base_benchmark != row["benchmark"]:
                continue
            if match.route is not None and not cat.same_variant(s.model_key, s.variant, match.route.checkpoint):
                continue
            measured = _measured(accuracy, s.part, row["measured_as"], cat)
            if measured is None:
                continue
            value, n = measured
            rows.append({
                "benchmark": s.benchmark, "variant": s.variant, "published": s.score, "setting": s.setting,
                "source": s.source.to_dict(), "measured": round(100 * value, 2), "measured_as": row["measured_as"],
                "questions": n, "delta_pts": round(100 * value - s.score, 2),
                "differences": setting_differences(parse_setting(s.setting), shots=config.get("shots", 0),
                                                   split=config.get("split", ""),
                                                   prompt_format=config.get("prompt_format", ""),
                                                   default_split=row["leaderboard_split"] or None),
                "note": row["note"]})
    return {"catalog_key": match.model.key, "checkpoint": match.route.checkpoint if match.route else None,
            "matched_by": match.how, "rows": rows}


def store_measurements(store: ResultStore, key: str, catalog: Catalog | None = None) -> list[dict]:
    """Every stored run of catalog model `key` (by its reference or its --catalog-key), beside the published rows."""
    cat = catalog or load_catalog()
    out = []
    for run in store.runs():
        cfg = run["config"]
        try:
            spec = load_spec(run["benchmark"])
        except SpecError:
            continue  # a user's own file: nothing is published for it
        match = cat.match(run["model"], cfg.get("catalog_key"))
        if match is None or match.model.key != key:
            continue
        recs = [r for r in store.records(run["run_id"]) if r.correct is not None]
        if not recs:
            continue
        accuracy = summarize(((r.subject, r.correct) for r in recs), spec.categories_of)
        beside = beside_published(run["benchmark"], accuracy, cfg, run["model"], cfg.get("catalog_key"), cat)
        out.append({"run_id": run["run_id"], "model": run["model"], "benchmark": run["benchmark"],
                    "shots": cfg.get("shots"), "split": cfg.get("split"), "questions": len(recs),
                    "accuracy": accuracy["overall"]["questions"]["acc"], "published": beside["rows"]})
    return out
