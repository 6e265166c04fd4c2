"""`pandian web` over HTTP on 127.0.0.1 (uvicorn, httpx) on the real runs: leaderboard filters and sorting, run
drill-down pages, question and compare pages, the JSON API and its OpenAPI schema, read-only routes, security
headers, path traversal, no secret in any page, and the warning for an address beyond loopback."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from typer.testing import CliRunner

from pandian.cli import app as cli_app

from .conftest import serve_in_thread
from .survey_runs import HOSTILE_MODEL, PAYLOADS


@pytest.fixture(scope="module")
def web(survey_store):
    from pandian.app.prompts import recorded_prompt
    from pandian.catalog import load_catalog
    from pandian.store import open_store
    from pandian.web import create_app

    store = open_store(survey_store["db"])
    app = create_app(store, catalog=load_catalog(), prompts=lambda rid, qid: recorded_prompt(store, rid, qid))
    with serve_in_thread(app) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        yield client
    store.close()


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_leaderboard_filters_and_sorts(web, survey_store):
    rows = web.get("/api/leaderboard").json()
    assert rows["source"] == "measured" and rows["total_shown"] == 3
    by_acc = [r["accuracy"] for r in rows["rows"]]
    assert by_acc == sorted(by_acc, reverse=True)
    asc = web.get("/api/leaderboard", params={"sort": "memory", "order": "asc"}).json()["rows"]
    mem = [r["memory"] for r in asc if r["memory"] is not None]
    assert mem == sorted(mem) and len(mem) == 2 and asc[-1]["run_id"] == survey_store["api"]  # no figure: last
    cmmlu = web.get("/api/leaderboard", params={"benchmark": "cmmlu", "source": "all"}).json()
    kinds = {r["source"] for r in cmmlu["rows"]} | {r["source"] for p in range(2, cmmlu["pages"] + 1)
                                                    for r in web.get("/api/leaderboard", params={
                                                        "benchmark": "cmmlu", "source": "all", "page": p}).json()["rows"]}
    assert kinds == {"measured", "published"} and cmmlu["total_shown"] > 100
    published = [r for r in cmmlu["rows"] if r["source"] == "published"]
    assert all(r["source_text"] and r["ci95"] is None for r in published)  # a source, never an interval
    measured = [r for r in cmmlu["rows"] if r["source"] == "measured"]
    assert all(r["run_id"] and r["ci95"][0] <= r["accuracy"] <= r["ci95"][1] for r in measured)
    api = web.get("/api/leaderboard", params={"kind": "api"}).json()["rows"]
    assert [r["run_id"] for r in api] == [survey_store["api"]]
    fits = web.get("/api/leaderboard", params={"gpu": 0.001}).json()["rows"]
    assert fits == []  # every measured run needs more than 1 MB
    apache = web.get("/api/leaderboard", params={"source": "published", "licence": "apache"}).json()["rows"]
    assert apache and all("apache" in r["licence"].lower() for r in apache)
    html = web.get("/", params={"sort": "accuracy", "order": "asc", "benchmark": "cmmlu"}).text
    assert html.index(survey_store["fp32"][:8]) != html.index(survey_store["int8"][:8])
    assert 'class="sorted asc"' in html


def test_run_drill_down_is_paginated_and_filtered(web, survey_store):
    rid = survey_store["fp32"]
    page1 = web.get(f"/api/runs/{rid}/records").json()
    assert page1["total"] == 48 and len(page1["records"]) == 48 and page1["pages"] == 1
    wrong = web.get(f"/api/runs/{rid}/records", params={"outcome": "wrong"}).json()
    right = web.get(f"/api/runs/{rid}/records", params={"outcome": "right"}).json()
    assert wrong["total"] + right["total"] == 48
    assert all(r["correct"] == 0 for r in wrong["records"]) and all(r["correct"] == 1 for r in right["records"])
    one = web.get(f"/api/runs/{rid}/records", params={"search": "anatomy/3"}).json()
    assert [r["qid"] for r in one["records"]] == ["anatomy/3"]
    sub = web.get(f"/api/runs/{rid}/records", params={"subject": "marketing"}).json()
    assert sub["total"] == 8 and {r["subject"] for r in sub["records"]} == {"marketing"}
    literal = web.get(f"/api/runs/{rid}/records", params={"search": "%"}).json()
    assert literal["total"] == 0  # search is literal text, not a LIKE pattern
    html = web.get(f"/runs/{rid}", params={"outcome": "wrong"}).text
    assert f"{wrong['total']} questions · page 1 of 1" in html
    detail = web.get(f"/api/runs/{rid}").json()
    assert detail["accuracy"]["overall"]["questions"]["n"] == 48 and detail["cost"]["peak_memory_gb"] > 0


def test_question_and_compare(web, survey_store):
    base, int8 = survey_store["fp32"], survey_store["int8"]
    q = web.get(f"/api/runs/{base}/question", params={"qid": "anatomy/3"}).json()
    assert q["record"]["qid"] == "anatomy/3" and len(q["record"]["logprobs"]) == 4
    assert q["prompt"]["available"] and q["prompt"]["verified"]  # re-rendered: hashes to the stored prompt hash
    assert q["prompt"]["text"].count("答案是：") == 3 and q["prompt"]["labels"] == ["A", "B", "C", "D"]  # 2 shots
    assert [o["run_id"] for o in q["others"]] == [int8]
    c = web.get("/api/compare", params={"runs": [base, int8]}).json()
    paired = c["others"][0]["paired"]
    store_flips = c["others"][0]["flips"]["total"]
    assert paired["questions"] == 48 and store_flips == paired["right_to_wrong"]
    assert paired["delta"] == pytest.approx((paired["wrong_to_right"] - paired["right_to_wrong"]) / 48)
    assert web.get("/api/compare", params={"runs": [base, survey_store["api"]]}).status_code == 404
    assert web.get("/compare", params={"runs": [base]}).status_code == 400


def test_openapi_schema_lists_the_api(web):
    schema = web.get("/api/openapi.json").json()
    assert {"/api/leaderboard", "/api/runs/{run_id}", "/api/runs/{run_id}/records", "/api/compare"} <= \
        set(schema["paths"])
    assert not any(p.startswith("/runs") or p == "/" for p in schema["paths"])  # pages are not API


def test_read_only_and_security_headers(web, survey_store):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", f"/api/runs/{survey_store['fp32']}", "/api/leaderboard"):
            assert web.request(method, path).status_code == 405
    r = web.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in csp and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                                  "/static/..%2f..%2f..%2fetc%2fpasswd", "/runs/..%2F..%2Fetc%2Fpasswd",
                                  "/runs/../../etc/passwd/question?qid=x", "/static-lib/../../etc/passwd"])
def test_no_path_reads_outside_the_package(web, path):
    r = web.get(path)
    assert r.status_code in (400, 404) and "root:x:" not in r.text


def test_hostile_text_is_escaped_and_no_secret_shows(web, survey_store):
    api = survey_store["api"]
    pages = [web.get("/").text, web.get(f"/runs/{api}").text,
             web.get("/model", params={"name": f"openai:{HOSTILE_MODEL}"}).text]
    recs = web.get(f"/api/runs/{api}/records").json()["records"]
    for r in recs:
        pages.append(web.get(f"/runs/{api}/question", params={"qid": r["qid"]}).text)
    for html in pages:
        assert survey_store["secret"] not in html
        for payload in PAYLOADS + (HOSTILE_MODEL,):
            assert payload not in html
        page = Tags()
        page.feed(html)
        assert not [a for _, attrs in page.tags for a, _ in attrs if a.startswith("on")]  # no event handler
        assert [dict(a).get("src") for t, a in page.tags if t == "script"] == ["/static/web.js"]
        assert not [t for t, _ in page.tags if t in ("img", "svg", "iframe", "object")]
    assert any("&lt;script&gt;window.__pwned = 1;" in html for html in pages)
    for path in (f"/api/runs/{api}", f"/api/runs/{api}/records", "/api/leaderboard"):
        assert survey_store["secret"] not in web.get(path).text


def test_unknown_things_are_404(web, survey_store):
    assert web.get("/runs/0000000000000000").status_code == 404
    assert web.get("/api/runs/0000000000000000/records").status_code == 404
    assert web.get(f"/runs/{survey_store['fp32']}/question", params={"qid": "nope"}).status_code == 404
    assert web.get("/model", params={"name": "no such model"}).status_code == 404


def test_binding_beyond_loopback_warns(tmp_path):
    result = CliRunner().invoke(cli_app, ["web", "--host", "0.0.0.0", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2
    assert "warning" in result.output and "0.0.0.0" in result.output and "no such results database" in result.output
