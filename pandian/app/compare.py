"""Comparing runs of the same benchmark question by question: paired statistics, flips, divergence, cost, Pareto.

Runs of one model's variants (or of different models) answer the same questions, so their differences are paired:
the confidence interval of an accuracy difference comes from a paired bootstrap over questions and its test is
McNemar's exact test on the discordant pairs. Unpaired tests on paired data overstate the uncertainty.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from pandian.app.pairing import PairingError, check_questions, differences, variant_label
from pandian.core.spec import SpecError, load_spec
from pandian.core.stats import mcnemar_exact, mean_kl, paired_diff_ci, pareto
from pandian.store import ResultStore


def run_cost(store: ResultStore, run_id: str) -> dict:
    sessions = [s for s in store.sessions(run_id) if s["computed"] > 0]
    if not sessions:
        return {}
    last = sessions[-1]["stats"]
    wall = sum(s["wall_s"] for s in sessions)
    peak = max(s["stats"].get("cuda_max_allocated_gb") or s["stats"].get("peak_rss_gb") or 0 for s in sessions)
    return {
        "weights_gb": last.get("weights_gb"),
        "peak_memory_gb": peak,
        "memory_kind": "cuda_max_allocated" if last.get("cuda_max_allocated_gb") is not None else "peak_rss",
        "questions_per_s": sum(s["computed"] for s in sessions) / wall if wall else None,
        "prefill_tokens_per_s": last.get("prefill_tokens_per_s"),
        "load_s": last.get("load_s"),
        "hardware": last.get("hardware", {}).get("gpu") or last.get("hardware", {}).get("cpu"),
    }


def compare(store: ResultStore, run_ids: list[str], force: bool = False) -> dict:
    """Paired statistics of each run against the first. Refuses (PairingError) runs whose shared question ids hold
    different questions, unless `force`: then the result lists the problems under `pairing_problems`."""
    runs = [store.run(r) for r in run_ids]
    benchmarks = {r["benchmark"] for r in runs}
    if len(benchmarks) != 1:
        raise PairingError(f"runs are on different benchmarks ({', '.join(sorted(benchmarks))}); compare one at a "
                           "time")
    bench = runs[0]["benchmark"]
    records = {r: {x.qid: x for x in store.records(r) if x.correct is not None} for r in run_ids}
    common = sorted(set.intersection(*(set(v) for v in records.values())))
    if not common:
        raise PairingError("the runs share no scored questions")
    problems = check_questions(runs, records, common)
    if problems and not force:
        raise PairingError(" ".join(problems) + " Compare runs of the same questions, or pass --force to pair "
                                                "them anyway.")
    try:
        categories_of = load_spec(bench).categories_of
    except SpecError:
        categories_of = lambda s: []  # noqa: E731  (a user's own file: no spec to read categories from)
    base_id = run_ids[0]
    base = np.array([records[base_id][q].correct for q in common])
    subjects = [records[base_id][q].subject for q in common]
    by_cat = defaultdict(list)
    for i, s in enumerate(subjects):
        for c in categories_of(s):
            by_cat[c].append(i)

    variants = []
    for rid, run in zip(run_ids, runs):
        cur = np.array([records[rid][q].correct for q in common])
        label = variant_label(run)
        v = {"run_id": rid, "label": label, "model": run["model"], "config": run["config"],
             "questions": len(common), "accuracy": float(cur.mean()), **run_cost(store, rid)}
        if rid != base_id:
            lo, hi = paired_diff_ci(base, cur)
            right_wrong = [q for q, a, b in zip(common, base, cur) if a and not b]
            wrong_right = [q for q, a, b in zip(common, base, cur) if b and not a]
            v.update(delta=float(cur.mean() - base.mean()), delta_ci95=[lo, hi],
                     mcnemar_p=mcnemar_exact(len(right_wrong), len(wrong_right)),
                     right_to_wrong=right_wrong, wrong_to_right=wrong_right,
                     mean_kl=mean_kl([records[base_id][q].logprobs for q in common],
                                     [records[rid][q].logprobs for q in common]),
                     categories={c: {"delta": float(cur[idx].mean() - base[idx].mean()),
                                     "delta_ci95": list(paired_diff_ci(base[idx], cur[idx]))}
                                 for c, idx in sorted(by_cat.items())})
        variants.append(v)

    base_v = variants[0]
    for v in variants[1:]:
        if v.get("peak_memory_gb") is not None and base_v.get("peak_memory_gb") is not None:
            v["memory_saved_gb"] = base_v["peak_memory_gb"] - v["peak_memory_gb"]
        if v.get("weights_gb") is not None and base_v.get("weights_gb"):
            v["weights_ratio"] = v["weights_gb"] / base_v["weights_gb"]
        if v.get("questions_per_s") and base_v.get("questions_per_s"):
            v["speed_ratio"] = v["questions_per_s"] / base_v["questions_per_s"]
    labels = [v["label"] for v in variants]
    if len(set(labels)) < len(labels):  # two runs of the same variant (other prompt/shots): tell them apart
        for v in variants:
            v["label"] += f"#{v['run_id'][:6]}"
    for axis, key, sign in (("memory", "peak_memory_gb", 1), ("speed", "questions_per_s", -1)):
        points = {v["label"]: (v["accuracy"], sign * v[key]) for v in variants if v.get(key) is not None}
        for name, dominated in pareto(points).items():
            next(v for v in variants if v["label"] == name)[f"dominated_{axis}"] = dominated
    return {"benchmark": bench, "baseline": variants[0]["label"], "questions": len(common), "variants": variants,
            "differences": differences(runs), "pairing_problems": problems,
            "subjects": {q: s for q, s in zip(common, subjects)},
            "gold": {q: records[base_id][q].gold for q in common},
            "preds": {v["label"]: {q: records[v["run_id"]][q].pred for q in common} for v in variants}}
