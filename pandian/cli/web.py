"""`pandian web`: the read-only web leaderboard over a results store and the catalog."""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path
from typing import Optional

import typer

from pandian.cli import app
from pandian.cli.common import DbOption, err, fail


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("web")
def web_cmd(
    db: Optional[str] = DbOption,
    host: str = typer.Option("127.0.0.1", help="address to listen on (loopback by default)"),
    port: int = typer.Option(8050, help="port to listen on"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="benchmark releases, to show each question's "
                                            "prompt (default: the folder each run read)"),
    catalog: bool = typer.Option(True, "--catalog/--no-catalog", help="show the catalog's published numbers"),
):
    """Serve the leaderboard (measured and published), model, run and question pages, and a compare view; JSON
    under /api (schema at /api/openapi.json). Read-only."""
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        fail(f"pandian web needs {', '.join(missing)}: pip install 'pandian[web]'")
    import uvicorn

    from pandian.cli.common import open_db, require_store
    from pandian.web import create_app

    if not is_loopback(host):
        err.print(f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this address can read every "
                  "result in the store (model outputs included). The default, 127.0.0.1, keeps it to this machine.",
                  highlight=False, soft_wrap=True)
    require_store(db)
    if not 0 < port < 65536:
        fail(f"--port {port}: not a port number")
    cat = None
    if catalog:
        from pandian.catalog import load_catalog

        cat = load_catalog()
    from pandian.app.prompts import recorded_prompt

    store = open_db(db)
    app_ = create_app(store, catalog=cat,
                      prompts=lambda run_id, qid: recorded_prompt(store, run_id, qid, data_dir))
    err.print(f"pandian web on http://{host}:{port}/ (Ctrl-C stops it)", highlight=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")
