"""Published facts about the surveyed Chinese LLMs, as versioned data files in this package, and their loader.

Pure python (csv, dataclasses): no torch, no SQL, nothing of pandian outside this folder. A published number
changes in a reviewable diff of data/*.csv; `Catalog.fingerprint` names the state a result was compared with.

    from pandian.catalog import load_catalog
    cat = load_catalog()
    cat.models                      # 47 Model records (models.csv order), each with .routes: how pandian evaluates it
    cat.model("qwen2.5")            # one Model; CatalogError with close keys when unknown
    cat.select(domain="legal", open_weights=True, commercial=True)
    cat.scores("qwen", benchmark="C-Eval", variant="Qwen-7B")   # Score: value, setting, Source (repo/path/commit)
    cat.resources("yi", variant="Yi-6B-Chat")                    # Resource: published GPU memory, precision, setting
    cat.conflicts()                 # Conflict: same variant + benchmark + setting, different values, all sources
    cat.match("Qwen/Qwen2.5-7B-Instruct")   # Match(model, route, how) for a run's model reference, or None
    cat.spec_for("C-Eval")          # "ceval": the pandian spec measuring a published benchmark
    parse_setting("test 5-shot")    # Setting(shots=5, split="test", ...); setting_differences(...) vs a run
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .catalog import SCHEMA_VERSION, Catalog, Match
from .facts import Conflict, Model, Resource, Route, Score, Source
from .loader import CONFIG_DIR, DATA_DIR, CatalogError
from .settings import Setting, parse_setting, setting_differences

__all__ = ["Catalog", "CatalogError", "Conflict", "CONFIG_DIR", "DATA_DIR", "Match", "Model", "Resource", "Route",
           "SCHEMA_VERSION", "Score", "Setting", "Source", "load_catalog", "parse_setting", "setting_differences"]


@lru_cache(maxsize=4)
def load_catalog(data_dir: str | Path | None = None) -> Catalog:
    """The package's catalog (or one in another folder with the same files, for tests and reviews)."""
    return Catalog(Path(data_dir) if data_dir else DATA_DIR)
