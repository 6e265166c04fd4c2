"""The survey as Markdown: the same sections as the HTML report, tables instead of plots.

Cells are escaped for Markdown and for HTML (renderers pass HTML through): |, backticks, emphasis, brackets and
angle brackets in model names or output never become markup or links. Measured numbers carry their interval and
run id; published ones are marked † and carry their source.
"""

from __future__ import annotations

import math
import re

_SPECIAL = re.compile(r"([\\`*_\[\]|])")


class Raw(str):
    """A cell this module wrote as Markdown (numbers, code spans of run ids): not escaped again."""


def cell(text) -> str:
    s = "" if text is None else str(text)
    if isinstance(text, Raw):
        return s
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", " ").replace("\n", " ")
    return _SPECIAL.sub(r"\\\1", s)


def pct(x, d: int = 1) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.{d}f}"


def ci(c) -> Raw:
    return Raw("–" if c[0] is None or math.isnan(c[0]) else f"{100 * c[0]:.1f} to {100 * c[1]:.1f}")


def table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows] + [""]


def code(text: str) -> Raw:
    return Raw("`" + text.replace("`", "") + "`")


def link(text: str, url: str | None) -> Raw:
    if not url:
        return Raw(cell(text))
    return Raw(f"[{cell(text)}](<{url.replace('<', '%3C').replace('>', '%3E')}>)")


def render_markdown(data: dict) -> str:
    runs = data["runs"]
    out = ["# 盘点 pandian survey", "",
           f"{len(runs)} measured runs on {len(data['benchmarks'])} benchmarks. Generated {data['generated']}.", "",
           "Measured numbers: accuracy % with its 95% interval and the run id. Published numbers (†) come from the "
           "catalog, each with its source.", ""]
    if data.get("catalog"):
        out += ["## Catalog", ""] + catalog_lines(data["catalog"])
    out += ["## Performance by benchmark and category", ""]
    for b in data["benchmarks"]:
        out += [f"### {cell(b['title'])} ({cell(b['benchmark'])})", ""] + benchmark_lines(b, runs)
    if data["versions"]:
        out += ["## Versions: accuracy against cost", ""]
        for g in data["versions"]:
            out += version_lines(g, runs)
    out += ["## Runs", ""]
    out += table(["run id", "model", "benchmark", "setting", "records", "hardware"],
                 [[code(rid), v["model"] + (f" [{v['variant']}]" if v["variant"] else ""), v["benchmark"],
                   setting(v["setting"]), v["records"], v["cost"].get("hardware") or "–"]
                  for rid, v in runs.items()])
    return "\n".join(out)


def setting(s: dict) -> str:
    return f"{s['split']}, {s['shots']}-shot, {s['prompt_format']}, {s['scoring']}"


def benchmark_lines(b: dict, runs: dict) -> list[str]:
    rows = []
    for rid in b["runs"]:
        v = runs[rid]
        q, m = v["accuracy"]["overall"]["questions"], v["accuracy"]["overall"]["subject_mean"]
        cats = [Raw(pct(v["accuracy"]["categories"][c]["questions"]["acc"]))
                if c in v["accuracy"]["categories"] else Raw("–") for c in b["categories"]]
        rows.append([v["label"], code(rid[:12]), q["n"], Raw(f"{pct(q['acc'], 2)} ({ci(q['ci95'])})"),
                     Raw(f"{pct(m['acc'], 2)} ({ci(m['ci95'])})"), *cats])
    out = table(["model", "run", "questions", "accuracy % (95% CI)", "subject mean % (95% CI)", *b["categories"]],
                rows)
    if b["published"]:
        out += [f"Published (†), {len(b['published'])} scores:", ""]
        out += table(["model", "score †", "setting as published", "source", "against the measured run"],
                     [[p["label"], Raw(f"{p['score']:.1f} †"), p["setting"] or "not stated",
                       link(p["source"], p["url"]),
                       (f"run {p['measured_run'][:8]}: " + ("; ".join(p["differences"]) or "same setting"))
                       if p.get("measured_run") else ""] for p in b["published"]])
    return out


def version_lines(g: dict, runs: dict) -> list[str]:
    s = g["setting"]
    out = [f"### {cell(g['title'])}: {s['shots']}-shot, {cell(s['prompt_format'])}, {cell(s['scoring'])}", ""]
    rows = []
    for rid in g["runs"]:
        v, c = runs[rid], runs[rid]["cost"]
        front = " / ".join(("dominated" if g["dominated"][a][rid] else "frontier") if rid in g["dominated"][a]
                           else "–" for a in ("memory", "speed"))
        rows.append([code(rid[:12]), v["label"], Raw(pct(v["accuracy"]["overall"]["questions"]["acc"], 2)),
                     _num(c.get("peak_memory_gb"), 3), _num(c.get("questions_per_s"), 1), front])
    out += table(["run", "model", "accuracy %", "peak memory GB", "questions/s", "Pareto (memory / speed)"], rows)
    for p in g["pairs"]:
        out += [f"**{cell(p['label'])}** against **{cell(p['base_label'])}**: Δ {100 * p['delta']:+.2f} points "
                f"(95% CI {ci(p['ci95'])}) on {p['questions']} questions; {p['right_to_wrong']} right→wrong, "
                f"{p['wrong_to_right']} wrong→right (McNemar p = {p['mcnemar_p']:.3g}).", ""]
    return out


def _num(x, d: int) -> Raw:
    return Raw("–" if x is None else f"{x:.{d}f}")


def catalog_lines(catalog: dict) -> list[str]:
    return [f"{len(catalog['models'])} models as published (catalog `{catalog['fingerprint']}`).", ""] + table(
        ["model", "organisation", "open weights", "licence", "released", "sources"],
        [[m["name"], m["org"], m["open_weights"], m["licence"], m["release"],
          Raw("; ".join(link(s["text"], s["url"]) for s in m["sources"]))] for m in catalog["models"]])
