"""What each page and API route shows, as plain data computed from the store's aggregates and the catalog.

The leaderboard reads per-subject counts (one GROUP BY), never the records; a run's questions are read one page at
a time; a comparison reads paired counts and one page of flipped questions. A run of 100k records costs the
database an index scan per page, not a transfer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pandian.core.spec import builtin_names

from pandian.report import published, survey

PER_PAGE = 50     # questions per drill-down page
BOARD_PAGE = 100  # leaderboard rows per page
SPECS = set(builtin_names())
SORTS = ("model", "benchmark", "accuracy", "subject_mean", "questions", "memory", "speed", "created")


@dataclass
class Filters:
    benchmark: str = ""
    source: str = ""         # measured, published or all ("": measured when the store has runs)
    kind: str = ""           # open (local weights) or api
    licence: str = ""        # substring of the catalog's licence name
    gpu: float | None = None  # GB: only rows whose memory figure fits
    q: str = ""              # substring of the model name
    sort: str = "accuracy"
    order: str = "desc"


def measured_rows(store, catalog=None, run_ids: list[str] | None = None) -> list[dict]:
    rows = []
    for v in survey.run_views(store, run_ids, mean_ci="none").values():
        q, m = v["accuracy"]["overall"]["questions"], v["accuracy"]["overall"]["subject_mean"]
        rows.append({"source": "measured", "run_id": v["run_id"], "model": v["model"], "label": v["label"],
                     "variant": v["variant"], "benchmark": v["benchmark"], "title": v["title"],
                     "setting": f"{v['setting']['shots']}-shot, {v['setting']['prompt_format']}, "
                                f"{v['setting']['scoring']}",
                     "accuracy": _pct(q["acc"]), "ci95": [_pct(c) for c in q["ci95"]], "questions": q["n"],
                     "subject_mean": _pct(m["acc"]), "memory": v["cost"].get("peak_memory_gb"),
                     "memory_kind": v["cost"].get("memory_kind"), "speed": v["cost"].get("questions_per_s"),
                     "kind": "api" if v["api"] else "open", "licence": None, "created": v["created_at"],
                     "source_text": None, "url": None})
    if catalog is not None:
        for r in rows:
            model = published.match(catalog, r["model"])
            r["licence"] = model.license_name if model else None
    return rows


def _pct(x) -> float | None:
    return None if x is None or math.isnan(x) else round(100 * x, 2)


def leaderboard(store, catalog, f: Filters, page: int = 1) -> dict:
    """Measured and published rows, filtered, sorted (rows without the sorted value last) and one page of them.
    With no `source` chosen it shows the measured rows when the store has any, else the published ones."""
    measured = measured_rows(store, catalog)
    pub = list(published.published_rows(catalog)) if catalog else []
    if f.source not in ("measured", "published", "all"):
        f = replace(f, source="measured" if measured else "published")
    rows = measured + pub
    titles: dict[str, str] = {}
    for r in rows:  # a measured run's spec title wins over a published table's spelling
        titles.setdefault(r["benchmark"], r["title"])
    facets = {"benchmarks": sorted(titles.items(), key=lambda kv: (kv[0] not in SPECS, kv[1].lower())),
              "measured": len(measured), "published": len(pub)}
    keep = [r for r in rows if _match(r, f)]
    key = f.sort if f.sort in SORTS else "accuracy"
    present = [r for r in keep if r[key] is not None]
    present.sort(key=lambda r: (r[key].lower() if isinstance(r[key], str) else r[key]), reverse=f.order == "desc")
    ordered = present + [r for r in keep if r[key] is None]
    p = page_of(len(ordered), page, BOARD_PAGE)
    return {**p, "rows": ordered[p["offset"]:p["offset"] + BOARD_PAGE], "total": len(rows),
            "total_shown": len(ordered), "facets": facets, "filters": f}


def _match(r: dict, f: Filters) -> bool:
    if f.benchmark and r["benchmark"] != f.benchmark:
        return False
    if f.source in ("measured", "published") and r["source"] != f.source:
        return False
    if f.kind and r["kind"] != f.kind:
        return False
    if f.licence and f.licence.lower() not in (r["licence"] or "").lower():
        return False
    if f.gpu is not None and (r["memory"] is None or r["memory"] > f.gpu):
        return False
    return not f.q or f.q.lower() in (r["model"] + " " + r["label"]).lower()


def run_detail(store, run_id: str) -> dict | None:
    run = store.run(run_id)
    if run is None:
        return None
    counts, totals = store.subject_counts([run_id])
    view = survey.run_view(run, counts.get(run_id, {}), totals.get(run_id, {}), store.run_costs([run_id])
                           .get(run_id, []), mean_ci="overall")
    return {**view, "config": run["config"], "versions": run["versions"], "subjects": sorted(counts.get(run_id, {})),
            "peers": _peers(store, run)}


def _peers(store, run: dict) -> list[dict]:
    """Other runs on the same benchmark: candidates to compare with."""
    return [{"run_id": r["run_id"], "model": r["model"], "label": survey.variant_tag(r["config"])}
            for r in store.run_list() if r["benchmark"] == run["benchmark"] and r["run_id"] != run["run_id"]]


def page_of(total: int, page: int, per_page: int = PER_PAGE) -> dict:
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    return {"page": page, "pages": pages, "total": total, "per_page": per_page, "offset": (page - 1) * per_page}


def paged(fetch, page: int) -> tuple[dict, list]:
    """fetch(offset, limit) -> (total, rows); a page past the end shows the last one."""
    total, rows = fetch((max(1, page) - 1) * PER_PAGE, PER_PAGE)
    p = page_of(total, page)
    if p["page"] != max(1, page):
        total, rows = fetch(p["offset"], PER_PAGE)
    return p, rows


def records(store, run_id: str, *, outcome: str = "", subject: str = "", search: str = "", page: int = 1) -> dict:
    p, recs = paged(lambda offset, limit: store.record_page(
        run_id, outcome=outcome or None, subject=subject or None, search=search or None, offset=offset,
        limit=limit), page)
    return {**p, "records": [survey.finite(r.to_dict()) for r in recs]}


def compare(store, run_ids: list[str], direction: str, page: int) -> dict:
    """The first run is the baseline; every other one gets paired deltas and its flipped questions."""
    runs = [store.run(r) for r in run_ids]
    missing = [r for r, run in zip(run_ids, runs) if run is None]
    if missing:
        return {"error": f"no stored run {', '.join(missing)}"}
    if len({r["benchmark"] for r in runs}) != 1:
        return {"error": "the runs are on different benchmarks; compare runs of one benchmark"}
    spec = survey.spec_of(runs[0]["benchmark"])
    categories_of = spec.categories_of if spec else lambda s: []
    by_id = survey.run_views(store, run_ids, mean_ci="none")
    unscored = [r for r in run_ids if r not in by_id]
    if unscored:
        return {"error": f"run {', '.join(unscored)} has no scored record"}
    views = [by_id[r] for r in run_ids]
    base = views[0]
    others = []
    for v in views[1:]:
        paired = survey.paired(store, base, v, categories_of)
        p, flips = paged(lambda offset, limit: (paired[direction], store.flips(
            base["run_id"], v["run_id"], direction, offset=offset, limit=limit)), page)
        others.append({"view": v, "paired": paired, "flips": {
            **p, "rows": [(survey.finite(a.to_dict()), survey.finite(b.to_dict())) for a, b in flips]}})
    return {"base": base, "others": others, "direction": direction}


def model_page(store, catalog, name: str) -> dict:
    """A model reference (a run's --model) or a published variant name: its runs, published scores and facts."""
    rows = [r for r in measured_rows(store, catalog) if r["model"] == name]
    pub = [r for r in (published.published_rows(catalog) if catalog else ()) if r["model"] == name]
    model = None
    if catalog is not None:
        key = pub[0]["model_key"] if pub else None
        model = catalog.model(key) if key and not key.startswith("ext:") else published.match(catalog, name)
    return {"name": name, "measured": rows, "published": pub,
            "facts": published.model_facts(model) if model else None}


def question(store, run_id: str, qid: str, prompts) -> dict | None:
    """One question of a run: its record, what the model was shown (re-rendered and checked against the record's
    prompt hash, when the benchmark's files are at hand), and the same question in the benchmark's other runs."""
    run, rec = store.run(run_id), store.record(run_id, qid)
    if run is None or rec is None:
        return None
    peers = [p["run_id"] for p in _peers(store, run)]
    others = [{"run_id": rid, "record": survey.finite(r.to_dict())}
              for rid, r in store.record_in_runs(qid, peers).items()]
    return {"run": {"run_id": run_id, "model": run["model"], "benchmark": run["benchmark"],
                    "variant": survey.variant_tag(run["config"])}, "record": survey.finite(rec.to_dict()),
            "prompt": prompt_of(rec, _shown(prompts, run_id, qid)), "others": others}


def _shown(prompts, run_id: str, qid: str):
    if prompts is None:
        return None
    try:
        return prompts(run_id, qid)
    except (ValueError, OSError, KeyError) as e:  # data moved or changed, a spec no longer valid: say so
        return e


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def prompt_of(rec, shown) -> dict:
    """The prompt section of a question page. shown: the re-rendered prompt, an exception saying why there is
    none, or None (no re-rendering offered)."""
    n = len(rec.logprobs or [])
    letters = list(LETTERS[:n]) if n and {rec.pred, rec.gold} & set(LETTERS[:n]) else None
    out = {"available": False, "hash": rec.prompt_hash, "text": None, "continuations": None, "labels": letters,
           "verified": False, "note": "", "why": "this server re-renders no prompts"}
    if isinstance(shown, Exception):
        out["why"] = f"not re-rendered: {shown}"
    elif shown is not None:
        out.update(available=True, text=shown.text, continuations=list(shown.continuations) or None,
                   verified=shown.verified, note=shown.note)
    return out
