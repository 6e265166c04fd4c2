"""The results store for commands that only read it: a store that does not exist yet is not created."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def existing_store(db):
    """The store at --db / PANDIAN_DB / the default, or None when its SQLite file does not exist."""
    from pandian.cli.common import open_db
    from pandian.settings import store_location

    location = store_location(db)
    if "://" not in location and not Path(location).exists():
        yield None
        return
    store = open_db(location)
    try:
        yield store
    finally:
        store.close()
