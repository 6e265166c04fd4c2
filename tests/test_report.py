"""`pandian report` on real runs (tiny model fp32 + int8, a scripted API endpoint with hostile output): one
self-contained HTML file, the Markdown version, measured numbers with interval and run id, published ones with
their source, the versions section, escaping, and bad input."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from pandian.cli import app

from .conftest import cli
from .survey_runs import HOSTILE_MODEL, PAYLOADS


class Page(HTMLParser):
    """What the browser would load or run: tag attributes, inline scripts, the CSP."""

    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
        if tag == "script":
            self._in_script, self._buf = dict(attrs), []

    def handle_data(self, data):
        if self._in_script is not None:
            self._buf.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._buf)))
            self._in_script = None


@pytest.fixture(scope="module")
def report(survey_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "survey.html"
    text = cli("report", "--db", survey_store["db"], "--out", out)
    assert f"wrote {out}" in text
    html = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    return out, html, page


def test_report_is_self_contained(report):
    out, html, page = report
    # nothing that a browser would fetch: no src/href to another origin, no CDN script, no stylesheet link
    fetched = [(t, k, v) for t, k, v in page.attrs if k in ("src", "srcset", "data") or (t == "link" and k == "href")]
    assert fetched == [], fetched
    links = [v for t, k, v in page.attrs if t == "a" and k == "href"]
    assert all(v.startswith(("#", "https://", "http://")) for v in links), [v for v in links if "://" not in v][:5]
    code = [s for a, s in page.scripts if "type" not in a]
    assert len(code) == 2 and "plotly" in code[0][:300].lower()  # plotly.js and the report's own script, inline
    assert out.stat().st_size < 6 * 2**20


def test_csp_allows_exactly_the_inline_scripts(report):
    _, html, page = report
    csp = next(v for t, k, v in page.attrs if t == "meta" and k == "content" and "script-src" in v)
    allowed = set(re.findall(r"'sha256-([^']+)'", csp))
    code = [s for a, s in page.scripts if "type" not in a]
    assert allowed == {base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in code}
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]  # inline handlers stay forbidden
    assert "default-src 'none'" in csp


def test_measured_numbers_carry_interval_and_run_id(report, survey_store):
    from pandian.core.metrics import wilson
    from pandian.store import open_store

    _, html, _ = report
    store = open_store(survey_store["db"])
    for key in ("fp32", "int8"):
        run_id = survey_store[key]
        recs = [r for r in store.records(run_id) if r.correct is not None]
        k, n = sum(r.correct for r in recs), len(recs)
        lo, hi = wilson(k, n)
        cell = f"{100 * k / n:.2f} <span class=\"ci\">({100 * lo:.1f}–{100 * hi:.1f})</span>"
        assert cell in html, cell  # the same number as the records give, with its Wilson interval
        assert run_id[:12] in html
    store.close()
    assert "<h4>model [int8] against model [float32]</h4>" in html  # the variant paired with its base
    assert "right→wrong" in html and "McNemar" in html


def test_published_numbers_carry_their_source(report):
    _, html, _ = report
    m = re.search(r"(\d+) published scores \(†\), each with its source", html)
    assert m and int(m.group(1)) > 100  # CMMLU's published overall scores from the catalog
    assert 'href="https://github.com/haonan-li/CMMLU/blob/' in html


def test_hostile_text_is_escaped_everywhere(report):
    _, html, page = report
    for payload in PAYLOADS + (HOSTILE_MODEL,):
        assert payload not in html  # never verbatim: every occurrence is escaped
    assert "scripted-&lt;img src=x onerror=alert(&#39;model&#39;)&gt;" in html  # shown, as text
    assert not any(k.startswith("on") for _, k, _ in page.attrs)  # no inline event handler anywhere
    for a, s in page.scripts:
        if a.get("type") == "application/json":
            assert "</" not in s and "<script" not in s.lower()


def test_no_secret_in_the_report(report, survey_store, tmp_path):
    _, html, _ = report
    assert survey_store["secret"] not in html
    md = tmp_path / "survey.md"
    cli("report", "--db", survey_store["db"], "--out", md, "--format", "md", "--with-records")
    assert survey_store["secret"] not in md.read_text(encoding="utf-8")


def test_markdown_version(survey_store, tmp_path):
    out = tmp_path / "survey.md"
    cli("report", "--db", survey_store["db"], "--out", out, "--format", "md")
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# 盘点 pandian survey")
    for section in ("## Catalog", "## Performance by benchmark and category", "## Versions: accuracy against cost",
                    "## Runs"):
        assert section in md
    assert survey_store["fp32"] in md and "†" in md
    for payload in PAYLOADS:
        assert payload not in md
    assert "\\[int8\\]" in md  # Markdown's own syntax escaped in cells


def test_with_records_embeds_every_record_as_json(survey_store, tmp_path):
    out = tmp_path / "full.html"
    cli("report", "--db", survey_store["db"], "--out", out, "--with-records", "--no-catalog")
    html = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    import json

    data = json.loads(next(s for a, s in page.scripts if a.get("id") == "records-data"))
    assert set(data) == {survey_store["fp32"], survey_store["int8"], survey_store["api"]}
    responses = {r["response"] for r in data[survey_store["api"]]}
    assert any(PAYLOADS[0] in r for r in responses)  # the raw text survives, as JSON data, not as markup
    assert "## Catalog" not in html and 'id="catalog"' not in html


@pytest.mark.parametrize("args, message", [
    (["--format", "pdf"], "--format must be html or md"),
    (["--db", "missing.db"], "no such results database"),
    (["--out", "no/such/folder/r.html"], "does not exist"),
])
def test_bad_input_fails_clearly(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = {"--out": "r.html"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    result = CliRunner().invoke(app, ["report"] + [x for kv in base.items() for x in kv])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()
