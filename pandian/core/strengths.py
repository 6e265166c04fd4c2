"""Strengths and weaknesses from measured per-question results, only where the evidence carries them.

For each area (a subject, or a category) of each benchmark a model was run on:
- with peers (other models' runs on the same questions): delta = the model's accuracy - the median of the peers'
  accuracies on the area's shared questions; paired bootstrap (questions resampled jointly for all models);
- without peers: delta = the area's accuracy - the median of the model's accuracies on the benchmark's other areas;
  stratified bootstrap (each area's questions resampled within it), since the areas hold different questions.
A two-sided p-value per area (normal approximation with the bootstrap's standard error; against the own median, the
larger of that and the exact binomial test of the area's count), then Holm's correction across every statement
made about the model: a difference is claimed (strength / weakness) only when its corrected p is below alpha;
otherwise the area reads "no measurable difference". Every statement carries its evidence: runs, subjects, question counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import math

import numpy as np

from .stats import mcnemar_exact

DRAWS = 2000  # enough for a 95% percentile interval (Efron & Tibshirani: 1000-2000); p-values use the SE alone
CHUNK = 500  # bootstrap draws materialised at once (draws x patterns weights)


@dataclass(frozen=True)
class RunOutcomes:
    run_id: str
    model: str
    benchmark: str
    correct: dict[str, int]  # qid -> 0/1
    subject: dict[str, str]  # qid -> subject


@dataclass
class Statement:
    benchmark: str
    area: str
    kind: str  # strength / weakness / none
    delta: float
    ci95: tuple[float, float]
    p: float
    p_adjusted: float = 1.0
    baseline: str = ""  # "peer median" or "own median"
    accuracy: float = 0.0
    baseline_accuracy: float = 0.0
    questions: int = 0
    evidence: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        where = f"{self.area} ({self.benchmark})"
        if self.kind == "none":
            return f"{where}: no measurable difference from the {self.baseline} ({self.delta * 100:+.1f} pts, " \
                   f"95% CI {self.ci95[0] * 100:.1f} to {self.ci95[1] * 100:.1f}, {self.questions} questions)"
        side = "above" if self.delta > 0 else "below"
        return (f"{where}: {self.delta * 100:+.1f} pts {side} the {self.baseline} (95% CI {self.ci95[0] * 100:.1f} "
                f"to {self.ci95[1] * 100:.1f}; {self.accuracy:.1%} vs {self.baseline_accuracy:.1%}, "
                f"{self.questions} questions, Holm-corrected p = {self.p_adjusted:.2g})")

    def to_dict(self) -> dict:
        return {"benchmark": self.benchmark, "area": self.area, "kind": self.kind, "delta": self.delta,
                "ci95": list(self.ci95), "p": self.p, "p_adjusted": self.p_adjusted, "baseline": self.baseline,
                "accuracy": self.accuracy, "baseline_accuracy": self.baseline_accuracy,
                "questions": self.questions, "evidence": self.evidence, "text": self.text}


def binomial_p(k: int, n: int, p0: float) -> float:
    """Exact two-sided binomial test of k of n against p0: the probability of every count as unlikely as k."""
    if p0 <= 0 or p0 >= 1:
        return 1.0 if k == round(p0 * n) else 0.0

    def logpmf(i: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p0) + \
            (n - i) * math.log1p(-p0)

    observed = logpmf(k)
    return min(1.0, sum(math.exp(lp) for lp in map(logpmf, range(n + 1)) if lp <= observed + 1e-7))


def _p_two_sided(delta: float, samples: np.ndarray, questions: int) -> float:
    """p-value of 'no difference' from the bootstrap's standard error (normal approximation): unlike counting
    resamples beyond 0, it does not stop at 1/draws, which Holm's correction over many areas would need. A
    bootstrap without spread (every question answered alike, e.g. 3 of 3 right against 0 of 3) says nothing about
    the spread; then the exact sign test of that many questions all going one way: 3 questions give p = 0.25."""
    se = float(np.std(samples))
    if se == 0:
        return 1.0 if delta == 0 else mcnemar_exact(questions, 0)
    return math.erfc(abs(delta) / (se * math.sqrt(2)))


def _paired(matrix: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """matrix: questions x models (model 0 first). Bootstrap of acc_0 - median(acc_peers), questions resampled
    jointly. A resample's accuracies depend only on how often it draws each distinct row (the pattern of right and
    wrong across the models), so it draws pattern counts, a multinomial over the patterns with their frequencies:
    the same distribution as a count per question, over min(questions, 2^models) categories instead of one per
    question (4x faster on 150 questions x 5 models, 35x on 2000)."""
    n = matrix.shape[0]
    patterns, freq = np.unique(matrix, axis=0, return_counts=True)
    out = []
    for start in range(0, draws, CHUNK):
        w = rng.multinomial(n, freq / n, size=min(CHUNK, draws - start))
        accs = w @ patterns / n
        out.append(accs[:, 0] - np.median(accs[:, 1:], axis=1))
    return np.concatenate(out)


def _stratified(counts: list[tuple[int, int]], index: int, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Bootstrap of acc_index - median(acc of the other areas), each area resampled alone (a binomial draw). An
    area is drawn at (k+1)/(n+2), not k/n: at 0 of 14 the plug-in draw is always 0, a spread of none."""
    k = np.array([c for c, _ in counts])
    n = np.array([m for _, m in counts])
    accs = rng.binomial(n, (k + 1) / (n + 2), size=(draws, len(n))) / n
    return accs[:, index] - np.median(np.delete(accs, index, axis=1), axis=1)


def _areas(run: RunOutcomes, area_of) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for qid, subj in run.subject.items():
        for area in area_of(run.benchmark, subj):
            out[area].append(qid)
    return out


def holm(pvalues: list[float]) -> list[float]:
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def profile(runs: list[RunOutcomes], peers: dict[str, list[RunOutcomes]], area_of, *, alpha: float = 0.05,
            draws: int = DRAWS, seed: int = 0) -> list[Statement]:
    """runs: the model's runs; peers: run_id -> other models' runs comparable with it (same benchmark, split,
    shots and prompts); area_of(benchmark, subject) -> the areas a subject belongs to."""
    rng = np.random.default_rng(seed)
    statements: list[Statement] = []
    for run in runs:
        areas = _areas(run, area_of)
        others = peers.get(run.run_id, [])
        if others:
            statements += _peer_statements(run, others, areas, rng, draws)
        elif len(areas) >= 3:
            statements += _own_statements(run, areas, rng, draws)
    for s, adj in zip(statements, holm([s.p for s in statements])):
        s.p_adjusted = adj
        s.kind = "none" if adj >= alpha else ("strength" if s.delta > 0 else "weakness")
    return statements


def _peer_statements(run, others, areas, rng, draws) -> list[Statement]:
    out = []
    for area, qids in sorted(areas.items()):
        shared = [q for q in qids if all(q in o.correct for o in others)]
        if not shared:
            continue
        matrix = np.array([[run.correct[q]] + [o.correct[q] for o in others] for q in shared], dtype=float)
        acc = matrix.mean(axis=0)
        delta = float(acc[0] - np.median(acc[1:]))
        samples = _paired(matrix, rng, draws)
        out.append(Statement(
            benchmark=run.benchmark, area=area, kind="none", delta=delta,
            ci95=(float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975))),
            p=_p_two_sided(delta, samples, len(shared)), baseline="peer median", accuracy=float(acc[0]),
            baseline_accuracy=float(np.median(acc[1:])), questions=len(shared),
            evidence={"run": run.run_id, "peers": [o.run_id for o in others],
                      "peer_models": [o.model for o in others], "subjects": sorted({run.subject[q] for q in shared}),
                      "questions": len(shared), "method": "paired bootstrap over shared questions"}))
    return out


def _own_statements(run, areas, rng, draws) -> list[Statement]:
    names = sorted(areas)
    counts = [(sum(run.correct[q] for q in areas[a]), len(areas[a])) for a in names]
    out = []
    for i, area in enumerate(names):
        acc = counts[i][0] / counts[i][1]
        rest = np.median([c / n for j, (c, n) in enumerate(counts) if j != i])
        samples = _stratified(counts, i, rng, draws)
        out.append(Statement(
            benchmark=run.benchmark, area=area, kind="none", delta=float(acc - rest),
            ci95=(float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975))),
            # the bootstrap's p, or the exact test of the area's count against the median taken as known, whichever
            # is larger: a small area at 0% or 100% is where the normal approximation claims too much
            p=max(_p_two_sided(float(acc - rest), samples, counts[i][1]), binomial_p(*counts[i], float(rest))),
            baseline="own median", accuracy=acc,
            baseline_accuracy=float(rest),
            questions=counts[i][1],
            evidence={"run": run.run_id, "peers": [], "subjects": sorted({run.subject[q] for q in areas[area]}),
                      "questions": counts[i][1], "areas_compared": len(names),
                      "method": "stratified bootstrap against the median of the model's other areas"}))
    return out
