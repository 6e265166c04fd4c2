"""Confidence intervals against scipy and hand-computed values."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from pandian.core.metrics import subject_mean_ci, summarize, wilson


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (50, 100), (99, 100), (2893, 11582)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_subject_mean_ci_brackets_the_mean_and_narrows_with_n():
    small = subject_mean_ci([(5, 10), (8, 10)])
    large = subject_mean_ci([(500, 1000), (800, 1000)])
    assert small[0] < 0.65 < small[1] and large[0] < 0.65 < large[1]
    assert (large[1] - large[0]) < (small[1] - small[0]) / 5


def test_summarize_pools_and_averages_and_counts_overlapping_categories():
    records = [("a", c) for c in (1, 1, 1, 0)] + [("b", 0)] * 2
    cats = {"a": ["X", "China specific"], "b": ["X"]}
    s = summarize(records, cats.get)
    assert s["overall"]["questions"]["acc"] == pytest.approx(3 / 6)
    assert s["overall"]["subject_mean"]["acc"] == pytest.approx((0.75 + 0) / 2)
    assert s["categories"]["China specific"]["questions"]["n"] == 4
    assert s["categories"]["X"]["subjects"] == 2
