"""`pandian web`: a read-only leaderboard over a results store, with model, run, question and compare pages, and
the same data as JSON under /api (schema at /api/openapi.json).

Only GET routes exist. Path and query parameters are only ever bound as SQL parameters, never joined into a file
path; static files come from this package. Every response carries a Content-Security-Policy that allows scripts
from this server only (no inline script, no inline event handler) and no request to any other origin.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from pandian.report import published

from . import pages
from .api import router as api_router

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def create_app(store, *, catalog=None, prompts: Callable | None = None) -> FastAPI:
    """prompts(run_id, qid) -> what the model saw (text, continuations, verified, note), or raises: the caller's
    re-rendering of a stored record's prompt (pandian.app.prompts), which this package does not import."""
    app = FastAPI(title="pandian", summary="Measured and published results of Chinese LLM evaluations (read-only).",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.store, app.state.catalog, app.state.prompts = store, catalog, prompts
    if catalog is not None:
        published.published_rows(catalog)  # built once here, not on the first visitor's request

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    static = files("pandian.web") / "assets" / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    app.include_router(api_router, prefix="/api")
    app.include_router(pages.router)
    return app

