"""Scenario suites: every suite file loads and every part reads its real benchmark data; the suite score is the mean
of the parts with a bootstrap interval; a bad suite file is refused with its file, line and field."""

from __future__ import annotations

import pytest

from pandian.core.data import load_split
from pandian.core.spec import SpecError, load_spec
from pandian.core.suite import builtin_suites, load_suite, suite_score

SCENARIOS = {"medical", "legal", "education", "finance", "engineering", "general-zh", "english", "multilingual",
             "safety"}


def test_the_scenarios_are_there():
    assert SCENARIOS <= set(builtin_suites())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_part_loads_real_data(name, data_dir):
    suite = load_suite(name)
    total = 0
    for part in suite.parts:
        spec = load_spec(part.bench)
        split = load_split(spec, data_dir, part.split or spec.splits.eval, part.subjects)
        assert split.questions, (name, part.bench)
        if part.subjects:
            assert {q.subject for q in split.questions} == set(part.subjects)
        if part.shots:
            shots = load_split(spec, data_dir, spec.splits.fewshot, part.subjects)
            per_subject = {}
            for q in shots.questions:
                per_subject[q.subject] = per_subject.get(q.subject, 0) + 1
            assert min(per_subject.values()) >= part.shots, (name, part.bench)
        total += len(split.questions)
    assert total >= 300, (name, total)


def test_known_part_sizes(data_dir):
    """Counts checked against the releases' own numbers (data/README.md)."""
    sizes = {p.bench: len(load_split(load_spec(p.bench), data_dir, load_spec(p.bench).splits.eval,
                                     p.subjects).questions)
             for s in ("medical", "finance", "safety", "multilingual", "legal", "general-zh", "education")
             for p in load_suite(s).parts if not p.subjects}
    assert sizes["medqa-mcmle"] == 3426 and sizes["cnmleqa"] == 2949 and sizes["fineval"] == 3340
    assert sizes["cbbq-ambiguous"] == 45664 and sizes["cbbq-disambiguous"] == 17860 and sizes["xcopa"] == 5500
    assert sizes["lawbench-mcq"] == 1500 and sizes["lexeval-mcq"] == 8397 and sizes["c3"] == 3892
    assert sizes["safetybench-zh"] == 2100 and sizes["gaokao-mcq"] == 1482


def test_suite_score_is_the_mean_of_parts():
    s = suite_score({"a": (80, 100), "b": (25, 1000)})
    assert s["score"] == pytest.approx((0.80 + 0.025) / 2)
    assert s["questions"] == 1100
    lo, hi = s["ci95"]
    assert lo < s["score"] < hi and hi - lo < 0.12
    assert s["parts"]["b"]["acc"] == pytest.approx(0.025)


def test_bad_suite_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntitle: X\ndescription: d\nlanguage: zh\nparts:\n  - bench: cmmlu\n    shots: -1\n",
                   encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad.yaml, line 7, field 'parts.0.shots'"):
        load_suite(str(bad))
    bad.write_text("name: x\ntitle: X\ndescription: d\nlanguage: zh\nparts:\n  - bench: cmmlu\n"
                   "    subjects: [law]\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"line 6, part 'cmmlu': cmmlu has no subject\(s\) law"):
        load_suite(str(bad))
    bad.write_text("name: x\ntitle: X\ndescription: d\nlanguage: zh\nparts:\n  - bench: cnmleqa\n    shots: 5\n",
                   encoding="utf-8")
    with pytest.raises(SpecError, match="cnmleqa has no few-shot split; use shots: 0"):
        load_suite(str(bad))
    with pytest.raises(SpecError, match="unknown suite 'lgeal'"):
        load_suite("lgeal")
