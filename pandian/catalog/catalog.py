"""The catalog as one object: models with their evaluation routes, published scores and GPU-memory figures, the
conflict audit, and look-ups from a run's model reference to a catalog model."""

from __future__ import annotations

import difflib
import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from .facts import Conflict, Model, Resource, Route, Score
from .loader import (CatalogError, read_aliases, read_benchmarks, read_models, read_resources, read_routes,
                     read_scores)
from .names import dir_name_key, hub_key, part_key, spelling_key
from .settings import parse_setting

# Bump when a file's columns or meaning change; the data files' own changes show in `fingerprint`.
SCHEMA_VERSION = 2
FILES = ("models.csv", "scores.csv", "resources.csv", "evaluation.csv", "variant_aliases.csv", "benchmarks.csv")


@dataclass(frozen=True)
class Match:
    """A run's model reference resolved to a catalog model; `route` is the checkpoint when one matched."""

    model: Model
    route: Route | None
    how: str  # "hub id", "directory name" or "catalog key"


class Catalog:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        models = read_models(data_dir / "models.csv")
        keys = {m.key for m in models}
        routes = read_routes(data_dir / "evaluation.csv", keys)
        by_key = defaultdict(list)
        for r in routes:
            by_key[r.model_key].append(r)
        missing = sorted(keys - set(by_key))
        if missing:
            raise CatalogError(f"{data_dir / 'evaluation.csv'}: no route for {', '.join(missing)}: every model "
                               "says how pandian evaluates it, or 'none' and why")
        self._models = {m.key: replace(m, routes=tuple(by_key[m.key])) for m in models}
        self._scores = read_scores(data_dir / "scores.csv", keys)
        self._resources = read_resources(data_dir / "resources.csv", keys)
        self._aliases = read_aliases(data_dir / "variant_aliases.csv", keys)
        self.benchmarks = read_benchmarks(data_dir / "benchmarks.csv")

    # --- identity ------------------------------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the data files: which catalog a report or recommendation was made from."""
        h = hashlib.sha256(f"schema {SCHEMA_VERSION}".encode())
        for name in FILES:
            h.update(name.encode() + b"\0" + (self.data_dir / name).read_bytes())
        return h.hexdigest()[:16]

    # --- models --------------------------------------------------------------------------------------------------
    @property
    def models(self) -> list[Model]:
        return list(self._models.values())

    def model(self, key: str) -> Model:
        if key in self._models:
            return self._models[key]
        close = difflib.get_close_matches(key, list(self._models), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CatalogError(f"'{key}' is not a catalog model{hint}: `pandian catalog` lists the keys")

    def select(self, *, domain: str | None = None, open_weights: bool = False,
               commercial: bool = False) -> list[Model]:
        """domain: a word of the model's domain ("legal", "medical"); open_weights: weights published in full or
        in part; commercial: commercial use allowed, outright or after an application to the vendor."""
        out = []
        for m in self.models:
            if domain and domain.lower() not in m.domain.lower():
                continue
            if open_weights and m.open_weights not in ("yes", "partial"):
                continue
            if commercial and m.commercial_use not in ("yes", "application"):
                continue
            out.append(m)
        return out

    # --- published numbers ---------------------------------------------------------------------------------------
    def variant_of(self, model_key: str, name: str) -> str:
        """The checkpoint a published name means: an alias row's variant, else the name itself."""
        return self._aliases.get((model_key, spelling_key(name)), name)

    def same_variant(self, model_key: str, a: str, b: str) -> bool:
        return spelling_key(self.variant_of(model_key, a)) == spelling_key(self.variant_of(model_key, b))

    def scores(self, model_key: str | None = None, *, benchmark: str | None = None,
               variant: str | None = None) -> list[Score]:
        out = self._scores
        if model_key is not None:
            out = [s for s in out if s.model_key == model_key]
        if benchmark is not None:
            out = [s for s in out if s.benchmark == benchmark]
        if variant is not None:
            out = [s for s in out if self.same_variant(s.model_key, s.variant, variant)]
        return list(out)

    def resources(self, model_key: str | None = None, *, variant: str | None = None) -> list[Resource]:
        out = self._resources
        if model_key is not None:
            out = [r for r in out if r.model_key == model_key]
        if variant is not None:
            out = [r for r in out if self.same_variant(r.model_key, r.variant, variant)]
        return list(out)

    def conflicts(self, model_key: str | None = None, *, comparable: bool = False) -> list[Conflict]:
        """Same model variant, benchmark and setting (case, spacing and 'zero-shot' made uniform), different
        values: every value is kept with its source. Rows whose settings differ are not conflicts: they are
        different measurements, shown side by side by `catalog show`. comparable=True also groups settings that
        state the same shots, harness and split once a missing split is read as the benchmark's leaderboard split
        (benchmarks.csv): C-Eval "5-shot" with "test 5-shot"."""
        groups: dict[tuple, list[Score]] = defaultdict(list)
        for s in self.scores(model_key):
            variant = self.variant_of(s.model_key, s.variant)
            setting = parse_setting(s.setting)
            split = (self.benchmarks.get(s.base_benchmark) or {}).get("leaderboard_split") or None
            key = setting.comparable_key(split) if comparable else setting.key
            groups[(s.model_key, spelling_key(variant), s.benchmark, key)].append(s)
        out = []
        for (key, _, bench, setting), rows in groups.items():
            if len({r.score for r in rows}) > 1:
                out.append(Conflict(model_key=key, variant=self.variant_of(key, rows[0].variant), benchmark=bench,
                                    setting=rows[0].setting, scores=tuple(rows)))
        return out

    # --- benchmarks ----------------------------------------------------------------------------------------------
    def spec_for(self, benchmark: str) -> str | None:
        """The pandian spec that measures a published benchmark ("C-Eval" -> "ceval"), or None."""
        row = self.benchmarks.get(benchmark.split(":", 1)[0])
        return row["spec"] if row else None

    def benchmarks_for_spec(self, spec: str) -> list[dict]:
        return [row for row in self.benchmarks.values() if row["spec"] == spec]

    @staticmethod
    def same_part(published_part: str, category: str) -> bool:
        return part_key(published_part) == part_key(category)

    # --- runs -> catalog -----------------------------------------------------------------------------------------
    def match(self, reference: str, catalog_key: str | None = None) -> Match | None:
        """The catalog model of a run's model reference: a route's hub id (or one of its pre-quantized ids), the
        model line's hub id, then a local directory named like a route's checkpoint or hub id. catalog_key names
        the model outright (a local fine-tune the names cannot reveal)."""
        if catalog_key:
            model = self.model(catalog_key)
            route = next((r for r in model.routes if self._route_matches(r, reference)), None)
            return Match(model=model, route=route, how="catalog key")
        for how in ("hub id", "directory name"):
            for model in self.models:
                for route in model.routes:
                    if self._route_matches(route, reference, by=how):
                        return Match(model=model, route=route, how=how)
                if how == "hub id" and model.hf_repo_id and hub_key(model.hf_repo_id) == hub_key(reference):
                    return Match(model=model, route=None, how=how)
        return None

    @staticmethod
    def _route_matches(route: Route, reference: str, by: str | None = None) -> bool:
        if route.how not in ("hub", "adapter", "api"):
            return False
        targets = [route.target] + [t for _, t in route.precisions if t]
        if route.how == "api":  # a run of an API model is stored under the model's own name: deepseek-chat
            targets.append(route.target.split(":", 1)[1])
        if by in (None, "hub id") and any(hub_key(t) == hub_key(reference) for t in targets):
            return True
        if by in (None, "directory name") and route.how != "api":
            names = {dir_name_key(t) for t in targets} | {spelling_key(route.checkpoint)}
            return dir_name_key(reference) in names
        return False
