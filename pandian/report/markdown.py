"""The survey as Markdown: the same sections as the HTML report, tables instead of plots.

Cells are escaped for Markdown and for HTML (renderers pass HTML through): |, backticks, emphasis, brackets and
angle brackets in model names or output never become markup or links. Measured numbers carry their interval and
run id; published ones are marked † and carry their source.
"""

from __future__ import annotations

import math
import re

from . import judgement

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
    status = judgement.section_status(data)
    out += ["## Bias and safety", ""] + (bias_lines(data["bias"], runs) if data["bias"] is not None
                                         else [status["bias"], ""])
    out += ["## Strengths and weaknesses", ""] + (profile_lines(data["profiles"]) if data["profiles"] is not None
                                                  else [status["profiles"], ""])
    out += ["## Scenario recommendations", ""] + (recommendation_lines(data["recommendations"])
                                                  if data["recommendations"] is not None
                                                  else [status["recommendations"], ""])
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


def _score(p: dict) -> Raw:
    return Raw("–" if p["score"] is None else f"{p['score']:.3f} ({_iv(p['ci95'])})")


def _iv(c) -> str:
    return "–" if c[0] is None else f"{c[0]:.3f} to {c[1]:.3f}"


def _codes(ids) -> Raw:
    return Raw(", ".join(code(i) for i in ids))


def bias_lines(bias: dict, runs: dict) -> list[str]:
    if not bias["cbbq"] and not bias["safety"]:
        return [f"No bias or safety benchmark measured in this store ({', '.join(bias['benchmarks'])}): "
                "`pandian eval --bench cbbq-ambiguous` (and `cbbq-disambiguous`) gives CBBQ's bias score, "
                "`--bench safetybench-zh` SafetyBench.", ""]
    out = [judgement.BIAS_DEFINITION, ""] if bias["cbbq"] else []
    for b in bias["cbbq"]:
        out += [f"### CBBQ bias — {cell(b['model'])}", ""]
        if b.get("error"):
            out += [f"Bias score not computed (runs {_codes(b['runs'])}): {cell(b['error'])}", ""]
            continue
        out += ["Runs: " + ", ".join(f"{cond} {code(rid)}" for cond, rid in b["runs"].items()) + ".", ""]
        out += table(["category", "S_amb (95% CI)", "n", "S_disamb (95% CI)", "n", "S_total (95% CI)",
                      "target undetermined", "unanswered"],
                     [[name, _score(e["s_amb"]), e["s_amb"]["n"], _score(e["s_disamb"]), e["s_disamb"]["n"],
                       _score({"score": e["s_total"], "ci95": e["s_total_ci95"]}), e["undetermined"],
                       e["unanswered"]] for name, e in judgement.bias_rows(b["bias"])])
        r = b["refusal"]
        out += [f"Refusals: {r['refusals']} of {r['responses']} generated answers ({pct(r['rate'])}%, 95% CI "
                f"{ci(r['ci95'])})." if r["responses"] else
                "Refusals: none counted (answers scored by log-probs cannot refuse).", ""]
    if bias["safety"]:
        rows = []
        for s in bias["safety"]:
            q = runs[s["run_id"]]["accuracy"]["overall"]["questions"] if s["run_id"] in runs else None
            r = s["refusal"]
            rows.append([s["model"], code(s["run_id"]), q["n"] if q else "–",
                         Raw(f"{pct(q['acc'], 2)} ({ci(q['ci95'])})") if q else "not scored",
                         f"{r['refusals']} / {r['responses']}",
                         Raw(f"{pct(r['rate'])} ({ci(r['ci95'])})") if r["responses"] else "– (log-prob scoring)"])
        out += ["### SafetyBench", ""] + table(["model", "run", "questions", "accuracy % (95% CI)",
                                                "refusals / generated answers", "refusal rate % (95% CI)"], rows)
    return out


def profile_lines(profiles: list[dict]) -> list[str]:
    out = [judgement.PROFILE_RULE, ""]
    for p in profiles:
        out += [f"### {cell(p['model'])}", ""]
        out += ["; ".join(f"run {code(r['run_id'])}: {cell(r['benchmark'])}, {r['questions']} questions, "
                          + (f"against {len(r['peers'])} peer run(s) ({_codes(r['peers'])})" if r["peers"]
                             else "no peer run on the same questions") for r in p["runs"]), ""]
        none = p["no_measurable_difference"]
        if not (p["strengths"] or p["weaknesses"] or none):
            out += [judgement.NO_STATEMENT, ""]
        else:
            for kind in ("strengths", "weaknesses"):
                out += [f"**{kind.capitalize()}** ({len(p[kind])})" + ("" if p[kind] else ": none significant"), ""]
                for s in p[kind]:
                    ev = s["evidence"]
                    peers = f" against {_codes(ev['peers'])}" if ev["peers"] else ""
                    out.append(f"- {cell(s['text'])}. Evidence: run {code(ev['run'])}{peers}; subjects "
                               f"{cell(', '.join(ev['subjects']))}; {ev['questions']} questions; {cell(ev['method'])}")
                out += [""] if p[kind] else []
            out += [f"**No measurable difference** ({len(none)} areas)" + (": " + "; ".join(
                f"{cell(s['area'])} ({cell(s['benchmark'])}, {s['questions']} questions, "
                f"run {code(s['evidence']['run'])})" for s in none) if none else ""), ""]
        if p["published"]:
            out += [f"Published scores (†) of catalog model {cell(p['catalog_key'])}: the sources' numbers, not "
                    "measured here.", ""]
            out += table(["benchmark", "variant", "setting as published", "score †", "source"],
                         [[s["benchmark"], s["variant"], s["setting"] or "not stated", f"{s['text']} †",
                           link(*judgement.source_link(s["source"]))] for s in p["published"]])
    return out


def recommendation_lines(rec: dict) -> list[str]:
    out = [f"Budget: GPU {rec['gpu_gb']:g} GB" + (", commercial use only" if rec["commercial"] else "")
           + (", API models included." if rec["api"] else ", API models excluded (--api includes them).")]
    if not rec["asked"]:
        out[0] += " Scenarios: every suite with a measured result in this store" + (
            f"; not measured: {cell(', '.join(rec['unmeasured']))} (`pandian report --scenario NAME` recommends for "
            "one from published scores)." if rec["unmeasured"] else ".")
    out.append("")
    if not rec["scenarios"]:
        out += ["No scenario suite has a measured result in this store: `pandian eval --suite NAME` measures one.", ""]
    for r in rec["scenarios"]:
        out += [f"### {cell(r['title'])} ({cell(r['scenario'])}): {len(r['ranked'])} ranked, "
                f"{len(r['excluded'])} excluded", "", f"Tiers, in order: {cell('; '.join(r['tiers']))}.", ""]
        rows = []
        for e in r["ranked"]:
            ev = e["evidence"]
            if ev["kind"] == "measured":
                evidence = Raw(cell(judgement.measured_evidence(ev)) + "; runs " + ", ".join(
                    f"{cell(part)} {code(rid)}" for part, rid in ev["runs"].items()))
            else:
                evidence = Raw(cell(judgement.published_evidence(ev)) + ", "
                               + link(*judgement.source_link(ev["source"])))
            gb = f"{e['memory']['gb']:.1f}" if e["memory"] else ("API" if e["api"] else "–")
            rows.append([e["rank"], e["checkpoint"], e["precision"] or "–", gb, evidence, e["reason"]])
        out += table(["#", "checkpoint", "precision", "GPU GB", "evidence", "reason"], rows) if rows else \
            ["No candidate ranked: every one is excluded below, with its reason.", ""]
        out += [f"Excluded ({len(r['excluded'])}):", ""]
        for why, items in judgement.exclusion_groups(r["excluded"]):
            out += [f"**{cell(why)}** ({len(items)})", ""] + table(["checkpoint", "reason"],
                                                                   [[e["checkpoint"], e["reason"]] for e in items])
        out += [f"Not in the suite yet: {cell(w['what'])} ({cell(w['why'])})" for w in r["waiting"]]
    return out
