"""Published facts from the catalog as the report and the web app show them: every number with its source.

Source links are kept only when they are http(s) addresses; any other text shows as text.
"""

from __future__ import annotations

from functools import lru_cache

from pandian.catalog import Catalog, parse_setting, setting_differences


def safe_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def source_of(source) -> dict:
    return {"text": source.short, "url": safe_url(source.url)}


def kind_of(model) -> str:
    return "open" if model.open_weights in ("yes", "partial") else "api"


def model_facts(model) -> dict:
    """A catalog model line for a table: its names, licence and sources (each a link where it is one)."""
    return {"key": model.key, "name": f"{model.name_zh} {model.name_en}".strip(), "org": model.org,
            "open_weights": model.open_weights, "licence": model.license_name, "commercial": model.commercial_use,
            "context": model.context_length, "sizes": model.sizes, "domain": model.domain, "release": model.release,
            "sources": [source_of(s) for s in model.sources]}


def _memory(catalog: Catalog, model_key: str, variant: str) -> tuple[float | None, str | None]:
    """The smallest published inference memory figure of a variant, and what it is (precision, source)."""
    figures = [r for r in catalog.resources(model_key, variant=variant) if r.inference and r.gpu_memory_gb]
    if not figures:
        return None, None
    best = min(figures, key=lambda r: r.gpu_memory_gb)
    return best.gpu_memory_gb, f"published {best.precision}: {best.setting} ({best.source.short})"


@lru_cache(maxsize=4)
def published_rows(catalog: Catalog) -> tuple[dict, ...]:
    """One leaderboard row per published overall score (category sub-scores are left to the report's tables).
    `benchmark` is the pandian spec measuring it where there is one, so that measured and published rows of one
    benchmark sort together."""
    rows = []
    for s in catalog.scores():
        if s.part is not None:
            continue
        model = catalog.model(s.model_key) if not s.model_key.startswith("ext:") else None
        spec = catalog.spec_for(s.benchmark)
        memory, memory_kind = _memory(catalog, s.model_key, s.variant) if model else (None, None)
        src = source_of(s.source)
        rows.append({"source": "published", "run_id": None, "model": s.variant, "label": s.variant,
                     "model_key": s.model_key, "variant": "", "benchmark": spec or s.benchmark,
                     "title": s.benchmark, "setting": s.setting, "accuracy": s.score, "ci95": None,
                     "questions": None, "subject_mean": None, "memory": memory, "memory_kind": memory_kind,
                     "speed": None, "kind": kind_of(model) if model else "reference",
                     "licence": model.license_name if model else None, "created": None,
                     "source_text": src["text"], "url": src["url"]})
    return tuple(rows)


@lru_cache(maxsize=256)
def match(catalog: Catalog, model_ref: str):
    """The catalog model of a run's model reference, or None."""
    m = catalog.match(model_ref)
    return m.model if m else None


def for_benchmark(catalog: Catalog, spec_name: str, view_of_model: dict[str, dict]) -> list[dict]:
    """Published overall scores of the benchmarks a spec measures, best first, each with its source and, for a
    model that has a measured run here, why the two numbers may differ (shots, split, prompts)."""
    out = []
    for row in catalog.benchmarks_for_spec(spec_name):
        for s in catalog.scores(benchmark=row["benchmark"]):
            src = source_of(s.source)
            entry = {"label": s.variant, "model_key": s.model_key, "score": s.score, "setting": s.setting,
                     "source": src["text"], "url": src["url"], "differences": []}
            view = view_of_model.get(s.model_key)
            if view:
                st = view["setting"]
                entry["differences"] = setting_differences(
                    parse_setting(s.setting), shots=st["shots"], split=st["split"],
                    prompt_format=st["prompt_format"], default_split=row.get("leaderboard_split") or None)
                entry["measured_run"] = view["run_id"]
            out.append(entry)
    return sorted(out, key=lambda e: -e["score"])
