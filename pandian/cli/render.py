"""Tables for the terminal. Everything shown is escaped: names and paths come from users and data."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from pandian.cli.common import console


def print_summary(summary: dict, per_subject: bool = False) -> None:
    acc = summary["accuracy"]
    table = Table(title=escape(f"{summary['title']} — {summary['model']}"), title_justify="left")
    table.add_column("category")
    table.add_column("subjects", justify="right")
    table.add_column("questions", justify="right")
    table.add_column("acc % per question (95% CI)", justify="right")
    table.add_column("acc % subject mean (95% CI)", justify="right")

    def fmt(a, ci):
        return f"{100 * a:.2f} ({100 * ci[0]:.2f}–{100 * ci[1]:.2f})"

    def row(name, g, style=None):
        q, m = g["questions"], g["subject_mean"]
        table.add_row(escape(name), str(g["subjects"]), str(q["n"]), fmt(q["acc"], q["ci95"]),
                      fmt(m["acc"], m["ci95"]), style=style)

    for cat, g in sorted(acc["categories"].items()):
        row(cat, g)
    row("Overall", acc["overall"], style="bold")
    console.print(table)
    if per_subject:
        sub = Table(title="per subject", title_justify="left")
        for c in ("subject", "questions", "acc % (95% CI)"):
            sub.add_column(c, justify="left" if c == "subject" else "right")
        for s, g in acc["subjects"].items():
            sub.add_row(escape(s), str(g["n"]), fmt(g["acc"], g["ci95"]))
        console.print(sub)
    if "accuracy_norm" in summary:
        o = summary["accuracy_norm"]["overall"]["questions"]
        console.print(f"length-normalised choice scoring (acc_norm): {fmt(o['acc'], o['ci95'])}")
    if summary.get("partial_credit"):
        kinds = summary["accuracy_by_answers"]
        pc = summary["partial_credit"]["overall"]
        console.print(f"{summary['answers']['single']} single-answer and {summary['answers']['multi']} multi-answer "
                      f"question(s); acc (exact set) single {fmt(kinds['single']['acc'], kinds['single']['ci95'])}, "
                      f"multi {fmt(kinds['multi']['acc'], kinds['multi']['ci95'])}; partial credit (full 1, right "
                      f"but incomplete 0.5, any wrong label 0): {fmt(pc['mean'], pc['ci95'])}", highlight=False)
    notes = []
    if summary["shots_dropped"]:
        notes.append(f"{summary['shots_dropped']} prompt(s) dropped few-shot examples to fit the context")
    if summary["truncated"]:
        notes.append(f"{summary['truncated']} prompt(s) were left-truncated even with no shots (see records)")
    for reason, n in summary["skipped"].items():
        notes.append(f"{n} item(s) skipped: {reason.replace('_', ' ')}")
    if summary.get("extraction_failure_rate") is not None:
        notes.append(f"no answer could be extracted from {summary['extraction_failures']} response(s) "
                     f"({100 * summary['extraction_failure_rate']:.1f}%); they count as wrong and are marked per record")
    if summary.get("failed_calls"):
        notes.append(f"{len(summary['failed_calls'])} call(s) failed after retries and were not scored; rerun to retry "
                     f"(first: {summary['failed_calls'][0]['error']})")
    if any(summary.get("methods", {}).values()):
        notes.append("choice read from " + ", ".join(f"{m}: {n}" for m, n in summary["methods"].items() if n))
    usage = (summary.get("resources") or {}).get("usage")
    if usage:
        cost = f", cost {usage['cost']:.4f}" if usage.get("cost") is not None else ""
        notes.append(f"API: {usage.get('calls', 0)} calls, {usage.get('cache_hits', 0)} cache hits, "
                     f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} completion tokens"
                     f"{cost}")
    decode = (summary.get("resources") or {}).get("decode")
    if decode:
        notes.append(f"generation: time to first token p50 {decode['ttft_s_p50']:.3f} s, per-token latency p50 "
                     f"{decode['token_latency_s_p50'] or 0:.4f} s / p95 {decode['token_latency_s_p95'] or 0:.4f} s")
    for n in notes:
        console.print(f"[yellow]note:[/] {escape(n)}")
    speed = f", {summary['questions_per_s']} questions/s" if summary["questions_per_s"] else ""
    res = summary.get("resources") or {}
    if res.get("weights_gb") is not None:
        speed += f"; weights {res['weights_gb']:.3f} GB, peak RSS {res['peak_rss_gb']:.2f} GB"
        if res.get("cuda_max_allocated_gb") is not None:
            speed += f", CUDA peak {res['cuda_max_allocated_gb']:.2f} GB"
    console.print(f"run {summary['run_id']}: {summary['questions']} questions, {summary['computed_now']} computed now "
                  f"in {summary['wall_s']:.1f} s{speed}", highlight=False)


def _gb(x):
    return "-" if x is None else (f"{1024 * x:.1f} MB" if x < 1 else f"{x:.2f} GB")


def print_comparison(r: dict, n_flips: int) -> None:
    t = Table(title=escape(f"{r['benchmark']}: {r['questions']} shared questions, baseline {r['baseline']}"),
              title_justify="left")
    for c in ("variant", "acc %", "Δ pts (95% CI)", "McNemar p", "right→wrong", "wrong→right", "mean KL",
              "weights", "peak mem", "q/s (× base)", "Pareto frontier"):
        t.add_column(c, justify="left" if c == "variant" else "right", no_wrap=c == "variant")
    for v in r["variants"]:
        base = "delta" not in v
        frontier = ", ".join(a for a in ("memory", "speed") if v.get(f"dominated_{a}") is False) or "dominated"
        t.add_row(escape(v["label"]), f"{100 * v['accuracy']:.2f}",
                  "baseline" if base else f"{100 * v['delta']:+.2f} ({100 * v['delta_ci95'][0]:+.2f}, "
                                          f"{100 * v['delta_ci95'][1]:+.2f})",
                  "" if base else f"{v['mcnemar_p']:.3g}", "" if base else str(len(v["right_to_wrong"])),
                  "" if base else str(len(v["wrong_to_right"])), "" if base else f"{v['mean_kl']:.2e}",
                  _gb(v.get("weights_gb")), _gb(v.get("peak_memory_gb")),
                  (f"{v['questions_per_s']:.1f}" + (f" ({v['speed_ratio']:.2f}×)" if "speed_ratio" in v else ""))
                  if v.get("questions_per_s") else "-", frontier)
    console.print(t)
    others = [v for v in r["variants"] if "delta" in v]
    cats = sorted({c for v in others for c in v["categories"]})
    if cats:
        ct = Table(title="Δ accuracy by category, points (95% paired CI)", title_justify="left")
        ct.add_column("category")
        for v in others:
            ct.add_column(escape(v["label"]), justify="right")
        for c in cats:
            ct.add_row(c, *[f"{100 * v['categories'][c]['delta']:+.2f} ({100 * v['categories'][c]['delta_ci95'][0]:+.2f}"
                            f", {100 * v['categories'][c]['delta_ci95'][1]:+.2f})" for v in others])
        console.print(ct)
    for v in others:
        for kind in ("right_to_wrong", "wrong_to_right"):
            qs = v[kind][:n_flips]
            if qs:
                shown = ", ".join(f"{q} (gold {r['gold'][q]}, {r['preds'][r['baseline']][q]}→{r['preds'][v['label']][q]})"
                                  for q in qs)
                more = f" … +{len(v[kind]) - len(qs)}" if len(v[kind]) > len(qs) else ""
                console.print(escape(f"{v['label']} {kind.replace('_', ' ')}: {shown}{more}"), highlight=False)
    console.print("records: pandian compare --json gives every flipped question id; each maps to its record "
                  "(prompt hash, per-choice log-probs) in the results database.", highlight=False)
