"""`pandian db copy SRC DST`: move a results store between SQLite and PostgreSQL (either way, or merge two)."""

from __future__ import annotations

import typer

from pandian.cli import app
from pandian.cli.common import console, err, fail

db_app = typer.Typer(no_args_is_help=True, help="Results stores: copy between SQLite files and PostgreSQL.")
app.add_typer(db_app, name="db")


@db_app.command("copy")
def copy_cmd(
    src: str = typer.Argument(..., help="a SQLite file or postgresql://USER@HOST[:PORT]/DB"),
    dst: str = typer.Argument(..., help="a SQLite file (created when missing) or postgresql://USER@HOST[:PORT]/DB"),
):
    """Copy every run, record, session, judgment and cached API response; rows already in DST are kept."""
    from pathlib import Path

    from pandian.store import StoreConnectionError, is_postgres_url, open_store
    from pandian.store.copy import copy_store

    if not is_postgres_url(src) and not Path(src).is_file():
        fail(f"no results store at {src}: pass an existing SQLite file or a postgresql:// URL")
    if src == dst or (not is_postgres_url(src) and not is_postgres_url(dst) and Path(src).resolve() == Path(dst).resolve()):
        fail("SRC and DST are the same store")
    try:
        source, target = open_store(src), open_store(dst)
    except StoreConnectionError as e:
        fail(str(e))
    try:
        counts = copy_store(source, target, lambda table, n: None)
    finally:
        source.close()
        target.close()
    for table, c in counts.items():
        console.print(f"{table}: {c['rows']} rows read, {c['new']} new in the destination", highlight=False)
    err.print(f"copied {source.path} -> {target.path}", highlight=False)
