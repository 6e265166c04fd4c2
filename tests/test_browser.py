"""The report and the web app in a real browser (headless Debian chromium through playwright), on the real runs.

The report opens from file:// with the network off and every request outside the file refused: its plots must be
drawn (SVG in the DOM, not just JSON in the HTML). The web app is driven as a user would: sort by a column, filter,
open a run, keep only wrong answers, search, open a question, tick two runs and compare them. Hostile model output,
names and question ids must show as text while nothing runs: no dialog, no console error (a CSP violation is one),
no window.__pwned. Screenshots are written for people to look at (PANDIAN_SCREENSHOTS=DIR keeps them).
"""

from __future__ import annotations

import pytest

from .conftest import cli, serve_in_thread
from .survey_runs import IMG, JS_URL, SCRIPT


@pytest.fixture(scope="module")
def report_file(survey_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "survey.html"
    cli("report", "--db", survey_store["db"], "--out", out, "--with-records")
    return out


@pytest.fixture(scope="module")
def site(survey_store):
    from pandian.app.prompts import recorded_prompt
    from pandian.catalog import load_catalog
    from pandian.store import open_store
    from pandian.web import create_app

    store = open_store(survey_store["db"])
    app = create_app(store, catalog=load_catalog(), prompts=lambda rid, qid: recorded_prompt(store, rid, qid))
    with serve_in_thread(app) as url:
        yield url
    store.close()


def offline(w):
    """Refuse every request that is not the file itself."""
    w.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                 else route.abort())
    return w


def test_report_renders_its_plots_offline(watched, shots, report_file):
    w = offline(watched(offline=True))
    w.page.goto(report_file.as_uri())
    w.page.wait_for_selector("[data-figure][data-rendered=true]")
    figures = w.page.locator("[data-figure]")
    w.page.wait_for_function("document.querySelectorAll('[data-figure]').length === "
                             "document.querySelectorAll('[data-figure][data-rendered=true]').length")
    n = figures.count()
    assert n >= 5  # accuracy bars, category bars, radars, Pareto plots
    for i in range(n):  # every plot holds a drawn SVG with marks in it
        svg = figures.nth(i).locator("svg.main-svg").first
        assert svg.is_visible()
        assert figures.nth(i).locator("path.point, g.trace path, path.surface").count() > 0
    assert [u for u in w.requests if not u.startswith("file://")] == []
    bars = w.page.locator("[data-figure^=acc-cmmlu] g.trace.bars")
    assert bars.count() == 2  # measured and published bars, drawn as two traces
    shots(w.page, "report-performance", "#bench-cmmlu")
    shots(w.page, "report-versions", "#versions article")


def test_report_question_browser_shows_hostile_text_as_text(watched, shots, report_file, survey_store):
    w = offline(watched(offline=True))
    w.page.goto(report_file.as_uri())
    w.page.select_option("#record-run", survey_store["api"])
    rows = w.page.locator("#record-rows tr")
    assert rows.count() == 5
    text = w.page.locator("#record-rows").inner_text()
    for payload in (SCRIPT, IMG, JS_URL):
        assert payload in text
    w.page.fill("#record-search", "javascript:")
    assert rows.count() == 1
    assert w.page.evaluate("window.__pwned") is None
    assert w.page.locator("#record-rows img, #record-rows script, a[href^='javascript:']").count() == 0
    shots(w.page, "report-hostile-records", "#records")


def test_leaderboard_sort_filter_compare(watched, shots, site, survey_store):
    w = watched()
    p = w.page
    p.goto(site + "/?source=all&benchmark=cmmlu")
    assert p.locator("table.board tbody tr.published").count() == 100  # one page of the 200+ published rows
    assert p.locator("nav.pager a[rel=next]").count() == 1
    shots(p, "web-leaderboard-published")
    # filter: measured only (a select applies on change, through the page's script)
    with p.expect_navigation():
        p.select_option("select[name=source]", "measured")
    assert "source=measured" in p.url
    assert p.locator("table.board tbody tr.published").count() == 0
    assert p.locator("table.board tbody tr.measured").count() == 2
    # sort by accuracy, ascending: the header toggles the order
    p.click("th a[data-sort=accuracy]")
    assert "sort=accuracy" in p.url and "order=asc" in p.url
    acc = [float(t.split()[0]) for t in p.locator("table.board tbody tr td.acc").all_inner_texts()]
    assert acc == sorted(acc) and len(acc) == 2
    p.click("th a[data-sort=accuracy]")
    acc = [float(t.split()[0]) for t in p.locator("table.board tbody tr td.acc").all_inner_texts()]
    assert acc == sorted(acc, reverse=True)
    shots(p, "web-leaderboard-measured")
    # compare: tick the two CMMLU runs
    button = p.locator("#compare-button")
    assert button.is_disabled()
    p.check(f"input[value='{survey_store['fp32']}']")
    p.check(f"input[value='{survey_store['int8']}']")
    assert button.is_enabled()
    with p.expect_navigation():
        button.click()
    assert "/compare?" in p.url
    delta = p.locator("#delta-1").inner_text()
    assert "Δ accuracy" in delta and "McNemar" in delta
    total = int(p.locator("section.pair .switch .meta").inner_text().split()[0])
    assert p.locator("table.side-by-side tbody tr").count() == min(total, 50)
    shots(p, "web-compare", full_page=True)


def test_run_drill_down_and_question(watched, shots, site, survey_store):
    w = watched()
    p = w.page
    p.goto(f"{site}/runs/{survey_store['fp32']}")
    assert p.locator("#records tbody tr").count() == 48
    with p.expect_navigation():
        p.select_option("select[name=outcome]", "wrong")
    wrong = p.locator("#records tbody tr")
    assert wrong.count() == p.locator("#records tbody tr.wrong").count() > 0
    p.fill("input[name=search]", "chinese_history")
    with p.expect_navigation():
        p.click("#record-filters button[type=submit]")
    subjects = set(p.locator("#records tbody tr td:nth-child(2)").all_inner_texts())
    assert subjects <= {"chinese_history"}
    shots(p, "web-run-drill-down")
    p.goto(f"{site}/runs/{survey_store['fp32']}/question?qid=anatomy/3")
    assert p.locator("#choices tbody tr").count() == 4
    assert "exactly what the model was shown" in p.locator("#prompt-check").inner_text()
    assert "解剖" in p.locator("#prompt").inner_text()  # CMMLU's anatomy prompt, in Chinese
    assert p.locator("#verdict").inner_text().startswith("prediction")
    shots(p, "web-question")


def test_hostile_output_never_runs_in_the_app(watched, shots, site, survey_store):
    w = watched()
    p = w.page
    api = survey_store["api"]
    p.goto(f"{site}/runs/{api}")
    body = p.locator("#records").inner_text()
    for payload in (SCRIPT, IMG, JS_URL):
        assert payload in body
    assert "法律" in body or "法律" in p.locator("select[name=subject]").inner_text()
    shots(p, "web-hostile-run")
    hrefs = [a.get_attribute("href") for a in p.locator("#records tbody tr td:first-child a").all()]
    assert len(hrefs) == 5
    for href in hrefs:  # every question page, the one whose id is an <svg onload> included
        p.goto(site + href)
        assert p.locator("h1 code").inner_text()
    p.goto(site + "/?kind=api")
    p.click("table.board tbody tr td:nth-child(2) a")  # the model link, its name an <img onerror>
    assert "scripted-<img src=x onerror=alert('model')>" in p.locator("h1").inner_text()
    assert p.evaluate("window.__pwned") is None
    assert p.locator("main img, main script, main svg, a[href^='javascript:']").count() == 0


def test_chinese_text_renders_with_a_cjk_font(watched, site, survey_store):
    w = watched()
    p = w.page
    p.goto(f"{site}/runs/{survey_store['api']}")
    cdp = p.context.new_cdp_session(p)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#records tbody tr td:nth-child(2)"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    assert any("WenQuanYi" in f["familyName"] or "CJK" in f["familyName"] for f in fonts), fonts
