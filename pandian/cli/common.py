"""What the commands share: consoles, the one way to fail, option types, and running an evaluation with a
progress bar."""

from __future__ import annotations

import re
import functools
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from pandian.core.errors import InputError


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


# C0/C1 control characters (ESC starts the sequences that recolour, move the cursor, retitle or clear a terminal)
# and the bidirectional overrides that reorder what is shown; tab and newline stay
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """`text` with every terminal control character shown as a visible escape (\\x1b), never executed: names,
    subjects, model output and file names come from data."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", str(text))


def fail(message: str, code: int = 2):
    # Text, not markup: messages carry paths and install hints ('exam[v2].csv', "pip install 'pandian[vllm]'")
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_db(db: str | None, existing: bool = False):
    """The results store a --db value names (a SQLite path or a postgresql:// URL); exit 2 when it cannot open.
    existing: the command only reads it (runs, compare, report, web, judge), so a SQLite file that is not there is
    an error (a mistyped --db), never an empty store created on the way."""
    from pandian.store import StoreConnectionError, StoreError, open_store

    if existing:
        require_store(db)
    try:
        return open_store(db)
    except (StoreConnectionError, StoreError) as e:
        fail(str(e))


def require_store(db: str | None) -> None:
    from pandian.settings import store_location
    from pandian.store import is_postgres_url

    location = store_location(db)
    if not is_postgres_url(location) and not Path(location).is_file():
        fail(f"{'--db ' + str(db) if db else location}: no such results database (`pandian eval` creates one; "
             "--db or PANDIAN_DB names another)")


def warn(message: str) -> None:
    err.print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False, soft_wrap=True)


class Typer(typer.Typer):
    """Every command's InputError (a flag, file, spec or model reference that is wrong, its message naming it) is
    one paragraph and exit code 2; any other exception is a bug and keeps its traceback (`pandian --debug` for the
    full one). Help text is printed as written: no markup, so '[env PANDIAN_DATA_DIR]' stays."""

    def __init__(self, **kwargs):
        super().__init__(rich_markup_mode=None, pretty_exceptions_show_locals=False, **kwargs)

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorator(f):
            @functools.wraps(f)
            def run(*a, **kw):
                try:
                    return f(*a, **kw)
                except InputError as e:
                    fail(str(e))

            register(run)
            return f

        return decorator


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


def run_eval(backend, spec, opts, store, out: Optional[Path], quiet: bool = False, inputs=None,
             startup: dict | None = None):
    """The run lifecycle with a progress bar on stderr; Ctrl-C or SIGTERM keeps every finished batch."""
    import signal
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from pandian.app import lifecycle

    name = printable(spec.name).replace("{", "{{").replace("}", "}}")  # shown as it is: no format, no markup
    bar = Progress(TextColumn(name, markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err, disable=quiet, transient=False)
    task = None

    def start(total, todo):
        nonlocal task
        task = bar.add_task("eval", total=total, completed=total - todo)

    def terminate(signum, frame):
        raise lifecycle.Terminated()

    # a scheduler's or container's stop (SIGTERM) ends a run the way Ctrl-C does; handlers live in the main thread
    previous = signal.signal(signal.SIGTERM, terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        with bar:
            result = lifecycle.evaluate(backend, spec, opts, store,
                                        lifecycle.Progress(start, lambda n: bar.advance(task, n)), inputs, startup)
    except lifecycle.Terminated:
        err.print("[yellow]terminated (SIGTERM):[/] every finished batch is stored; rerun the same command to "
                  "resume.")
        raise typer.Exit(128 + signal.SIGTERM) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/] every finished batch is stored; rerun the same command to resume.")
        raise typer.Exit(130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if out:
        lifecycle.write_outputs(out, result)
    return result


def exit_if_unscored(summary: dict) -> None:
    """Exit 1 when questions were selected but could not be scored (API calls that failed after their retries):
    a CI job must not count that as a pass. An answer nothing could be extracted from is scored (as wrong)."""
    failed = summary.get("failed_calls") or []
    if failed:
        exit_failed_calls(f"{len(failed)} of {len(failed) + summary['computed_now']} question(s) computed in this run "
                          "could not be scored", failed[0]["error"])


def exit_failed_calls(what: str, first_error: str | None) -> None:
    err.print(f"[bold red]error:[/] {escape(printable(what))}: the calls failed after retries"
              + (f" (first: {escape(printable(first_error))})" if first_error else "") +
              ". They are not counted; rerun the same command to retry them.", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
