"""pandian's command line. One module per command group registers on `app`; every command imports what it needs
inside its function, so `pandian --help` and the commands that load no model never import torch."""

from __future__ import annotations

import atexit
import os
import sys
import threading

import typer

from pandian.cli.common import Typer

app = Typer(add_completion=False, no_args_is_help=True,
            help="pandian (盘点): evaluate, compare and choose Chinese large language models.")


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", envvar="PANDIAN_DEBUG",
                                    help="on an internal error, show the full traceback")):
    app.pretty_exceptions_short = not debug

# registers the commands
from pandian.cli import eval, compare, judge, runs, tools, demo, prompts, plan, db  # noqa: E402,F401
from pandian.cli import catalog, suite, choose, bias, report, web  # noqa: E402,F401
from pandian.cli import plan, db  # noqa: E402,F401


def entry() -> None:
    """The `pandian` command (and `python -m pandian`): the app, then a quick exit once a model library is loaded.
    Interpreter teardown with torch loaded takes ~0.5 s on 2 cores (finalizing its modules and tensors), after every
    result is stored and written. Exit does nothing else that matters here, so it is done by hand: the atexit
    handlers (log flushing, temporary-directory cleanup), then the terminal's buffers."""
    try:
        app()
    except SystemExit as e:
        if "torch" in sys.modules and threading.active_count() == 1 and isinstance(e.code, (int, type(None))):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(e.code or 0)
        raise
