"""The results store: every byte pandian writes goes through this interface (SQL lives only in this package).

`open_store(location)` takes a SQLite path (the embedded default) or a postgresql:// URL (a shared server that many
workers write to at once; `pip install 'pandian[postgres]'`). Both keep one schema and answer the same methods.
"""

from __future__ import annotations

from pathlib import Path

from pandian.settings import store_location
from pandian.store.sqlite import SQLiteStore

ResultStore = SQLiteStore  # the interface every engine implements; SQLite is the embedded default


class StoreConnectionError(RuntimeError):
    """The store cannot be opened (server unreachable, driver missing); the message never holds a password."""


def is_postgres_url(location: Path | str) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def open_store(location: Path | str | None = None) -> ResultStore:
    """The store at `location` (a --db value), or the default one (PANDIAN_DB, else ~/.pandian/results.db)."""
    where = store_location(location)
    if is_postgres_url(where):
        from pandian.store.postgres import PostgresStore

        return PostgresStore(where)
    return SQLiteStore(where)


__all__ = ["ResultStore", "SQLiteStore", "StoreConnectionError", "is_postgres_url", "open_store"]
