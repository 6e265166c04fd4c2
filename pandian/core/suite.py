"""Scenario suites: a named set of benchmark parts (a spec, optionally some of its subjects, a shot count) scored as one.

Suite score = the mean of the parts' accuracies (each part's accuracy pools its questions), so that a benchmark with
6,000 questions counts as much as one with 600. Its 95% interval is a stratified bootstrap over questions: each
part's questions are resampled within the part, which for right/wrong outcomes is a binomial draw per part
(`metrics.subject_mean_ci`). A suite is a YAML file in pandian/suites/ (or a path); adding one is adding a file.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .metrics import subject_mean_ci, wilson
from .locate import line_of, located
from .spec import SpecError, load_spec

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Part(_Strict):
    bench: str  # a built-in benchmark spec
    subjects: list[str] | None = None  # None: all of the spec's subjects
    shots: int = Field(0, ge=0)
    split: str | None = None
    prompt_format: str | None = None

    @property
    def label(self) -> str:
        return self.bench if not self.subjects else f"{self.bench} ({len(self.subjects)} subjects)"


class Waiting(_Strict):
    what: str
    why: str


class Suite(_Strict):
    name: str
    title: str
    description: str
    language: str
    parts: list[Part] = Field(min_length=1)
    # published benchmark names (scores.csv) a recommendation falls back on, in order of preference; then the
    # proxies: general benchmarks, labelled as not specific to the scenario
    published: list[str] = Field(default_factory=list)
    published_proxy: list[str] = Field(default_factory=list)
    waiting: list[Waiting] = Field(default_factory=list)  # parts not runnable yet, and why


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = SUITES_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise SpecError(f"unknown suite '{name_or_path}': built-in suites are {', '.join(builtin_suites())}; "
                            "or pass a suite .yaml")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
        suite = Suite.model_validate(raw if isinstance(raw, dict) else {})
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    except ValidationError as e:
        err = e.errors()[0]
        raise SpecError(f"{located(path, text, err['loc'])}: {err['msg']}") from None
    for i, part in enumerate(suite.parts):
        where = f"{path}, line {line_of(text, ('parts', i))}, part '{part.bench}'"
        try:
            spec = load_spec(part.bench)
        except SpecError as e:
            raise SpecError(f"{where}: {e}") from None
        unknown = sorted(set(part.subjects or []) - set(spec.subjects or {}))
        if unknown:
            raise SpecError(f"{where}: {spec.name} has no subject(s) {', '.join(unknown)}")
        if part.shots and not spec.splits.fewshot:
            raise SpecError(f"{where}: {spec.name} has no few-shot split; use shots: 0")
    return suite


def suite_score(parts: dict[str, tuple[int, int]]) -> dict:
    """parts: label -> (correct, questions). The mean of the parts' accuracies with its bootstrap 95% interval,
    and each part's accuracy with a Wilson interval."""
    counts = {k: v for k, v in parts.items() if v[1] > 0}
    accs = [k / n for k, n in counts.values()]
    lo, hi = subject_mean_ci(list(counts.values()))
    return {
        "score": sum(accs) / len(accs) if accs else float("nan"),
        "ci95": [lo, hi],
        "aggregation": "mean of the parts' accuracies; 95% CI: bootstrap of questions within each part",
        "questions": sum(n for _, n in counts.values()),
        "parts": {k: {"correct": c, "n": n, "acc": c / n, "ci95": list(wilson(c, n))} for k, (c, n) in counts.items()},
    }
