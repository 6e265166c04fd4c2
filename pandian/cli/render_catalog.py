"""Tables for the catalog, profiles and recommendations. Everything shown is escaped: the catalog's text comes from
sources, model names from users."""

from __future__ import annotations

from collections import defaultdict

from rich.markup import escape
from rich.table import Table

from pandian.cli.common import console


def _kv(title: str, pairs: list[tuple[str, str]]) -> None:
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for k, v in pairs:
        if v:
            table.add_row(k, escape(str(v)))
    console.print(table)


def print_model(d: dict) -> None:
    _kv(f"{d['key']}: {d['name_zh']} / {d['name_en']}", [
        ("org", d["org"]), ("open weights", d["open_weights"]), ("hub id", d["hf_repo_id"]), ("sizes", d["sizes"]),
        ("variants", d["variants"]), ("licence", d["license_name"]),
        ("commercial use", d["commercial_use"] or "not stated"), ("context", d["context_length"]),
        ("domain", d["domain"]), ("release", d["release"]), ("successor", d["successor"]), ("source", d["source"])])
    routes = Table("how", "checkpoint", "pandian command", "precisions", "note", title="how pandian evaluates it",
                   title_justify="left")
    for r in d["evaluation"]:
        precisions = ", ".join(p["precision"] + ("" if p["target"] == r["target"] else f"={p['target']}")
                               for p in r["precisions"])
        routes.add_row(r["how"], escape(r["checkpoint"]), escape(r["command"] or "-"), escape(precisions),
                       escape(r["note"]))
    console.print(routes)
    by_bench = defaultdict(list)
    for s in d["scores"]:
        by_bench[s["benchmark"]].append(s)
    scores = Table("benchmark", "variant", "setting", "score", "source", title=f"{len(d['scores'])} published scores",
                   title_justify="left")
    for bench in sorted(by_bench):
        for s in sorted(by_bench[bench], key=lambda s: (s["variant"], s["setting"])):
            src = s["source"]
            cite = f"{src['repo']}:{src['path']}" + (f" [{src['table']}]" if src["table"] else "") \
                if src["repo"] else src["text"]
            scores.add_row(escape(bench), escape(s["variant"]), escape(s["setting"] or "not stated"), s["text"],
                           escape(cite))
    console.print(scores)
    if d["conflicts"]:
        conf = Table("variant", "benchmark", "setting", "values", title="sources disagree (all values kept)",
                     title_justify="left")
        for c in d["conflicts"]:
            values = "; ".join(f"{s['text']} ({s['source']['repo']})" for s in c["scores"])
            conf.add_row(escape(c["variant"]), escape(c["benchmark"]), escape(c["setting"] or "not stated"),
                         escape(values) + (" [rounding]" if c["rounding_only"] else ""))
        console.print(conf)
    if d["resources"]:
        res = Table("variant", "precision", "GPU GB", "setting", "source", title="published GPU memory",
                    title_justify="left")
        for r in d["resources"]:
            res.add_row(escape(r["variant"]), escape(r["precision"]),
                        "-" if r["gpu_memory_gb"] is None else f"{r['gpu_memory_gb']:g}",
                        escape(r["setting"]) + ("" if r["inference"] else " [not inference]"),
                        escape(f"{r['source']['repo']}:{r['source']['path']}"))
        console.print(res)
    print_measured(d["measured"])


def print_measured(measured: list[dict]) -> None:
    if not measured:
        console.print("measured: no run of this model in the results store (run `pandian eval --model HUB_ID ...`, "
                      "or --catalog-key KEY for a local copy)")
        return
    table = Table("run", "benchmark", "measured %", "published", "delta pts", "setting differences",
                  title="measured beside published", title_justify="left")
    for m in measured:
        if not m["published"]:
            table.add_row(m["run_id"], escape(m["benchmark"]), f"{100 * m['accuracy']:.2f}", "none published",
                          "", "")
        for p in m["published"]:
            table.add_row(m["run_id"], escape(p["benchmark"]), f"{p['measured']:.2f} ({p['measured_as']})",
                          escape(f"{p['published']:g} {p['variant']}, {p['source']['repo']}"),
                          f"{p['delta_pts']:+.2f}", escape("; ".join(p["differences"]) or "none stated"))
    console.print(table)


def print_published_beside(beside: dict | None) -> None:
    if not beside or not beside["rows"]:
        return
    print_measured([{"run_id": "this run", "benchmark": "", "accuracy": 0, "published": beside["rows"]}])


def print_profile(p: dict) -> None:
    console.print(escape(f"{p['model']}: {len(p['runs'])} run(s), areas by {p['by']}"
                         + (f", catalog model {p['catalog_key']}" if p["catalog_key"] else "")))
    for title, key in (("strengths", "strengths"), ("weaknesses", "weaknesses")):
        items = p[key]
        console.print(f"[bold]{title}[/] ({len(items)})" + ("" if items else ": none significant"))
        for s in items:
            ev = s["evidence"]
            peers = f"; peers: {', '.join(ev['peers'])}" if ev["peers"] else ""
            console.print(f"  {escape(s['text'])}\n    evidence: run {ev['run']}, subjects "
                          f"{escape(', '.join(ev['subjects']))}{escape(peers)}; {ev['method']}")
    none = p["no_measurable_difference"]
    console.print(f"[bold]no measurable difference[/]: {len(none)} area(s)"
                  + (f" ({escape(', '.join(s['area'] for s in none[:12]))}{' ...' if len(none) > 12 else ''})"
                     if none else ""))
    if p["published"]:
        table = Table("benchmark", "variant", "setting", "score", "source", title="published (not measured: the "
                      "sources' own numbers)", title_justify="left")
        for s in p["published"]:
            table.add_row(escape(s["benchmark"]), escape(s["variant"]), escape(s["setting"] or "not stated"),
                          s["text"], escape(s["source"]["repo"] or s["source"]["text"]))
        console.print(table)


def print_recommendation(r: dict, examples_per_reason: int = 2) -> None:
    console.print(escape(f"{r['title']}: {len(r['ranked'])} ranked, {len(r['excluded'])} excluded; GPU {r['gpu_gb']:g} GB"
                         f"{', commercial use' if r['commercial'] else ''}{', API models' if r['api'] else ''}; "
                         f"catalog {r['catalog']}"))
    table = Table("#", "checkpoint", "precision", "GPU GB", "evidence", "caveats", "commercial use",
                  title="ranked (--json gives each entry's full reason and sources)", title_justify="left")
    for e in r["ranked"]:
        ev = e["evidence"]
        if ev["kind"] == "measured":
            evidence = (f"measured {ev['suite']} suite {100 * ev['score']:.1f} "
                        f"({100 * ev['ci95'][0]:.1f}-{100 * ev['ci95'][1]:.1f}), {ev['questions']} q")
            caveats = "" if ev["complete"] else f"partial: missing {', '.join(ev['missing_parts'])}"
        else:
            evidence = f"published {ev['benchmark']} {ev['score']:g} ({ev['setting'] or 'setting not stated'}, " \
                       f"{ev['source']['repo']})"
            caveats = "; ".join(filter(None, ["proxy benchmark" if ev["proxy"] else "",
                                              "" if ev["usual_setting"] else "other setting",
                                              "sources disagree: lowest" if len(ev["all_values"]) > 1 else "",
                                              "score of the unquantized weights" if ev["precision_note"] else ""]))
        mem = ("API" if e["api"] else "unknown") if e["memory"] is None else \
            f"{e['memory']['gb']:.1f} ({e['memory']['basis']})"
        if e["memory"] and e["memory"].get("borderline"):
            caveats = "; ".join(filter(None, ["borderline fit", caveats]))
        table.add_row(str(e["rank"]), escape(e["checkpoint"]), e["precision"] or "-", mem, escape(evidence),
                      escape(caveats), escape(e["licence"].get("commercial_use", "")))
    console.print(table)
    groups = defaultdict(list)
    for e in r["excluded"]:
        groups[e["reason"].split(":")[0]].append(e)
    ex = Table("why", "count", "for example", title=f"excluded ({len(r['excluded'])}; --json lists every one with "
               "its reason)", title_justify="left")
    for why, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        examples = "\n".join(f"{e['checkpoint']}: {e['reason']}" for e in items[:examples_per_reason])
        ex.add_row(escape(why), str(len(items)), escape(examples))
    console.print(ex)
    for w in r["waiting"]:
        console.print(escape(f"not in the suite yet: {w['what']} ({w['why']})"))
