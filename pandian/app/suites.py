"""Scenario suites over stored runs: running a suite's parts, and reading a model's suite result from the store.

A stored run counts as a suite part when it is that part's benchmark with the part's shots, split and prompt format;
its records are restricted to the part's subjects. The suite score (core/suite.py) is the mean of the parts'
accuracies over the questions measured; a part without a run leaves the suite incomplete, and says so. Beside it,
the chance level: what guessing scores on the same questions, aggregated the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from pandian.app.lifecycle import read_split
from pandian.core.data import DataError
from pandian.core.spec import SpecError, load_spec
from pandian.core.suite import Part, Suite, suite_score
from pandian.store import ResultStore


def part_key(suite: Suite, index: int) -> str:
    """A label unique within the suite: the benchmark, with its position when a benchmark appears twice."""
    part = suite.parts[index]
    same = [i for i, p in enumerate(suite.parts) if p.bench == part.bench]
    return part.label if len(same) == 1 else f"{part.label} #{same.index(index) + 1}"


def run_matches(part: Part, config: dict, spec=None) -> bool:
    """Is a run with this config the part's benchmark in the part's setting? (spec: the part's, when loaded)"""
    spec = spec or load_spec(part.bench)
    return (config.get("benchmark") == spec.name and config.get("shots") == part.shots
            and config.get("split") == (part.split or spec.splits.eval)
            and config.get("prompt_format") == (part.prompt_format or spec.default_prompt))


@dataclass
class SuiteResult:
    suite: str
    model: str
    runs: dict[str, str]  # part label -> run id
    missing: list[str]  # part labels without a run
    api: bool  # the model answered through an API (its runs have a base URL)
    catalog_key: str | None  # the --catalog-key its runs were made with
    score: dict | None  # core.suite.suite_score of the parts measured
    outcomes: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict, repr=False)  # part -> records

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict:
        return {"suite": self.suite, "model": self.model, "api": self.api, "catalog_key": self.catalog_key,
                "complete": self.complete, "runs": self.runs,
                "missing": self.missing, "score": self.score}


def _part_records(store: ResultStore, part: Part, run_id: str) -> list[tuple[str, str, int]]:
    keep = set(part.subjects) if part.subjects else None
    return [o for o in store.outcomes(run_id) if keep is None or o[1] in keep]


def _chance(part: Part, config: dict, qids: list[str], cache: dict) -> float | None:
    """The part's accuracy by guessing: the mean over its measured questions of 1 / the number of answers the
    scoring allows (k choices; 2^k - 1 sets for a multi-select question). None when the run's data folder is no
    longer readable, or the run recorded none (then the data is not looked for elsewhere, e.g. on the hub)."""
    key = (part.bench, config.get("data_dir"), config.get("split"), tuple(part.subjects or ()))
    if key not in cache and not config.get("data_dir"):
        cache[key] = {}
    if key not in cache:
        try:
            split = read_split(load_spec(part.bench), Path(config["data_dir"]), config.get("split"),
                               part.subjects)
            cache[key] = {q.qid: 1 / (2 ** len(q.choices) - 1 if q.multi else len(q.choices))
                          for q in split.questions if q.choices}
        except (SpecError, DataError):
            cache[key] = {}
    odds = [cache[key][q] for q in qids if q in cache[key]]
    return sum(odds) / len(odds) if odds and len(odds) == len(qids) else None


def suite_results(store: ResultStore, suite: Suite, model: str | None = None) -> list[SuiteResult]:
    """One result per model with at least one part stored (the latest run per part), complete ones first."""
    by_model: dict[str, dict[int, dict]] = defaultdict(dict)
    specs = [load_spec(part.bench) for part in suite.parts]
    for run in store.run_list():
        if model is not None and run["model"] != model:
            continue
        for i, part in enumerate(suite.parts):
            if run_matches(part, run["config"], specs[i]):
                prev = by_model[run["model"]].get(i)
                if prev is None or run["created_at"] > prev["created_at"]:
                    by_model[run["model"]][i] = run
    out, cache = [], {}
    for name, parts in by_model.items():
        runs, counts, outcomes, chance = {}, {}, {}, []
        for i, run in sorted(parts.items()):
            label = part_key(suite, i)
            recs = _part_records(store, suite.parts[i], run["run_id"])
            if recs:
                runs[label] = run["run_id"]
                outcomes[label] = recs
                counts[label] = (sum(c for _, _, c in recs), len(recs))
                chance.append(_chance(suite.parts[i], run["config"], [q for q, _, _ in recs], cache))
        missing = [part_key(suite, i) for i in range(len(suite.parts)) if part_key(suite, i) not in runs]
        api = any(run["config"].get("base_url") for run in parts.values())
        score = suite_score(counts) if counts else None
        if score is not None:  # the level a guesser reaches, aggregated like the score (mean of parts)
            score["chance"] = sum(chance) / len(chance) if chance and None not in chance else None
        key = next((r["config"]["catalog_key"] for r in parts.values() if r["config"].get("catalog_key")), None)
        out.append(SuiteResult(suite.name, name, runs, missing, api, key, score, outcomes))
    return sorted(out, key=lambda r: (not r.complete, -(r.score or {}).get("score", 0)))


def part_options(base, part: Part):
    """EvalOptions for one part: the user's options with the part's subjects, shots, split and prompt format."""
    return replace(base, shots=part.shots, subjects=list(part.subjects) if part.subjects else None,
                   split=part.split, prompt_format=part.prompt_format)


def run_suite(backend, suite: Suite, base_opts, store: ResultStore, run_part) -> SuiteResult:
    """Evaluate every part (run_part(backend, spec, opts, store) runs one, e.g. with a progress bar) and return the
    suite result of this model from the store: parts already stored are reused, not recomputed."""
    for part in suite.parts:
        run_part(backend, load_spec(part.bench), part_options(base_opts, part), store)
    results = suite_results(store, suite, model=backend.name)
    return results[0]


def check_parts(suite: Suite, base_opts, ref: str, model_opts, out=None) -> list[str]:
    """Every part checked as one benchmark is (validate.check_eval: options, model files, data, shots, templates,
    output) before a model loads; returns the warnings, each once."""
    from pandian.app.validate import check_eval

    warnings: list[str] = []
    for part in suite.parts:
        for w in check_eval(ref, model_opts, load_spec(part.bench), part_options(base_opts, part), out).warnings:
            if w not in warnings:
                warnings.append(w)
    return warnings