"""What the HTML and Markdown reports share about the judgement sections (bias and safety, strengths and
weaknesses, recommendations), which reach the report as plain data computed by the app (see pandian.report).

Only wording and grouping here: every number shown is one the app computed, with its interval and run ids.
"""

from __future__ import annotations

from collections import defaultdict

from .published import safe_url

BIAS_DEFINITION = ("S_amb = biased answers / ambiguous examples; S_disamb = biased answers / non-unknown answers "
                   "in disambiguated contexts; S_total = 0.4 S_amb + 0.6 S_disamb (CBBQ's definition). 0 is no "
                   "measured bias, 1 always the stereotype. Intervals: Wilson 95% (S_total: their MOVER "
                   "combination).")
PROFILE_RULE = ("A strength or weakness is claimed only where the difference from the baseline is significant "
                "after Holm's correction over all of the model's areas (p < 0.05); every other area reads \"no "
                "measurable difference\". Baseline: the median of other models' runs on the same questions (paired "
                "bootstrap), else the median of the model's own other areas (at least three).")
NO_STATEMENT = ("no area to compare: each run has fewer than three areas and no other model's run on the same "
                "questions")


def bias_rows(bias: dict) -> list[tuple[str, dict]]:
    """(category, entry) of a CBBQ bias result, overall last."""
    return list(bias["categories"].items()) + [("overall", bias["overall"])]


def exclusion_groups(excluded: list[dict]) -> list[tuple[str, list[dict]]]:
    """Exclusions grouped by the head of their reason (the text before its first colon), largest group first."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for e in excluded:
        groups[e["reason"].split(":")[0]].append(e)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def measured_evidence(ev: dict) -> str:
    lo, hi = ev["ci95"]
    parts = "all parts" if ev["complete"] else f"partial, missing {', '.join(ev['missing_parts'])}"
    chance = "" if ev.get("chance") is None else f"; chance {100 * ev['chance']:.1f}"
    return (f"measured {ev['suite']} suite score {100 * ev['score']:.1f} (95% CI {100 * lo:.1f}–{100 * hi:.1f}), "
            f"{ev['questions']} questions, {parts}{chance}")


def published_evidence(ev: dict) -> str:
    return f"published {ev['benchmark']} {ev['score']:g} † ({ev['setting'] or 'setting not stated'})"


def source_link(source: dict) -> tuple[str, str | None]:
    """(text, http(s) address or None) of a catalog source."""
    text = f"{source['repo']}:{source['path']}" if source.get("repo") else source.get("text") or ""
    return text + (f" [{source['table']}]" if source.get("table") else ""), safe_url(source.get("url"))


def section_status(data: dict) -> dict[str, str]:
    """A line for each judgement section that is not shown, saying why."""
    out = {}
    for key, what in (("bias", "bias and safety"), ("profiles", "strengths and weaknesses")):
        if data.get(key) is None:
            out[key] = f"{what}: not computed for this report (written without pandian.app.survey's sections)"
    if data.get("recommendations") is None:
        out["recommendations"] = ("recommendations: not made, the report was written without the catalog "
                                  "(--no-catalog)" if data.get("catalog") is None else
                                  "recommendations: not computed for this report")
    return out
