"""pandian's command line. One module per command group registers on `app`; every command imports what it needs
inside its function, so `pandian --help` and the commands that load no model never import torch."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="pandian (盘点): evaluate, compare and choose Chinese large language models.")

# registers the commands
from pandian.cli import eval, compare, judge, runs, tools, demo, prompts, plan, db  # noqa: E402,F401
from pandian.cli import catalog, suite, choose, bias, report, web  # noqa: E402,F401
