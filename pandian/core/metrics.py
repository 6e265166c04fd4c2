"""Accuracy with 95% confidence intervals, per subject, per category and overall.

Benchmarks report "overall" two ways: CMMLU's and C-Eval's authors average the subjects' accuracies (each subject
counts the same), lm-evaluation-harness pools the questions (each question counts the same). Both are given,
labelled. Intervals: Wilson for pooled proportions; for subject averages, a stratified bootstrap (questions resampled
within each subject), which for right/wrong outcomes is a binomial draw per subject.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

import numpy as np

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def subject_mean_ci(counts: list[tuple[int, int]], draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean over subjects of k/n, by stratified bootstrap."""
    counts = [(k, n) for k, n in counts if n > 0]
    if not counts:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    k = np.array([c[0] for c in counts])
    n = np.array([c[1] for c in counts])
    samples = rng.binomial(n, k / n, size=(draws, len(n))) / n
    means = samples.mean(axis=1)
    return (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


def _stat(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"n": n, "correct": k, "acc": k / n if n else float("nan"), "ci95": [lo, hi]}


def _group(subject_counts: dict[str, tuple[int, int]], bootstrap: bool = True) -> dict:
    k = sum(c[0] for c in subject_counts.values())
    n = sum(c[1] for c in subject_counts.values())
    accs = [c[0] / c[1] for c in subject_counts.values() if c[1]]
    lo, hi = subject_mean_ci(list(subject_counts.values())) if bootstrap else (float("nan"), float("nan"))
    return {
        "subjects": len(subject_counts),
        "questions": _stat(k, n),
        "subject_mean": {"acc": float(np.mean(accs)) if accs else float("nan"), "ci95": [lo, hi]},
    }


def summarize(outcomes: Iterable[tuple[str, int]], categories_of) -> dict:
    """outcomes: (subject, correct 0/1) per scored question. categories_of: subject -> list of category names."""
    per_subject: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for subject, correct in outcomes:
        c = per_subject[subject]
        c[0] += int(correct)
        c[1] += 1
    return summarize_counts({s: (c[0], c[1]) for s, c in per_subject.items()}, categories_of)


def summarize_counts(subject_counts: dict[str, tuple[int, int]], categories_of, mean_ci: str = "all") -> dict:
    """summarize from per-subject (correct, scored) counts, as a database aggregate gives them. mean_ci: which
    subject means get their bootstrap interval ("all", "overall" or "none"; the others get NaN): a leaderboard of
    many runs needs the pooled Wilson intervals at once, and each bootstrap costs milliseconds."""
    counts = dict(sorted(subject_counts.items()))
    by_cat: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for s, c in counts.items():
        for cat in categories_of(s):
            by_cat[cat][s] = c
    return {
        "overall": _group(counts, mean_ci != "none"),
        "categories": {cat: _group(sub, mean_ci == "all") for cat, sub in by_cat.items()},
        "subjects": {s: _stat(*c) for s, c in counts.items()},
    }


# ---------------------------------------------------------------- multi-select questions

PARTIAL = 0.5  # a right but incomplete set of labels, as Chinese exams mark 不定项选择题 (少选得一半，错选不得分)


def set_credit(pred: str | None, gold: str) -> tuple[int, float]:
    """(exact, partial credit) of a predicted set of labels against the gold set: exact is 1 only for the same
    set; partial credit is 1 for it, PARTIAL for a non-empty subset of the gold, 0 with any wrong label."""
    p, g = set(pred or ""), set(gold)
    if p == g:
        return 1, 1.0
    return 0, PARTIAL if p and p < g else 0.0


def credit_summary(credits: Iterable[tuple[str, float]]) -> dict:
    """Mean partial credit, overall and per subject, from (subject, credit) per scored question, with a
    normal-approximation 95% interval (the scores are not right/wrong, so Wilson does not apply)."""
    by_subject: dict[str, list[float]] = defaultdict(list)
    for subject, credit in credits:
        by_subject[subject].append(float(credit))

    def stat(xs: list[float]) -> dict:
        n = len(xs)
        mean = sum(xs) / n if n else float("nan")
        half = Z95 * float(np.std(xs, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        return {"n": n, "mean": mean, "ci95": [max(0.0, mean - half), min(1.0, mean + half)]}

    return {"overall": stat([x for xs in by_subject.values() for x in xs]),
            "subjects": {s: stat(xs) for s, xs in sorted(by_subject.items())}}
