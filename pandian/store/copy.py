"""`pandian db copy SRC DST`: every table from one store to another (SQLite <-> PostgreSQL, either way).

Rows already in the destination are kept as they are (same key; for sessions, the same row), so a copy can be
rerun, resumed, or merge two stores. Tables go parents first, because PostgreSQL enforces that a record's run exists.
Only the columns both stores have are copied: a SQLite file migrated from an older layout keeps a retired column.
"""

from __future__ import annotations

from typing import Callable

# table -> its primary key (None: sessions has none, and a row counts as present when every column matches)
TABLES: dict[str, tuple[str, ...] | None] = {
    "runs": ("run_id",),
    "records": ("run_id", "qid"),
    "sessions": None,
    "judgments": ("judge_id", "run_a", "run_b", "qid", "position"),
    "api_responses": ("key",),
}


def copy_store(src, dst, progress: Callable[[str, int], None] = lambda table, n: None) -> dict[str, dict]:
    """Copy every table; returns {table: {"rows": read, "new": written}}."""
    out = {}
    for table, key in TABLES.items():
        wanted = set(dst.columns(table))
        columns = [c for c in src.columns(table) if c in wanted]
        read = new = 0
        for rows in src.table_rows(table, columns):
            new += dst.put_rows(table, columns, rows, key)
            read += len(rows)
            progress(table, len(rows))
        out[table] = {"rows": read, "new": new}
    return out
