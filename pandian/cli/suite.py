"""`pandian eval --suite NAME` (one model on every part of a scenario suite) and `pandian suites`."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import console


@app.command()
def suites():
    """List the scenario suites: their parts, the published benchmarks a recommendation falls back on, and what
    is not in them yet."""
    from pandian.core.suite import builtin_suites, load_suite

    table = Table("suite", "title", "language", "parts", "published fallback", "waiting")
    for name in builtin_suites():
        s = load_suite(name)
        parts = "\n".join(f"{p.label}, {p.shots}-shot" for p in s.parts)
        table.add_row(name, escape(s.title), s.language, escape(parts), escape(", ".join(s.published) or "-"),
                      escape("\n".join(w.what for w in s.waiting) or "-"))
    console.print(table)


def print_suite_result(result, as_json: bool) -> None:
    data = result.to_dict()
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    s = data["score"]
    table = Table("part", "run", "questions", "acc % (95% CI)",
                  title=escape(f"suite {data['suite']} — {data['model']}"), title_justify="left")
    for label, p in s["parts"].items():
        table.add_row(escape(label), data["runs"][label], str(p["n"]),
                      f"{100 * p['acc']:.2f} ({100 * p['ci95'][0]:.2f}–{100 * p['ci95'][1]:.2f})")
    table.add_row("suite score", "", str(s["questions"]),
                  f"{100 * s['score']:.2f} ({100 * s['ci95'][0]:.2f}–{100 * s['ci95'][1]:.2f})", style="bold")
    console.print(table)
    console.print(escape(s["aggregation"]))
    if s.get("chance") is not None:
        console.print(f"guessing scores {100 * s['chance']:.2f} on the same questions (aggregated the same way)")
    for label in data["missing"]:
        console.print(escape(f"missing part: {label}"))
