"""Where pandian keeps and finds things: one place that resolves flags and environment variables.

- home:     PANDIAN_HOME, default ~/.pandian (tiny models, the default results store)
- data:     --data-dir, else PANDIAN_DATA_DIR, else ../shared/data (benchmark releases; never copied)
- store:    --db, else PANDIAN_DB, else HOME/results.db
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("PANDIAN_HOME", Path.home() / ".pandian"))


def data_dir(flag: Path | str | None = None) -> Path:
    return Path(flag) if flag else Path(os.environ.get("PANDIAN_DATA_DIR", "../shared/data"))


def store_location(flag: Path | str | None = None) -> str:
    """A SQLite path (or, where a store engine supports it, a database URL)."""
    return str(flag) if flag else os.environ.get("PANDIAN_DB") or str(home() / "results.db")
