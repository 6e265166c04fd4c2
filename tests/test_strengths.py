"""The statistics of strengths and weaknesses on outcomes whose answer is known."""

from __future__ import annotations

import math

import pytest

from pandian.core.strengths import RunOutcomes, holm, profile

SUBJECTS = "abcde"


def outcomes(run_id: str, right) -> RunOutcomes:
    subject = {f"{s}/{i}": s for s in SUBJECTS for i in range(100)}
    return RunOutcomes(run_id, run_id, "bench", {q: int(right(s, int(q.split("/")[1]))) for q, s in subject.items()},
                       subject)


def strong_a(s, i):  # subject a right 80% of the time, the others exactly at chance (1 in 4)
    return i % 5 != 0 if s == "a" else i % 4 == 0


def by_kind(statements):
    return {k: sorted(s.area for s in statements if s.kind == k) for k in ("strength", "weakness", "none")}


def test_own_median_finds_exactly_the_strong_subject():
    st = profile([outcomes("m", strong_a)], {}, lambda b, s: [s])
    assert by_kind(st) == {"strength": ["a"], "weakness": [], "none": ["b", "c", "d", "e"]}
    a = next(s for s in st if s.area == "a")
    assert a.delta == pytest.approx(0.55) and a.ci95[0] > 0.4 and a.p_adjusted < 1e-6
    assert a.evidence["questions"] == 100 and a.evidence["subjects"] == ["a"] and a.baseline == "own median"
    assert "+55.0 pts above the own median" in a.text


def test_peers_paired_on_the_same_questions():
    peers = [outcomes("p1", lambda s, i: i % 4 == 1), outcomes("p2", lambda s, i: i % 4 == 2)]
    st = profile([outcomes("m", strong_a)], {"m": peers}, lambda b, s: [s])
    assert by_kind(st)["strength"] == ["a"] and not by_kind(st)["weakness"]
    assert all(s.baseline == "peer median" and s.evidence["peers"] == ["p1", "p2"] for s in st)
    # a weakness: a model right on a only at chance while its peers know it
    good_peers = [outcomes("p1", strong_a), outcomes("p2", strong_a)]
    st = profile([outcomes("m", lambda s, i: i % 4 == 0)], {"m": good_peers}, lambda b, s: [s])
    assert by_kind(st) == {"strength": [], "weakness": ["a"], "none": ["b", "c", "d", "e"]}


def test_small_differences_are_not_claimed():
    # 30% against 25% on 100 questions is within the noise
    st = profile([outcomes("m", lambda s, i: (i % 10 < 3) if s == "a" else i % 4 == 0)], {}, lambda b, s: [s])
    assert by_kind(st)["strength"] == [] and by_kind(st)["weakness"] == []


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_a_handful_of_questions_answered_alike_is_no_evidence():
    # 3 of 3 right where the peer has 0 of 3: the bootstrap has no spread; the exact sign test (p = 0.25) decides
    def few(right):
        subject = {f"{s}/{i}": s for s in "xy" for i in range(3)}
        return subject, {q: right for q in subject}

    subject, mine = few(1)
    _, theirs = few(0)
    st = profile([RunOutcomes("m", "m", "b", mine, subject)], {"m": [RunOutcomes("p", "p", "b", theirs, subject)]},
                 lambda b, s: [s])
    assert [s.kind for s in st] == ["none", "none"] and st[0].delta == 1.0 and st[0].p == pytest.approx(0.25)
    # the same all-one-way pattern on 40 questions is evidence
    subject = {f"x/{i}": "x" for i in range(40)}
    st = profile([RunOutcomes("m", "m", "b", dict.fromkeys(subject, 1), subject)],
                 {"m": [RunOutcomes("p", "p", "b", dict.fromkeys(subject, 0), subject)]}, lambda b, s: [s])
    assert st[0].kind == "strength" and st[0].p < 1e-9


def test_a_small_area_at_zero_against_the_own_median_is_not_claimed():
    # 0 of 14 where the other areas score about 18%: 0.82^14 = 6% of the time by chance alone, not a weakness
    subject = {f"{s}/{i}": s for s in "abcdef" for i in range(14 if s == "a" else 200)}
    correct = {q: int(s != "a" and int(q.split("/")[1]) % 11 < 2) for q, s in subject.items()}
    [a] = [s for s in profile([RunOutcomes("m", "m", "b", correct, subject)], {}, lambda b, s: [s]) if s.area == "a"]
    assert a.kind == "none" and a.accuracy == 0 and 0.05 < a.p < 0.2 and a.ci95[0] < a.ci95[1]


def test_binomial_p():
    from pandian.core.strengths import binomial_p

    assert binomial_p(0, 14, 0.25) == pytest.approx(0.75 ** 14 + sum(  # counts at least as unlikely as 0
        math.comb(14, i) * 0.25 ** i * 0.75 ** (14 - i) for i in range(8, 15)))
    assert binomial_p(5, 10, 0.5) == pytest.approx(1.0)
