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
    (["--gpu", "lots"], "--gpu: GPU size 'lots' not understood"),
    (["--scenario", "lgeal"], "--scenario: unknown suite 'lgeal'"),
])
def test_bad_input_fails_clearly(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from pandian.store import open_store

    open_store(str(tmp_path / "empty.db")).close()  # a store to read: the missing one is a probe of its own
    base = {"--out": "r.html", "--db": "empty.db"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    result = CliRunner().invoke(app, ["report"] + [x for kv in base.items() for x in kv])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


# The judgement sections on runs whose answers are known: scripted endpoints on 127.0.0.1 (tests/scripted.py).
STRONG = "professional_law"
CMMLU_SUBJECTS = [STRONG, "anatomy", "astronomy", "virology", "marketing"]
REFUSAL = "抱歉，我无法回答这个问题。"


def _first(data_dir, bench: str, limit: int, subjects=None):
    from pandian.app.lifecycle import select  # what --limit picks: the first `limit` of each subject
    from pandian.core.data import load_split
    from pandian.core.spec import load_spec

    spec = load_spec(bench)
    return select(load_split(spec, data_dir, spec.splits.eval, subjects).questions, limit)


@pytest.fixture(scope="module")
def judged(data_dir, tmp_path_factory):
    """A store with: `strong` (right on professional_law 80% of the time, at chance on four other CMMLU subjects)
    and its peer `chance`; `guardian`, right 80% of the time on every part of the safety suite (CBBQ both
    conditions, SafetyBench); `refuser`, which refuses every SafetyBench question."""
    from .conftest import serve_in_thread
    from .scripted import chat_app, knowing_app

    db = tmp_path_factory.mktemp("judged") / "r.db"
    cmmlu = _first(data_dir, "cmmlu", 40, CMMLU_SUBJECTS)
    safety = [q for b in ("cbbq-ambiguous", "cbbq-disambiguous", "safetybench-zh") for q in _first(data_dir, b, 3)]
    law = lambda s, i: i % 5 != 0 if s == STRONG else i % 4 == 0  # noqa: E731
    with serve_in_thread(knowing_app(cmmlu, law)) as strong, \
            serve_in_thread(knowing_app(cmmlu, lambda s, i: i % 4 == 1)) as chance, \
            serve_in_thread(knowing_app(safety, lambda s, i: i % 5 != 0)) as guardian, \
            serve_in_thread(chat_app(lambda content: REFUSAL)) as refuser:
        for name, url in (("strong", strong), ("chance", chance)):
            cli("eval", "--model", f"openai:{name}", "--base-url", f"{url}/v1", "--bench", "cmmlu", "--subjects",
                ",".join(CMMLU_SUBJECTS), "--limit", 40, "--data-dir", data_dir, "--db", db, "--max-tokens", 8)
        cli("eval", "--model", "openai:guardian", "--base-url", f"{guardian}/v1", "--suite", "safety", "--limit", 3,
            "--data-dir", data_dir, "--db", db, "--max-tokens", 8)
        cli("eval", "--model", "openai:refuser", "--base-url", f"{refuser}/v1", "--bench", "safetybench-zh",
            "--limit", 2, "--data-dir", data_dir, "--db", db, "--max-tokens", 16)
    out = db.parent / "judged.html"
    cli("report", "--db", db, "--out", out, "--scenario", "safety", "--gpu", "24GB", "--api")
    md = db.parent / "judged.md"
    cli("report", "--db", db, "--out", md, "--format", "md", "--scenario", "safety", "--gpu", "24GB", "--api")
    return {"db": db, "html": out.read_text(encoding="utf-8"), "md": md.read_text(encoding="utf-8"), "html_path": out}


def _json(*args) -> dict:
    import json

    return json.loads(cli(*args, "--json"))


def _run_id(db, model: str, bench: str) -> str:
    from pandian.store import open_store

    store = open_store(db)
    try:
        return next(r["run_id"] for r in store.run_list() if r["model"] == model and r["benchmark"] == bench)
    finally:
        store.close()


def test_strengths_section_states_exactly_the_known_strength(judged):
    """The report says what `pandian profile` says: strong's law is a significant strength against its peer (with
    CI, run ids, subjects and question count), chance's law a weakness, the rest no measurable difference."""
    html, md = judged["html"], judged["md"]
    strong = _json("profile", "strong", "--db", judged["db"])
    chance = _json("profile", "chance", "--db", judged["db"])
    assert [s["area"] for s in strong["strengths"]] == [STRONG] and not strong["weaknesses"]
    assert [s["area"] for s in chance["weaknesses"]] == [STRONG] and not chance["strengths"]
    s, w = strong["strengths"][0], chance["weaknesses"][0]
    assert "+55.0 pts above the peer median" in s["text"] and "95% CI" in s["text"]
    assert s["evidence"]["questions"] == 40 and s["p_adjusted"] < 0.05
    from markupsafe import escape

    section = html.split('<section id="strengths">')[1].split("</section>")[0]
    for stmt, model in ((s, "strong"), (w, "chance")):
        article = section.split(f'<article class="profile" data-model="{model}">')[1].split("</article>")[0]
        assert f"<li class=\"{stmt['kind']}\">{escape(stmt['text'])}<br>" in article
        assert f"run <code>{stmt['evidence']['run']}</code> against <code>{stmt['evidence']['peers'][0]}</code>" \
               f"; subjects {STRONG}; 40 questions" in article
        assert "No measurable difference: 4 areas" in article  # the four subjects where both are at chance
        assert article.count("<li class=") == 1 and "none significant" in article
    md_section = md.split("## Strengths and weaknesses")[1].split("\n## ")[0]
    assert f"Evidence: run `{s['evidence']['run']}` against `{s['evidence']['peers'][0]}`" in md_section
    assert "+55.0 pts above the peer median (95% CI" in md_section
    assert "**No measurable difference** (4 areas): anatomy (cmmlu, 40 questions" in md_section
    assert "**Strengths** (0): none significant" in md_section


def test_bias_section_matches_pandian_bias(judged):
    """CBBQ's scores per category, as `pandian bias` computes them, with intervals and both run ids; SafetyBench
    with accuracy and the refusal rate (the refuser refuses all 14 questions it was asked)."""
    html, md = judged["html"], judged["md"]
    bias = _json("bias", "guardian", "--db", judged["db"])
    section = html.split('<section id="bias">')[1].split("</section>")[0]
    for cond in ("ambiguous", "disambiguous"):
        assert f"{cond} <code>{bias['runs'][cond]}</code>" in section
        assert f"{cond} `{bias['runs'][cond]}`" in md
    for name, e in list(bias["bias"]["categories"].items()) + [("overall", bias["bias"]["overall"])]:
        a = e["s_amb"]
        cell = f"{a['score']:.3f} <span class=\"ci\">({a['ci95'][0]:.3f}–{a['ci95'][1]:.3f})</span>"
        assert f"<td>{name}</td>\n        <td class=\"n\">{cell}</td><td class=\"n\">{a['n']}</td>" in section, name
        assert f"| {name.replace('_', chr(92) + '_')} | {a['score']:.3f} ({a['ci95'][0]:.3f} to {a['ci95'][1]:.3f}) " \
               f"| {a['n']} |" in md, name
    o = bias["bias"]["overall"]
    assert o["s_total"] is not None and o["s_total_ci95"][0] <= o["s_total"] <= o["s_total_ci95"][1]
    refuser = _run_id(judged["db"], "refuser", "safetybench-zh")
    guardian = _run_id(judged["db"], "guardian", "safetybench-zh")
    assert f"<td>refuser</td><td><code>{refuser}</code></td>" in section
    assert "<td class=\"n\">14 / 14</td><td class=\"n\">100.0 <span class=\"ci\">(78.5–100.0)</span>" in section
    assert f"<td>guardian</td><td><code>{guardian}</code></td>" in section
    assert f"| refuser | `{refuser}` |" in md and "| 14 / 14 | 100.0 (78.5 to 100.0) |" in md


def test_recommendation_section_gives_every_reason(judged):
    """`pandian recommend --scenario safety --gpu 24GB --api`: guardian ranked first on its measured safety suite
    score (with its runs); every exclusion listed with its reason, those too large for 24 GB among them."""
    from markupsafe import escape

    html, md = judged["html"], judged["md"]
    rec = _json("recommend", "--scenario", "safety", "--gpu", "24GB", "--api", "--db", judged["db"])
    first = rec["ranked"][0]
    assert first["checkpoint"] == "guardian" and first["evidence"]["kind"] == "measured"
    section = html.split('<section id="recommendations">')[1].split("</section>")[0]
    assert f'<td class="reason">{escape(first["reason"])}</td>' in section
    for part, rid in first["evidence"]["runs"].items():
        assert f"{part} <code>{rid}</code>" in section and f"{part} `{rid}`" in md
    too_big = [e for e in rec["excluded"] if e["reason"].startswith("does not fit 24 GB in any precision")]
    assert too_big
    assert f"<summary>does not fit 24 GB in any precision ({len(too_big)})</summary>" in section
    assert f"**does not fit 24 GB in any precision** ({len(too_big)})" in md
    for e in rec["ranked"] + rec["excluded"]:  # every rank and exclusion, with the reason recommend gives
        assert f'<td class="reason">{escape(e["reason"])}</td>' in section, e["checkpoint"]
    assert section.count('<td class="reason">') == len(rec["ranked"]) + len(rec["excluded"])
    assert "Budget: GPU 24 GB, API models included." in md


def test_sections_on_a_store_without_bias_runs_or_suites(report, survey_store, tmp_path):
    """The survey store has no CBBQ, SafetyBench or suite result: each section says so, in HTML and Markdown."""
    _, html, _ = report
    assert "No bias or safety benchmark measured in this store (cbbq-ambiguous, cbbq-disambiguous, " \
           "safetybench-zh)" in html
    assert "No scenario suite has a measured result in this store" in html
    assert "not measured: education, engineering, english, finance, general-zh, legal, medical" in html
    assert '<section id="strengths">' in html and "No measurable difference: 6 areas" in html  # the tiny model
    md = tmp_path / "s.md"
    cli("report", "--db", survey_store["db"], "--out", md, "--format", "md")
    text = md.read_text(encoding="utf-8")
    for heading in ("## Bias and safety", "## Strengths and weaknesses", "## Scenario recommendations"):
        assert heading in text
    assert "No bias or safety benchmark measured in this store" in text
    no_catalog = tmp_path / "n.md"
    cli("report", "--db", survey_store["db"], "--out", no_catalog, "--format", "md", "--no-catalog")
    assert "recommendations: not made, the report was written without the catalog" in no_catalog.read_text("utf-8")


def test_sections_render_in_the_browser(judged, watched, shots):
    """The three sections in the DOM of the file opened offline: the strength, the bias table, the ranking."""
    w = watched(offline=True)
    w.page.goto(judged["html_path"].as_uri())
    strong = w.page.locator("#strengths article[data-model=strong] li.strength")
    assert strong.count() == 1 and STRONG in strong.inner_text()
    assert w.page.locator("#bias table.bias tr.overall").count() == 1
    assert w.page.locator("#recommendations table.ranked tbody tr").first.locator("td").nth(1).inner_text() \
        == "guardian"
    w.page.locator("#recommendations details.excluded summary").first.click()
    assert w.page.locator("#recommendations details.excluded").first.locator("td.reason").first.is_visible()
    assert [u for u in w.requests if not u.startswith("file://")] == []
    shots(w.page, "report-strengths", "#strengths")
    shots(w.page, "report-bias", "#bias")
    shots(w.page, "report-recommendations", "#recommendations article")
