"""Reading the catalog's CSV files into records, with an error naming file, line and column for every bad cell.

models.csv, scores.csv, resources.csv and NOTES.md are the survey's reference files as published (each number with
its source); evaluation.csv (how pandian evaluates each model), variant_aliases.csv (spellings that name the same
checkpoint) and benchmarks.csv (published benchmark names -> pandian specs) are pandian's own, reviewed the same way.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pandian.core.errors import InputError

from .facts import Model, Resource, Route, Score, Source
from .names import spelling_key

DATA_DIR = Path(__file__).parent / "data"
CONFIG_DIR = Path(__file__).parent / "configs"

OPEN_WEIGHTS = {"yes", "no", "partial"}
COMMERCIAL = {"yes", "no", "application", "unclear", ""}
HOW = {"hub", "api", "adapter", "manual", "none"}
BACKENDS = {"hf", "vllm", "llamacpp", "openai", ""}
KINDS = {"base", "chat"}

MODEL_COLUMNS = ["key", "name_zh", "name_en", "org", "open_weights", "hf_repo_id", "sizes", "variants",
                 "license_name", "commercial_use", "context_length", "domain", "release", "successor", "source"]
SCORE_COLUMNS = ["model_key", "variant", "benchmark", "split/setting", "score", "source"]
RESOURCE_COLUMNS = ["model_key", "variant", "precision", "gpu_memory_gb", "raw_value", "setting", "source"]
ROUTE_COLUMNS = ["model_key", "how", "checkpoint", "target", "base", "backend", "params_b", "kind", "precisions",
                 "flags", "config", "commercial", "note"]
ALIAS_COLUMNS = ["model_key", "alias", "variant", "reason"]
BENCHMARK_COLUMNS = ["benchmark", "spec", "leaderboard_split", "measured_as", "note"]


class CatalogError(InputError):
    pass


def read_rows(path: Path, columns: list[str]) -> list[tuple[int, dict]]:
    """(line number, row) pairs; the header must hold exactly `columns`, in order."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise CatalogError(f"{path}, line 1: columns are {reader.fieldnames}, expected {columns}")
        rows = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise CatalogError(f"{path}, line {reader.line_num}: expected {len(columns)} cells")
            rows.append((reader.line_num, {k: v.strip() for k, v in row.items()}))
        return rows


def _bad(path: Path, line: int, column: str, why: str) -> CatalogError:
    return CatalogError(f"{path}, line {line}, column '{column}': {why}")


def _number(path: Path, line: int, column: str, text: str, *, optional: bool) -> float | None:
    if text == "" and optional:
        return None
    try:
        return float(text)
    except ValueError:
        raise _bad(path, line, column, f"'{text}' is not a number") from None


def _source(path: Path, line: int, text: str) -> Source:
    if not text:
        raise _bad(path, line, "source", "every published number needs a source")
    return Source.parse(text)


def _known(path: Path, line: int, key: str, models: set[str]) -> None:
    if key not in models and not key.startswith("ext:"):
        raise _bad(path, line, "model_key", f"'{key}' is not a key of models.csv (reference models use ext:NAME)")


def read_models(path: Path) -> list[Model]:
    models, seen = [], set()
    for line, r in read_rows(path, MODEL_COLUMNS):
        if not r["key"] or r["key"] in seen:
            raise _bad(path, line, "key", f"'{r['key']}' is empty or repeated")
        if r["open_weights"] not in OPEN_WEIGHTS:
            raise _bad(path, line, "open_weights", f"'{r['open_weights']}' is not one of {sorted(OPEN_WEIGHTS)}")
        if r["commercial_use"] not in COMMERCIAL:
            raise _bad(path, line, "commercial_use", f"'{r['commercial_use']}' is not one of {sorted(COMMERCIAL)}")
        seen.add(r["key"])
        models.append(Model(line=line, **r))
    return models


def read_scores(path: Path, models: set[str]) -> list[Score]:
    out = []
    for line, r in read_rows(path, SCORE_COLUMNS):
        _known(path, line, r["model_key"], models)
        out.append(Score(model_key=r["model_key"], variant=r["variant"], benchmark=r["benchmark"],
                         setting=r["split/setting"], score=_number(path, line, "score", r["score"], optional=False),
                         text=r["score"], source=_source(path, line, r["source"]), line=line))
    return out


def read_resources(path: Path, models: set[str]) -> list[Resource]:
    out = []
    for line, r in read_rows(path, RESOURCE_COLUMNS):
        _known(path, line, r["model_key"], models)
        out.append(Resource(model_key=r["model_key"], variant=r["variant"], precision=r["precision"],
                            gpu_memory_gb=_number(path, line, "gpu_memory_gb", r["gpu_memory_gb"], optional=True),
                            raw_value=r["raw_value"], setting=r["setting"], source=_source(path, line, r["source"]),
                            line=line))
    return out


def _precisions(path: Path, line: int, text: str) -> tuple[tuple[str, str], ...]:
    """'bf16;int8;gptq-int4=Qwen/X-GPTQ-Int4' -> (("bf16", ""), ("int8", ""), ("gptq-int4", "Qwen/X-GPTQ-Int4"))."""
    out = []
    for piece in filter(None, (p.strip() for p in text.split(";"))):
        name, _, target = piece.partition("=")
        if not name.strip() or ("=" in piece and not target.strip()):
            raise _bad(path, line, "precisions", f"'{piece}' is not PRECISION or PRECISION=HUB_ID")
        out.append((name.strip(), target.strip()))
    return tuple(out)


def read_routes(path: Path, models: set[str]) -> list[Route]:
    out = []
    for line, r in read_rows(path, ROUTE_COLUMNS):
        if r["model_key"] not in models:
            raise _bad(path, line, "model_key", f"'{r['model_key']}' is not a key of models.csv")
        for column, allowed in (("how", HOW), ("backend", BACKENDS), ("kind", KINDS), ("commercial", COMMERCIAL)):
            if r[column] not in allowed:
                raise _bad(path, line, column, f"'{r[column]}' is not one of {sorted(allowed)}")
        if r["how"] in ("hub", "api", "adapter") and not (r["target"] and r["backend"]):
            raise _bad(path, line, "target", f"a '{r['how']}' route needs a target and a backend")
        if r["how"] == "adapter" and not r["base"]:
            raise _bad(path, line, "base", "an adapter route needs its base model")
        if r["how"] in ("manual", "none") and not r["note"]:
            raise _bad(path, line, "note", f"a '{r['how']}' route must say why / what to do in its note")
        if r["config"] and not (CONFIG_DIR / f"{r['config']}.json").is_file():
            raise _bad(path, line, "config", f"no {CONFIG_DIR / (r['config'] + '.json')}")
        out.append(Route(model_key=r["model_key"], how=r["how"], checkpoint=r["checkpoint"], target=r["target"],
                         base=r["base"], backend=r["backend"],
                         params_b=_number(path, line, "params_b", r["params_b"], optional=True),
                         precisions=_precisions(path, line, r["precisions"]), flags=r["flags"], config=r["config"],
                         kind=r["kind"], commercial=r["commercial"], note=r["note"], line=line))
    return out


def read_aliases(path: Path, models: set[str]) -> dict[tuple[str, str], str]:
    out = {}
    for line, r in read_rows(path, ALIAS_COLUMNS):
        _known(path, line, r["model_key"], models)
        if not r["reason"]:
            raise _bad(path, line, "reason", "an alias must say why the two names are one checkpoint")
        out[(r["model_key"], spelling_key(r["alias"]))] = r["variant"]
    return out


def read_benchmarks(path: Path) -> dict[str, dict]:
    """measured_as: which of a run's overall accuracies the benchmark's authors report (subject_mean or
    questions), the one a measured number is set beside a published one with."""
    out = {}
    for line, r in read_rows(path, BENCHMARK_COLUMNS):
        if r["measured_as"] not in ("subject_mean", "questions"):
            raise _bad(path, line, "measured_as", f"'{r['measured_as']}' is not subject_mean or questions")
        out[r["benchmark"]] = {**r, "line": line}
    return out
