"""The results store: every byte pandian writes goes through this interface (SQL lives only in this package).

`open_store(location)` takes a SQLite path today; a database URL picks another engine when one is installed.
"""

from __future__ import annotations

from pathlib import Path

from pandian.settings import store_location
from pandian.store.sqlite import SQLiteStore, StoreError

ResultStore = SQLiteStore  # the interface every engine implements; SQLite is the embedded default


def open_store(location: Path | str | None = None) -> ResultStore:
    """The store at `location` (a --db value), or the default one (PANDIAN_DB, else ~/.pandian/results.db)."""
    return SQLiteStore(store_location(location))


__all__ = ["ResultStore", "SQLiteStore", "StoreError", "open_store"]
