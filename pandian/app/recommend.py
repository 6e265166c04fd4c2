"""Which model, in which precision, for a scenario under a GPU-memory and licence budget, and why.

Candidates are the catalog's checkpoints (each in the precisions it loads in) and the models measured on the
scenario's suite in the results store. A candidate is excluded, with the reason, when it is not publicly
evaluable, runs only behind a vendor's API (unless API models are asked for), fits the GPU in no precision, has a
licence that does not allow commercial use (when asked), has no evidence for the scenario, or was measured on the
suite without beating chance (its interval reaches what guessing scores on the same questions). The others are ranked
in tiers: measured suite scores first (complete suites, then partial ones), then the suite's published benchmarks
in the suite's order of preference; within a tier by score. Published numbers are labelled with their source and
setting, and with how far that setting is from the tier's usual one: they are never mixed with measured ones.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pandian.app.memory import memory_for
from pandian.app.suites import SuiteResult
from pandian.catalog import Catalog, Route, parse_setting
from pandian.core import fit
from pandian.core.suite import Suite

# Best fidelity first: the precision a checkpoint is recommended in is the first one that fits.
PRECISION_ORDER = ("bf16", "fp16", "fp8", "gptq-int8", "int8", "awq", "awq-int4", "gptq-int4", "int4")
COMMERCIAL_OK = ("yes", "application")


@dataclass
class Entry:
    checkpoint: str
    model_key: str | None
    how: str  # hub / adapter / manual / api / measured
    precision: str | None = None
    command: str | None = None
    memory: dict | None = None
    alternatives: list[dict] = field(default_factory=list)  # other precisions that fit
    licence: dict = field(default_factory=dict)
    evidence: dict | None = None
    api: bool = False  # answered through a vendor's or another server's API: no local GPU memory
    tier: tuple = ()
    rank: int | None = None
    reason: str = ""

    def to_dict(self) -> dict:
        return {"rank": self.rank, "checkpoint": self.checkpoint, "model_key": self.model_key, "how": self.how,
                "api": self.api,
                "precision": self.precision, "command": self.command, "memory": self.memory,
                "alternatives": self.alternatives, "licence": self.licence, "evidence": self.evidence,
                "reason": self.reason}


def _licence(catalog: Catalog, route: Route) -> dict:
    model = catalog.model(route.model_key)
    use = route.commercial or model.commercial_use
    return {"commercial_use": use or "not stated", "licence": model.license_name or "not stated",
            "checkpoint_override": bool(route.commercial)}


def _setting_key(catalog: Catalog, bench: str, setting: str) -> str:
    """Settings compared as their stated parts, a missing split read as the leaderboard's ("5-shot" of C-Eval is
    its "test 5-shot")."""
    split = (catalog.benchmarks.get(bench) or {}).get("leaderboard_split") or None
    return parse_setting(setting).comparable_key(split)


def _reference_settings(catalog: Catalog, benchmarks: list[str]) -> dict[str, str]:
    """The setting most sources use for each benchmark: the yardstick a tier's published numbers are read against."""
    out = {}
    for b in benchmarks:
        keys = Counter(_setting_key(catalog, b, s.setting) for s in catalog.scores(benchmark=b))
        out[b] = keys.most_common(1)[0][0] if keys else ""
    return out


def _usual_text(catalog: Catalog, bench: str, reference: dict) -> str:
    """The usual setting as its sources write it (the most common spelling)."""
    texts = Counter(s.setting for s in catalog.scores(benchmark=bench)
                    if _setting_key(catalog, bench, s.setting) == reference.get(bench))
    return texts.most_common(1)[0][0] if texts else ""


def _published(catalog: Catalog, suite: Suite, route: Route, precision: str, reference: dict) -> dict | None:
    for tier, bench in enumerate(suite.published + suite.published_proxy):
        rows = [s for s in catalog.scores(route.model_key, benchmark=bench)
                if catalog.same_variant(s.model_key, s.variant, route.checkpoint)]
        if not rows:
            continue
        key = {id(s): _setting_key(catalog, bench, s.setting) for s in rows}
        same = [s for s in rows if key[id(s)] == reference.get(bench)]
        chosen = same or [s for s in rows if key[id(s)] == Counter(key.values()).most_common(1)[0][0]]
        low = min(chosen, key=lambda s: s.score)
        values = sorted({s.score for s in chosen})
        usual = _usual_text(catalog, bench, reference)
        note = "" if same else f"setting '{low.setting or 'not stated'}' differs from the usual '{usual}'"
        if len(values) > 1:
            note = "; ".join(filter(None, [note, "sources disagree (" + ", ".join(
                f"{s.text} {s.source.short}" for s in chosen) + "): ranked by the lowest"]))
        return {"kind": "published", "benchmark": bench, "tier": tier, "proxy": bench in suite.published_proxy,
                "usual_setting": bool(same), "score": low.score, "setting": low.setting,
                "source": low.source.to_dict(), "all_values": values, "comparability": note or "the usual setting",
                "precision_note": "" if precision in ("bf16", "fp16") else
                f"published for the {route.checkpoint} weights; the {precision} variant's score is not published "
                f"(measure it: pandian compare)"}
    return None


def _measured(result: SuiteResult) -> dict:
    s = result.score
    return {"kind": "measured", "suite": result.suite, "score": s["score"], "ci95": s["ci95"],
            "chance": s.get("chance"), "questions": s["questions"], "runs": result.runs, "complete": result.complete,
            "missing_parts": result.missing}


def _at_chance(ev: dict) -> str:
    """Why a measured result is no evidence of ability: its interval reaches what guessing scores."""
    if ev.get("chance") is None or ev["ci95"][0] > ev["chance"]:
        return ""
    return (f"measured at chance: suite score {ev['score']:.1%} (95% CI {ev['ci95'][0]:.1%}-{ev['ci95'][1]:.1%}) "
            f"does not exceed the {ev['chance']:.1%} that guessing scores on the same questions "
            f"(runs {', '.join(ev['runs'].values())})")


def _evidence_text(ev: dict) -> str:
    if ev["kind"] == "measured":
        lo, hi = ev["ci95"]
        parts = "all parts" if ev["complete"] else f"partial: missing {', '.join(ev['missing_parts'])}"
        return (f"measured {ev['suite']} suite score {ev['score']:.1%} (95% CI {lo:.1%}-{hi:.1%}, "
                f"{ev['questions']} questions, {parts}; runs {', '.join(ev['runs'].values())})")
    proxy = "a general benchmark, a proxy: not specific to the scenario" if ev["proxy"] else ""
    extra = "; ".join(filter(None, [proxy, ev["comparability"], ev["precision_note"]]))
    return (f"published {ev['benchmark']} {ev['score']:g} ({ev['setting'] or 'setting not stated'}; "
            f"{ev['source']['repo']}:{ev['source']['path']}{' [' + ev['source']['table'] + ']' if ev['source']['table'] else ''}"
            f"; not measured by pandian{'; ' + extra if extra else ''})")


def _memory_text(entry: Entry, gpu_gb: float) -> str:
    if entry.memory is None:
        return "no local GPU memory (API)" if entry.api else "GPU memory not known (no config.json to estimate from)"
    m = entry.memory
    edge = "; borderline: within the estimate's ~10% scatter, try it" if m.get("borderline") else ""
    return f"{entry.precision} needs {m['gb']:.1f} of {gpu_gb:g} GB ({m['basis']}: {m['detail']}{edge})"


def _choose_precision(catalog: Catalog, route: Route, gpu_gb: float, context: int) -> tuple[str | None, list, str]:
    """(precision that fits best, [{precision, memory}] of every fitting one, why none fits)."""
    seen, fitting, smallest = set(), [], None
    ordered = sorted({p for p, _ in route.precisions},
                     key=lambda p: PRECISION_ORDER.index(p) if p in PRECISION_ORDER else len(PRECISION_ORDER))
    for p in ordered:
        if p in seen:
            continue
        seen.add(p)
        try:
            m = memory_for(catalog, route, p, context)
        except LookupError as e:
            return None, [], f"no memory figure: {e}"
        if smallest is None or m.gb < smallest[1].gb:
            smallest = (p, m)
        if m.gb <= gpu_gb:
            # within the estimator's ~10% scatter of the budget: it may or may not fit, try it
            fitting.append({"precision": p, "memory": {**m.to_dict(),
                                                       "borderline": gpu_gb - m.gb < fit.BORDERLINE * m.gb}})
    if fitting:
        return fitting[0]["precision"], fitting, ""
    if smallest is None:
        return None, [], "the catalog lists no precision it loads in"
    p, m = smallest
    return None, [], (f"does not fit {gpu_gb:g} GB in any precision: the smallest, {p}, needs {m.gb:.1f} GB "
                      f"({m.basis}: {m.detail})")


def _catalog_entry(catalog: Catalog, suite: Suite, route: Route, gpu_gb: float, context: int, commercial: bool,
                   include_api: bool, result: SuiteResult | None, reference: dict) -> Entry:
    """A catalog checkpoint as a candidate; its `reason` is set (and it is an exclusion) when it cannot be ranked."""
    entry = Entry(route.checkpoint, route.model_key, route.how, command=route.command, api=route.how == "api")
    if route.how == "none":
        entry.reason = f"not publicly evaluable: {route.note}"
        return entry
    entry.licence = _licence(catalog, route)
    if commercial and entry.licence["commercial_use"] not in COMMERCIAL_OK:
        entry.reason = f"licence: commercial use '{entry.licence['commercial_use']}' ({entry.licence['licence']})"
        return entry
    if route.how == "api":
        if not include_api:
            entry.reason = "API model: it runs on the vendor's servers, not on your GPU (--api includes it)"
            return entry
    else:
        entry.precision, entry.alternatives, why = _choose_precision(catalog, route, gpu_gb, context)
        if entry.precision is None:
            entry.reason = why
            return entry
        entry.memory = entry.alternatives[0]["memory"]
    entry.evidence = _measured(result) if result else _published(catalog, suite, route, entry.precision or "bf16",
                                                                  reference)
    if entry.evidence is None:
        looked = " / ".join(suite.published + suite.published_proxy) or "score"
        entry.reason = (f"no evidence for the {suite.name} scenario: no measured run of the suite and no "
                        f"published {looked} for {route.checkpoint}")
    elif entry.evidence["kind"] == "measured":
        entry.reason = _at_chance(entry.evidence)
    return entry


def _local_memory(model: str, gpu_gb: float, context: int) -> tuple[dict | None, str]:
    """A measured model that is a local directory: the `fit` estimate from its config.json, in bf16."""
    try:
        est = fit.estimate(fit.load_config(model), "bf16", context)
    except (FileNotFoundError, ValueError, KeyError):
        return None, ""
    memory = {"gb": est["total_gb"], "basis": "estimated", "detail": f"pandian fit on {model}/config.json, bf16",
              "source": None, "borderline": gpu_gb - est["total_gb"] < fit.BORDERLINE * est["total_gb"]}
    if est["total_gb"] > gpu_gb:
        return memory, f"does not fit {gpu_gb:g} GB: needs {est['total_gb']:.1f} GB in bf16 (pandian fit)"
    return memory, ""


def _measured_entry(catalog: Catalog, result: SuiteResult, gpu_gb: float, context: int, commercial: bool,
                    include_api: bool) -> Entry:
    """A model measured on the suite that is no catalog checkpoint (a local model, an endpoint, a fine-tune named
    with --catalog-key, whose licence is then its catalog model's)."""
    match = catalog.match(result.model, result.catalog_key) if result.catalog_key else None
    licence = ({"commercial_use": match.model.commercial_use or "not stated", "licence": match.model.license_name}
               if match else {"commercial_use": "unknown", "licence": "not a catalog model"})
    entry = Entry(result.model, match.model.key if match else None, "measured", licence=licence,
                  evidence=_measured(result), api=result.api)
    if commercial and licence["commercial_use"] not in COMMERCIAL_OK:
        entry.reason = ("licence unknown: not a catalog model (pass --catalog-key when it is one)" if not match else
                        f"licence: commercial use '{licence['commercial_use']}' ({licence['licence']})")
    elif result.api and not include_api:
        entry.reason = "API model: no local GPU figure (--api includes it)"
    else:
        entry.memory, entry.reason = _local_memory(result.model, gpu_gb, context) if not result.api else (None, "")
        entry.reason = entry.reason or _at_chance(entry.evidence)
    return entry


def recommend(catalog: Catalog, suite: Suite, gpu_gb: float, *, commercial: bool = False,
              include_api: bool = False, context: int = fit.DEFAULT_CONTEXT,
              measured: list[SuiteResult] = ()) -> dict:
    reference = _reference_settings(catalog, suite.published + suite.published_proxy)
    by_route: dict[tuple, SuiteResult] = {}
    unmatched = []
    for result in measured:
        if result.score is None:
            continue
        match = catalog.match(result.model, result.catalog_key)
        if match and match.route:
            by_route.setdefault((match.route.model_key, match.route.checkpoint), result)
        else:
            unmatched.append(result)
    entries = [_catalog_entry(catalog, suite, route, gpu_gb, context, commercial, include_api,
                              by_route.get((model.key, route.checkpoint)), reference)
               for model in catalog.models for route in model.routes]
    entries += [_measured_entry(catalog, r, gpu_gb, context, commercial, include_api) for r in unmatched]
    ranked = [e for e in entries if not e.reason]
    excluded = [e for e in entries if e.reason]
    for e in ranked:
        ev = e.evidence
        # published: the suite's order of benchmarks, and within one the usual setting before the others
        e.tier = (0 if ev["complete"] else 1, 0, 0) if ev["kind"] == "measured" else \
            (2, ev["tier"], 0 if ev["usual_setting"] else 1)
    ranked.sort(key=lambda e: (e.tier, -e.evidence["score"]))
    for i, e in enumerate(ranked, start=1):
        e.rank = i
        tier = ("measured suite results" if e.tier[0] < 2 else f"published {e.evidence['benchmark']}"
                + (" (proxy)" if e.evidence["proxy"] else "")
                + (" in its usual setting" if e.evidence["usual_setting"] else " in another setting"))
        e.reason = (f"#{i}, ranked among the candidates with {tier}: {_evidence_text(e.evidence)}; "
                    f"{_memory_text(e, gpu_gb)}; commercial use: {e.licence.get('commercial_use')}")
    return {"scenario": suite.name, "title": suite.title, "gpu_gb": gpu_gb, "commercial": commercial,
            "api": include_api, "context": context, "catalog": catalog.fingerprint,
            "tiers": ["measured suite (complete)", "measured suite (partial)"]
            + [f"published {b}{', a general proxy' if b in suite.published_proxy else ''}: the usual setting "
               f"('{_usual_text(catalog, b, reference)}'), then the others"
               for b in suite.published + suite.published_proxy],
            "waiting": [w.model_dump() for w in suite.waiting],
            "ranked": [e.to_dict() for e in ranked], "excluded": [e.to_dict() for e in excluded]}
