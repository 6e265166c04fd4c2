"""Paired statistics for runs that answer the same questions: McNemar's exact test, a paired bootstrap interval of
an accuracy difference, the KL divergence between answer distributions, and the Pareto frontier of accuracy
against cost. Unpaired tests on paired data overstate the uncertainty."""

from __future__ import annotations

import math

import numpy as np


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b = right->wrong, c = wrong->right discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_diff_ci(base: np.ndarray, other: np.ndarray, draws: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(other) - mean(base) over questions resampled in pairs. A resample's difference
    depends only on how many (+1, -1, 0) per-question differences it draws, so a multinomial draw of those counts
    is exactly the bootstrap, without materialising the resampled indices."""
    d = other.astype(int) - base.astype(int)
    return paired_diff_ci_counts(len(d), int(np.sum(d == -1)), int(np.sum(d == 1)), draws, seed)


def paired_diff_ci_counts(n: int, right_to_wrong: int, wrong_to_right: int, draws: int = 10000,
                          seed: int = 0) -> tuple[float, float]:
    """paired_diff_ci from the counts alone (n questions, of which right_to_wrong went 1 -> 0 and wrong_to_right
    0 -> 1), as a database aggregate gives them."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = [wrong_to_right / n, right_to_wrong / n, (n - wrong_to_right - right_to_wrong) / n]
    counts = np.random.default_rng(seed).multinomial(n, p, size=draws)
    diffs = (counts[:, 0] - counts[:, 1]) / n
    return (float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975)))


def mean_kl(base_logprobs: list[list[float]], other_logprobs: list[list[float]]) -> float:
    """Mean KL(base || other) between the answer distributions (softmax over each question's choice scores)."""
    total = 0.0
    for a, b in zip(base_logprobs, other_logprobs):
        pa = _softmax(np.array(a))
        pb = _softmax(np.array(b))
        total += float(np.sum(pa * (np.log(pa + 1e-30) - np.log(pb + 1e-30))))
    return total / max(1, len(base_logprobs))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def pareto(points: dict[str, tuple[float, float]]) -> dict[str, bool]:
    """points: name -> (accuracy, cost), higher accuracy and lower cost better. Returns name -> dominated."""
    out = {}
    for name, (acc, cost) in points.items():
        out[name] = any(a >= acc and c <= cost and (a > acc or c < cost)
                        for other, (a, c) in points.items() if other != name)
    return out
