"""What the commands share: consoles, the one way to fail, option types, and running an evaluation with a
progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console


def _console(stderr: bool = False) -> Console:
    c = Console(stderr=stderr)
    # Piped or captured output has no width; rich would assume 80 columns and break the tables.
    return c if c.is_terminal else Console(stderr=stderr, width=140)


console = _console()
err = _console(stderr=True)

DATA_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".xlsx")

DataDirOption = typer.Option(None, "--data-dir", help="folder with benchmark releases [env PANDIAN_DATA_DIR]")
DbOption = typer.Option(None, "--db", help="results store: a SQLite file or postgresql://USER@HOST/DB [env PANDIAN_DB, "
                                           "default ~/.pandian/results.db]")
JsonOption = typer.Option(False, "--json", help="print JSON instead of tables")
BenchOption = typer.Option(..., "--bench", help="built-in benchmark name, a spec .yaml (docs/specs.md), or your own "
                                                 ".csv/.tsv/.jsonl/.json/.xlsx")
FieldOption = typer.Option([], "--field", help="for your own file: NAME=COLUMN (question, choices, answer, answer_format, "
                                               "subject, category, id, passage); choices as A|B|C|D")
TrustSpecCodeOption = typer.Option(False, "--trust-spec-code", help="let a spec's preprocess hook (Python beside "
                                                                     "the spec) run")


def fail(message: str, code: int = 2):
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_db(db: str | None):
    """The results store a --db value names (a SQLite path or a postgresql:// URL); exit 2 when it cannot open."""
    from pandian.store import StoreConnectionError, open_store

    try:
        return open_store(db)
    except StoreConnectionError as e:
        fail(str(e))


def resolve_bench(bench: str, data_dir: Optional[Path], fields: list[str], trust_spec_code: bool = False):
    """(spec, data directory) for a built-in name, a spec .yaml, or the user's own data file. trust_spec_code lets a
    spec's preprocess hook run."""
    from pandian import settings
    from pandian.core.spec import load_spec
    from pandian.core.userfile import user_spec

    path = Path(bench)
    if path.suffix.lower() in DATA_FILE_SUFFIXES:
        overrides = {}
        for f in fields:
            if "=" not in f:
                fail(f"--field expects NAME=COLUMN, got '{f}'")
            k, v = f.split("=", 1)
            overrides[k.strip()] = v.strip()
        return user_spec(path, overrides), path.parent
    if fields:
        fail("--field names the columns of your own data file; a spec names them in its fields (docs/specs.md)")
    spec = load_spec(bench)
    if trust_spec_code:
        spec.allow_code()
    return spec, settings.data_dir(data_dir)


def run_eval(backend, spec, opts, store, out: Optional[Path], quiet: bool = False):
    """The run lifecycle with a progress bar on stderr; Ctrl-C keeps every finished batch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from pandian.app import lifecycle

    bar = Progress(TextColumn(f"{spec.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err, disable=quiet, transient=False)
    task = None

    def start(total, todo):
        nonlocal task
        task = bar.add_task("eval", total=total, completed=total - todo)

    try:
        with bar:
            result = lifecycle.evaluate(backend, spec, opts, store,
                                        lifecycle.Progress(start, lambda n: bar.advance(task, n)))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/] every finished batch is stored; rerun the same command to resume.")
        raise typer.Exit(130) from None
    if out:
        lifecycle.write_outputs(out, result)
    return result
