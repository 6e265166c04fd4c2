"""The survey as one self-contained HTML file: styles, scripts, plot data and plotly.js inline; no request leaves it.

Untrusted text (model output, names, benchmark data) reaches the page three ways, each escaped: through Jinja's
autoescape into HTML and attributes, through `script_json` into <script type="application/json"> blocks, and
through plots.esc into plot labels. The page's Content-Security-Policy allows only the inline scripts whose
SHA-256 it lists: an injected <script> or an inline event handler never runs, and nothing can be fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib.resources import files

import jinja2
from markupsafe import Markup

from . import judgement, plots
from .survey import finite

ASSETS = files("pandian.report") / "assets"


def script_json(obj) -> str:
    """JSON that cannot close its <script> element or open a comment: <, > and & written as \\u escapes."""
    text = json.dumps(finite(obj), ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def content_security_policy(scripts: list[str]) -> str:
    return ("default-src 'none'; script-src " + " ".join(csp_hash(s) for s in scripts) +
            "; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'")


def asset(name: str) -> str:
    return (ASSETS / name).read_text("utf-8")


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(asset), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=lambda x, d=1: "–" if plots.pct(x) is None else f"{100 * x:.{d}f}",
                       ci=lambda ci: "–" if plots.pct(ci[0]) is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}",
                       num=lambda x, d=2: "–" if x is None else f"{x:.{d}f}",
                       dci=lambda ci: "–" if plots.pct(ci[0]) is None else
                       f"{100 * ci[0]:+.1f} to {100 * ci[1]:+.1f}",
                       iv=lambda ci, d=3: "–" if ci[0] is None else f"{ci[0]:.{d}f}–{ci[1]:.{d}f}")
    return env


def plotted_published(rows: list[dict], top: int = 10) -> list[dict]:
    """The published scores a bar chart shows: those of models measured here, and the best `top` others (the
    table lists them all)."""
    return [p for i, p in enumerate(rows) if p.get("measured_run") or i < top]


def figures(data: dict) -> dict[str, dict]:
    """Every plot of the report by the id the template places it under."""
    runs, out = data["runs"], {}
    for b in data["benchmarks"]:
        views = [runs[r] for r in b["runs"]]
        out[f"acc-{b['benchmark']}"] = plots.accuracy_bars(b, views, plotted_published(b["published"]))
        if len(b["categories"]) > 1:
            out[f"cat-{b['benchmark']}"] = plots.category_bars(b, views)
        if len(b["categories"]) > 2:
            for v in views:
                out[f"radar-{v['run_id']}"] = plots.radar(b, v)
    for i, g in enumerate(data["versions"]):
        for axis in ("memory", "speed"):
            fig = plots.pareto_scatter(g, runs, axis)
            if fig:
                out[f"pareto-{i}-{axis}"] = fig
    return out


def render_html(data: dict) -> str:
    figs = figures(data)
    lib, app_js = plotly_js(), asset("report.js")
    return environment().get_template("report.html.j2").render(
        data=data, judgement=judgement, status=judgement.section_status(data), figures=figs,
        csp=content_security_policy([lib, app_js]), css=Markup(asset("report.css")), plotly=Markup(lib),
        app_js=Markup(app_js), figures_json=Markup(script_json(figs)),
        records_json=Markup(script_json(data.get("records") or {})))
