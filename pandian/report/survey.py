"""The survey as plain data: what the HTML report, the Markdown report and the web app all show.

Everything measured comes from the store's aggregates (per-subject counts, paired discordance counts, session
costs); everything published comes from the catalog. A measured number always carries its run id and 95% interval,
a published one its source.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from functools import lru_cache

from pandian.core.metrics import summarize_counts
from pandian.core.spec import SpecError, load_spec
from pandian.core.stats import mcnemar_exact, paired_diff_ci_counts, pareto

from . import published

FLIP_SAMPLE = 20  # flipped questions listed per variant in the report (all of them are in the web app)


def finite(obj):
    """obj with every NaN or infinite float replaced by None: JSON has no such numbers (a log-prob of -inf is an
    API's way of saying a choice was not among its top tokens)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


@lru_cache(maxsize=64)
def spec_of(benchmark: str):
    """The built-in spec of a benchmark, or None (a user's own file: no categories, no title)."""
    try:
        return load_spec(benchmark)
    except (SpecError, OSError):
        return None


def variant_tag(config: dict) -> str:
    """What tells a model's variants apart: quantization, else dtype; the backend when not transformers."""
    tags = [config.get("quant") or config.get("dtype")]
    if config.get("backend") not in (None, "hf"):
        tags.append(config["backend"])
    return "/".join(t for t in tags if t)


def setting_of(config: dict) -> dict:
    """The evaluation setting: runs in the same setting answered the same prompts and can be compared."""
    return {k: config.get(k) for k in ("split", "shots", "prompt_format", "scoring", "data", "spec_hash")}


def is_api(config: dict) -> bool:
    return bool(config.get("base_url")) or config.get("weights") is None


def cost_of(sessions: list[dict]) -> dict:
    """Measured cost from a run's computing sessions: weights, peak memory, speed (the latest session's, which is
    what a resumed run's machine did last)."""
    if not sessions:
        return {}
    last = sessions[-1]["stats"]
    wall = sum(s["wall_s"] for s in sessions)
    cuda = [s["stats"].get("cuda_max_allocated_gb") for s in sessions if s["stats"].get("cuda_max_allocated_gb")]
    peak = max(cuda) if cuda else max((s["stats"].get("peak_rss_gb") or 0) for s in sessions) or None
    return {
        "weights_gb": last.get("weights_gb"),
        "peak_memory_gb": peak,
        "memory_kind": "GPU allocated" if cuda else "process RSS",
        "questions_per_s": sum(s["computed"] for s in sessions) / wall if wall else None,
        "load_s": last.get("load_s"),
        "hardware": (last.get("hardware") or {}).get("gpu") or (last.get("hardware") or {}).get("cpu"),
    }


def run_view(run: dict, counts: dict[str, tuple[int, int]], totals: dict, sessions: list[dict],
             mean_ci: str = "overall") -> dict:
    """A run as the survey shows it. mean_ci: which subject means get a bootstrap interval (see summarize_counts)."""
    spec = spec_of(run["benchmark"])
    cfg = run["config"]
    acc = summarize_counts(counts, spec.categories_of if spec else lambda s: [], mean_ci)
    model = run["model"]
    tag = variant_tag(cfg)
    return {
        "run_id": run["run_id"], "created_at": run["created_at"], "model": model,
        "label": f"{model.rstrip('/').split('/')[-1]}" + (f" [{tag}]" if tag else ""), "variant": tag,
        "quant": cfg.get("quant"), "benchmark": run["benchmark"], "title": spec.title if spec else run["benchmark"],
        "setting": setting_of(cfg), "api": is_api(cfg), "records": totals.get("records", 0),
        "scored": totals.get("scored", 0), "accuracy": acc, "cost": cost_of(sessions),
    }


def run_views(store, run_ids: list[str] | None = None, mean_ci: str = "overall") -> dict[str, dict]:
    """run id -> run_view for the runs (all when None) that have scored records, oldest first: three queries."""
    counts, totals = store.subject_counts(run_ids)
    costs = store.run_costs(run_ids)
    return {r["run_id"]: run_view(r, counts.get(r["run_id"], {}), totals[r["run_id"]], costs.get(r["run_id"], []),
                                  mean_ci)
            for r in store.run_list(run_ids) if totals.get(r["run_id"], {}).get("scored")}


def paired(store, base: dict, other: dict, categories_of) -> dict:
    """Δ accuracy of `other` against `base` on the questions both scored, overall and per category."""
    per_subject = store.paired_counts(base["run_id"], other["run_id"])
    by_cat: dict[str, list] = defaultdict(lambda: [0, 0, 0])
    total = [0, 0, 0]
    for subject, c in per_subject.items():
        for agg in [total] + [by_cat[cat] for cat in categories_of(subject)]:
            for i in range(3):
                agg[i] += c[i]

    def delta(n: int, rw: int, wr: int) -> dict:
        lo, hi = paired_diff_ci_counts(n, rw, wr)
        return {"questions": n, "delta": (wr - rw) / n if n else float("nan"), "ci95": [lo, hi],
                "right_to_wrong": rw, "wrong_to_right": wr, "mcnemar_p": mcnemar_exact(rw, wr)}

    return {**delta(*total), "categories": {c: delta(*v) for c, v in sorted(by_cat.items())}}


def versions(store, views: list[dict], with_records: bool) -> list[dict]:
    """Groups of runs that answered the same prompts (same benchmark and setting): accuracy against memory and
    speed with each point's Pareto status, and for a model with several variants the paired comparison of each
    variant against the first (unquantized where there is one) and its flipped questions."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for v in views:
        groups[(v["benchmark"], tuple(sorted(v["setting"].items(), key=lambda kv: kv[0])))].append(v)
    out = []
    for (bench, _), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
        spec = spec_of(bench)
        categories_of = spec.categories_of if spec else lambda s: []
        points = []
        for axis, key, sign in (("memory", "peak_memory_gb", 1), ("speed", "questions_per_s", -1)):
            pts = {v["run_id"]: (v["accuracy"]["overall"]["questions"]["acc"], sign * v["cost"][key])
                   for v in members if v["cost"].get(key)}
            points.append((axis, pareto(pts)))
        families = defaultdict(list)
        for v in members:
            families[v["model"]].append(v)
        pairs = []
        for model, fam in families.items():
            if len(fam) < 2:
                continue
            fam = sorted(fam, key=lambda v: (v["quant"] is not None, v["created_at"]))
            base = fam[0]
            for other in fam[1:]:
                p = paired(store, base, other, categories_of)
                p.update(base=base["run_id"], other=other["run_id"], base_label=base["label"],
                         label=other["label"])
                p["flips"] = _flip_sample(store, base["run_id"], other["run_id"], with_records)
                pairs.append(p)
        out.append({"benchmark": bench, "title": members[0]["title"], "setting": members[0]["setting"],
                    "runs": [v["run_id"] for v in members],
                    "dominated": {axis: d for axis, d in points}, "pairs": pairs})
    return out


def _flip_sample(store, base: str, other: str, with_records: bool) -> dict:
    out = {}
    for direction in ("right_to_wrong", "wrong_to_right"):
        rows = store.flips(base, other, direction, limit=FLIP_SAMPLE)
        out[direction] = [{"qid": a.qid, "subject": a.subject, "gold": a.gold, "base_pred": a.pred,
                           "pred": b.pred, **({"base_response": a.response, "response": b.response}
                                              if with_records else {})} for a, b in rows]
    return out


def gather(store, *, with_records: bool = False, catalog=None) -> dict:
    """Everything a report shows, from a handful of aggregate queries (and the catalog, when given)."""
    views = run_views(store)
    by_bench: dict[str, list[dict]] = defaultdict(list)
    for v in views.values():
        if catalog is not None:
            model = published.match(catalog, v["model"])
            v["catalog_key"], v["licence"] = (model.key, model.license_name) if model else (None, None)
        by_bench[v["benchmark"]].append(v)
    benchmarks = []
    for bench, vs in sorted(by_bench.items()):
        vs.sort(key=lambda v: -v["accuracy"]["overall"]["questions"]["acc"])
        cats = sorted({c for v in vs for c in v["accuracy"]["categories"]})
        of_model = {v["catalog_key"]: v for v in reversed(vs) if v.get("catalog_key")}
        benchmarks.append({"benchmark": bench, "title": vs[0]["title"], "runs": [v["run_id"] for v in vs],
                           "categories": cats,
                           "published": published.for_benchmark(catalog, bench, of_model) if catalog else []})
    data = {"generated_at": time.time(), "runs": views, "benchmarks": benchmarks,
            "versions": versions(store, list(views.values()), with_records), "with_records": with_records,
            "catalog": None}
    if catalog is not None:
        data["catalog"] = {"models": [published.model_facts(m) for m in catalog.models],
                           "fingerprint": catalog.fingerprint}
    if with_records:
        data["records"] = {rid: [r.to_dict() for r in store.records(rid)] for rid in views}
    return data
