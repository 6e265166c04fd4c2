"""A model's strengths and weaknesses from its stored runs (core/strengths.py does the statistics), and, kept apart,
the published scores of the catalog checkpoint it is, labelled as published with their sources."""

from __future__ import annotations

from dataclasses import dataclass

from pandian.catalog import load_catalog
from pandian.core.spec import SpecError, load_spec
from pandian.core.strengths import RunOutcomes, Statement, profile
from pandian.store import ResultStore

# Runs are comparable peers when everything but the model is the same.
PEER_KEYS = ("benchmark", "spec_hash", "data", "split", "prompt_format", "shots", "scoring")


def _peer_key(config: dict) -> tuple:
    return tuple(config.get(k) for k in PEER_KEYS)


@dataclass
class Profile:
    model: str
    runs: list[dict]
    by: str
    statements: list[Statement]
    published: list[dict]
    catalog_key: str | None

    def to_dict(self) -> dict:
        return {"model": self.model, "by": self.by, "catalog_key": self.catalog_key,
                "runs": self.runs,
                "strengths": [s.to_dict() for s in self.statements if s.kind == "strength"],
                "weaknesses": [s.to_dict() for s in self.statements if s.kind == "weakness"],
                "no_measurable_difference": [s.to_dict() for s in self.statements if s.kind == "none"],
                "published": self.published}


def latest_runs(runs: list[dict], model: str) -> list[dict]:
    """A model's runs as `pandian profile MODEL` reads them: the latest per benchmark configuration (runs in
    creation order, as store.run_list() gives them)."""
    latest: dict[tuple, dict] = {}
    for r in runs:
        if r["model"] == model:
            latest[_peer_key(r["config"])] = r  # the last one wins
    return list(latest.values())


def resolve_runs(store: ResultStore, refs: list[str]) -> tuple[str, list[dict]]:
    """Run-id prefixes, or one model name: all of its runs (the latest per benchmark configuration)."""
    runs = store.run_list()
    chosen = []
    for ref in refs:
        by_id = [r for r in runs if r["run_id"].startswith(ref)]
        if len(by_id) > 1:
            raise SpecError(f"run id prefix '{ref}' is ambiguous: {', '.join(r['run_id'] for r in by_id)}")
        chosen += by_id
    if not chosen:
        if len(refs) != 1:
            raise SpecError(f"no stored run matches {', '.join(refs)}; `pandian runs` lists them")
        chosen = latest_runs(runs, refs[0])
        if not chosen:
            raise SpecError(f"no stored run of model '{refs[0]}' and no run id starting with it; "
                            "`pandian runs` lists them")
    models = {r["model"] for r in chosen}
    if len(models) > 1:
        raise SpecError(f"the runs are of several models ({', '.join(sorted(models))}): profile one model at a time")
    return models.pop(), chosen


def _outcomes(store: ResultStore, run: dict, cache: dict) -> RunOutcomes:
    """A run's scored outcomes, read once per cache (a report profiles every model against the same peers)."""
    if run["run_id"] not in cache:
        rows = store.outcomes(run["run_id"])
        cache[run["run_id"]] = RunOutcomes(run["run_id"], run["model"], run["benchmark"], {q: c for q, _, c in rows},
                                           {q: s for q, s, _ in rows})
    return cache[run["run_id"]]


def build_profile(store: ResultStore, refs: list[str], *, by: str = "subject", peers: bool = True,
                  catalog_key: str | None = None, alpha: float = 0.05, cache: dict | None = None) -> Profile:
    """cache: run id -> outcomes already read, shared by the calls that profile several models of one store."""
    if by not in ("subject", "category"):
        raise SpecError("--by must be subject or category")
    cache = {} if cache is None else cache
    model, runs = resolve_runs(store, refs)
    mine = [_outcomes(store, r, cache) for r in runs]
    peer_runs: dict[str, list[RunOutcomes]] = {}
    if peers:
        everything = store.run_list()
        for run in runs:
            key = _peer_key(run["config"])
            latest = {}
            for other in everything:
                if other["model"] != model and _peer_key(other["config"]) == key:
                    latest[other["model"]] = other
            if latest:
                peer_runs[run["run_id"]] = [_outcomes(store, o, cache) for o in latest.values()]
    specs = {r["benchmark"]: load_spec(r["benchmark"]) for r in runs if _is_builtin(r["benchmark"])}

    def area_of(benchmark: str, subject: str) -> list[str]:
        spec = specs.get(benchmark)
        if by == "category" and spec and spec.categories_of(subject):
            return spec.categories_of(subject)
        return [subject]

    statements = profile(mine, peer_runs, area_of, alpha=alpha)
    summary = [{"run_id": r["run_id"], "benchmark": r["benchmark"], "questions": len(o.correct),
                "shots": r["config"].get("shots"), "peers": [p.run_id for p in peer_runs.get(r["run_id"], [])]}
               for r, o in zip(runs, mine)]
    key, published = _published(model, runs, catalog_key)
    return Profile(model, summary, by, statements, published, key)


def _is_builtin(name: str) -> bool:
    try:
        load_spec(name)
        return True
    except SpecError:
        return False


def _published(model: str, runs: list[dict], catalog_key: str | None) -> tuple[str | None, list[dict]]:
    """Published scores of the catalog checkpoint this model is, on the benchmarks it was run on."""
    cat = load_catalog()
    match = cat.match(model, catalog_key)
    if match is None:
        return None, []
    specs = {r["benchmark"] for r in runs}
    out = []
    for s in cat.scores(match.model.key):
        if cat.spec_for(s.benchmark) in specs and (match.route is None
                                                   or cat.same_variant(s.model_key, s.variant,
                                                                       match.route.checkpoint)):
            out.append({"label": "published", **s.to_dict()})
    return match.model.key, out
