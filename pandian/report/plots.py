"""Plotly figures as plain JSON (data + layout), drawn in the page by the plotly.js embedded in it.

Labels come from model names, subjects and file names, all untrusted: plotly.js reads a few HTML-like tags in
text (<b>, <br>, <a href>), so every label is HTML-escaped here and shows literally.
"""

from __future__ import annotations

import html
import math

MEASURED = "#2563eb"
PUBLISHED = "#9ca3af"
FRONTIER = "#dc2626"
FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"


def esc(text) -> str:
    return html.escape(str(text), quote=False)


def _layout(title: str, **kw) -> dict:
    return {"title": {"text": esc(title)}, "font": {"family": FONT, "size": 12}, "margin": {"l": 60, "r": 20,
            "t": 40, "b": 80}, "height": 360, "legend": {"orientation": "h", "y": -0.25}, **kw}


def pct(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(100 * x, 2)


def unique(labels: list[str]) -> list[str]:
    """Category labels made distinct (plotly stacks the bars of one trace that share a category)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def accuracy_bars(bench: dict, views: list[dict], published: list[dict]) -> dict:
    """Overall accuracy per run (bar, 95% interval as error bar) and published scores (hatched grey bars)."""
    x = [esc(v["label"]) + "<br>" + v["run_id"][:8] for v in views]
    acc = [v["accuracy"]["overall"]["questions"] for v in views]
    data = [{"type": "bar", "name": "measured", "x": x, "y": [pct(a["acc"]) for a in acc],
             "marker": {"color": MEASURED},
             "error_y": {"type": "data", "symmetric": False,
                         "array": [pct(a["ci95"][1] - a["acc"]) for a in acc],
                         "arrayminus": [pct(a["acc"] - a["ci95"][0]) for a in acc]},
             "hovertemplate": "%{x}: %{y:.2f}%<extra>measured</extra>"}]
    if published:
        data.append({"type": "bar", "name": "published", "x": unique([esc(p["label"]) + " †" for p in published]),
                     "y": [p["score"] for p in published], "text": [esc(p["source"]) for p in published],
                     "textposition": "none",
                     "marker": {"color": PUBLISHED, "pattern": {"shape": "/"}},
                     "hovertemplate": "%{x}: %{y:.2f}%<br>%{text}<extra>published</extra>"})
    return {"data": data, "layout": _layout(f"{bench['title']}: overall accuracy (%)", barmode="overlay",
                                            xaxis={"automargin": True, "tickangle": -30},
                                            yaxis={"title": {"text": "accuracy %"}, "rangemode": "tozero"})}


def category_bars(bench: dict, views: list[dict]) -> dict:
    cats = bench["categories"]
    data = []
    for v in views:
        c = v["accuracy"]["categories"]
        data.append({"type": "bar", "name": esc(v["label"]) + " " + v["run_id"][:6], "x": [esc(k) for k in cats],
                     "y": [pct(c[k]["questions"]["acc"]) if k in c else None for k in cats],
                     "error_y": {"type": "data", "symmetric": False,
                                 "array": [pct(c[k]["questions"]["ci95"][1] - c[k]["questions"]["acc"])
                                           if k in c else None for k in cats],
                                 "arrayminus": [pct(c[k]["questions"]["acc"] - c[k]["questions"]["ci95"][0])
                                                if k in c else None for k in cats]}})
    return {"data": data, "layout": _layout(f"{bench['title']}: accuracy by category (%)", barmode="group",
                                            yaxis={"title": {"text": "accuracy %"}, "rangemode": "tozero"})}


def radar(bench: dict, view: dict) -> dict:
    """One run's accuracy over the benchmark's categories (the polygon closes on its first category)."""
    cats = [c for c in bench["categories"] if c in view["accuracy"]["categories"]]
    r = [pct(view["accuracy"]["categories"][c]["questions"]["acc"]) for c in cats]
    return {"data": [{"type": "scatterpolar", "r": r + r[:1], "theta": [esc(c) for c in cats + cats[:1]],
                      "fill": "toself", "name": esc(view["label"]), "marker": {"color": MEASURED}}],
            "layout": {**_layout(f"{view['label']} ({view['run_id'][:8]})", height=300),
                       "polar": {"radialaxis": {"range": [0, 100]}}, "showlegend": False,
                       "margin": {"l": 80, "r": 80, "t": 50, "b": 30}}}


def pareto_scatter(group: dict, views: dict[str, dict], axis: str) -> dict:
    """Accuracy against peak memory (lower is better) or questions/s (higher is better), frontier in red."""
    key, name = ("peak_memory_gb", "peak memory (GB)") if axis == "memory" else ("questions_per_s", "questions/s")
    dominated = group["dominated"][axis]
    pts = [(views[r], views[r]["cost"][key]) for r in group["runs"] if r in dominated]
    if not pts:
        return {}
    data = []
    for flag, label, symbol in ((False, "on the Pareto frontier", "circle"), (True, "dominated", "circle-open")):
        sel = [(v, c) for v, c in pts if dominated[v["run_id"]] == flag]
        data.append({"type": "scatter", "mode": "markers+text", "name": label, "x": [c for _, c in sel],
                     "y": [pct(v["accuracy"]["overall"]["questions"]["acc"]) for v, _ in sel],
                     "text": [esc(v["label"]) for v, _ in sel], "textposition": "top center", "cliponaxis": False,
                     "marker": {"size": 11, "symbol": symbol, "color": FRONTIER if not flag else MEASURED}})
    front = sorted((c, pct(v["accuracy"]["overall"]["questions"]["acc"])) for v, c in pts
                   if not dominated[v["run_id"]])
    data.append({"type": "scatter", "mode": "lines", "name": "frontier", "x": [c for c, _ in front],
                 "y": [a for _, a in front], "line": {"color": FRONTIER, "dash": "dot"}})
    return {"data": data, "layout": _layout(f"{group['title']}: accuracy vs {name}",
                                            xaxis={"title": {"text": name}, "automargin": True},
                                            yaxis={"title": {"text": "accuracy %"}})}
