"""The HTML pages: leaderboard, model, run (with its questions), one question, compare.

Templates render with autoescape on; nothing is marked safe except the JSON that `script_json` has escaped.
Identifiers that may hold '/' (model names, question ids) travel as query parameters.
"""

from __future__ import annotations

import time
from importlib.resources import files
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from . import views

router = APIRouter(include_in_schema=False)
_TEMPLATES = files("pandian.web") / "assets" / "templates"


def _num(x, d: int = 2) -> str:
    return "–" if x is None or x != x else f"{x:.{d}f}"  # x != x: NaN (an interval not computed)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(lambda n: (_TEMPLATES / n).read_text("utf-8")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(num=_num, qs=lambda d: urlencode(d, doseq=True),
                       when=lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t)))
    return env


ENV = _env()


def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(ENV.get_template(name).render(**ctx), status_code=status)


def not_found(what: str) -> HTMLResponse:
    return render("error.html.j2", status=404, message=what)


@router.get("/", response_class=HTMLResponse)
def leaderboard(request: Request, benchmark: str = "", source: str = "", kind: str = "", licence: str = "",
                gpu: str = "", q: str = "", sort: str = "accuracy", order: str = "desc", page: int = 1):
    try:
        gpu_gb = float(gpu) if gpu.strip() else None
    except ValueError:
        gpu_gb = None
    f = views.Filters(benchmark=benchmark, source=source, kind=kind, licence=licence, gpu=gpu_gb, q=q,
                      sort=sort, order="asc" if order == "asc" else "desc")
    board = views.leaderboard(request.app.state.store, request.app.state.catalog, f, page)
    params = {k: v for k, v in dict(benchmark=benchmark, source=board["filters"].source, kind=kind, licence=licence,
                                    gpu=gpu, q=q, sort=f.sort, order=f.order).items() if v}
    return render("leaderboard.html.j2", board=board, f=board["filters"], params=params, gpu=gpu)


@router.get("/model", response_class=HTMLResponse)
def model(request: Request, name: str):
    page = views.model_page(request.app.state.store, request.app.state.catalog, name)
    if not page["measured"] and not page["published"] and not page["facts"]:
        return not_found(f"no model named {name}")
    return render("model.html.j2", m=page)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run(request: Request, run_id: str, outcome: str = "", subject: str = "", search: str = "", page: int = 1):
    store = request.app.state.store
    detail = views.run_detail(store, run_id)
    if detail is None:
        return not_found(f"no stored run {run_id}")
    outcome = outcome if outcome in ("right", "wrong", "unscored") else ""
    recs = views.records(store, run_id, outcome=outcome, subject=subject, search=search, page=page)
    params = {k: v for k, v in dict(outcome=outcome, subject=subject, search=search).items() if v}
    return render("run.html.j2", run=detail, recs=recs, params=params, outcome=outcome, subject=subject,
                  search=search)


@router.get("/runs/{run_id}/question", response_class=HTMLResponse)
def question(request: Request, run_id: str, qid: str):
    q = views.question(request.app.state.store, run_id, qid, request.app.state.prompts)
    if q is None:
        return not_found(f"run {run_id} has no question {qid}")
    return render("question.html.j2", q=q)


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, runs: list[str] = Query(default=[]), direction: str = "right_to_wrong",
            page: int = 1):
    direction = direction if direction in ("right_to_wrong", "wrong_to_right") else "right_to_wrong"
    if not 2 <= len(runs) <= 3:
        return render("error.html.j2", status=400, message="compare two or three runs: tick them on the leaderboard")
    c = views.compare(request.app.state.store, runs, direction, page)
    if "error" in c:
        return render("error.html.j2", status=404, message=c["error"])
    return render("compare.html.j2", c=c, runs=runs)
