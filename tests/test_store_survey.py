"""The store's aggregate queries (what the report and the web app read) give the same numbers as the records
themselves, computed in Python by the code `pandian eval` and `pandian compare` use."""

from __future__ import annotations

import numpy as np
import pytest

from pandian.app.compare import compare
from pandian.core.metrics import summarize, summarize_counts
from pandian.core.spec import load_spec
from pandian.core.stats import paired_diff_ci, paired_diff_ci_counts


@pytest.fixture(scope="module")
def store(survey_store):
    from pandian.store import open_store

    s = open_store(survey_store["db"])
    yield s
    s.close()


def test_subject_counts_match_the_records(store, survey_store):
    counts, totals = store.subject_counts()
    cats = load_spec("cmmlu").categories_of
    for key in ("fp32", "int8", "api"):
        rid = survey_store[key]
        recs = store.records(rid)
        scored = [r for r in recs if r.correct is not None]
        assert totals[rid] == {"records": len(recs), "scored": len(scored),
                               "correct": sum(r.correct for r in scored)}
        assert summarize_counts(counts[rid], cats) == summarize([(r.subject, r.correct) for r in scored], cats)
        # the light read suites and strengths use: the scored records' outcomes, nothing else
        assert sorted(store.outcomes(rid)) == sorted((r.qid, r.subject, int(r.correct)) for r in scored)


def test_paired_counts_and_flips_match_compare(store, survey_store):
    base, other = survey_store["fp32"], survey_store["int8"]
    result = compare(store, [base, other])
    v = result["variants"][1]
    per_subject = store.paired_counts(base, other)
    n = sum(c[0] for c in per_subject.values())
    rw = sum(c[1] for c in per_subject.values())
    wr = sum(c[2] for c in per_subject.values())
    assert (n, rw, wr) == (result["questions"], len(v["right_to_wrong"]), len(v["wrong_to_right"]))
    assert [a.qid for a, _ in store.flips(base, other, "right_to_wrong", limit=1000)] == sorted(v["right_to_wrong"])
    assert [a.qid for a, _ in store.flips(base, other, "wrong_to_right", limit=1000)] == sorted(v["wrong_to_right"])
    assert list(paired_diff_ci_counts(n, rw, wr)) == pytest.approx(v["delta_ci95"])


def test_paired_interval_from_counts_is_the_bootstrap():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    rw, wr = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    assert paired_diff_ci_counts(500, rw, wr) == paired_diff_ci(a, b)


def test_record_pages_cover_the_run_once(store, survey_store):
    rid = survey_store["fp32"]
    total, first = store.record_page(rid, limit=20)
    _, rest = store.record_page(rid, offset=20, limit=100)
    assert total == 48 and len(first) == 20 and len(rest) == 28
    assert sorted(r.qid for r in first + rest) == sorted(r.qid for r in store.records(rid))
    total, hits = store.record_page(rid, search="ANATOMY/")  # case-insensitive, literal
    assert total == 8 and all(r.qid.startswith("anatomy/") for r in hits)
    total, hits = store.record_page(rid, search="_", limit=100)  # a literal underscore, not LIKE's wildcard
    assert total == 24 and all("_" in r.qid for r in hits)  # chinese_history, college_medicine, high_school_physics
    assert store.record_page(rid, search="%", offset=10) == (0, [])
