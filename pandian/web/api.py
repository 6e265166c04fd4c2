"""The JSON API under /api: the pages' data, for scripts and other front ends. Read-only, paginated."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from pandian.report import survey

from . import views

router = APIRouter(tags=["results"])


@router.get("/leaderboard", summary="Measured and published rows, filtered and sorted")
def leaderboard(request: Request, benchmark: str = "", source: str = Query("", pattern="^(|measured|published|all)$"),
                kind: str = "", licence: str = "", gpu: float | None = None, q: str = "",
                sort: str = Query("accuracy", pattern="^(" + "|".join(views.SORTS) + ")$"),
                order: str = Query("desc", pattern="^(asc|desc)$"), page: int = Query(1, ge=1)) -> dict:
    f = views.Filters(benchmark=benchmark, source=source, kind=kind, licence=licence, gpu=gpu, q=q, sort=sort,
                      order=order)
    board = views.leaderboard(request.app.state.store, request.app.state.catalog, f, page)
    return survey.finite({k: board[k] for k in ("rows", "page", "pages", "per_page", "total", "total_shown")} |
                         {"source": board["filters"].source})


@router.get("/runs/{run_id}", summary="A run: configuration, versions, cost, accuracy by category")
def run(request: Request, run_id: str) -> dict:
    detail = views.run_detail(request.app.state.store, run_id)
    if detail is None:
        raise HTTPException(404, f"no stored run {run_id}")
    return survey.finite(detail)


@router.get("/runs/{run_id}/records", summary="One page of a run's per-question records")
def records(request: Request, run_id: str, outcome: str = Query("", pattern="^(|right|wrong|unscored)$"),
            subject: str = "", search: str = "", page: int = Query(1, ge=1)) -> dict:
    if request.app.state.store.run(run_id) is None:
        raise HTTPException(404, f"no stored run {run_id}")
    return views.records(request.app.state.store, run_id, outcome=outcome, subject=subject, search=search,
                         page=page)


@router.get("/runs/{run_id}/question", summary="One question: record, prompt, the same question in other runs")
def question(request: Request, run_id: str, qid: str) -> dict:
    q = views.question(request.app.state.store, run_id, qid, request.app.state.prompts)
    if q is None:
        raise HTTPException(404, f"run {run_id} has no question {qid}")
    return q


@router.get("/compare", summary="Paired deltas of two or three runs against the first, and flipped questions")
def compare(request: Request, runs: list[str] = Query(..., min_length=2, max_length=3),
            direction: str = Query("right_to_wrong", pattern="^(right_to_wrong|wrong_to_right)$"),
            page: int = Query(1, ge=1)) -> dict:
    c = views.compare(request.app.state.store, runs, direction, page)
    if "error" in c:
        raise HTTPException(404, c["error"])
    return survey.finite(c)
