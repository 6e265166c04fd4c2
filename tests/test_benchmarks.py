"""Every shipped benchmark spec loads its real release files with the official item counts and mappings."""

from __future__ import annotations

import json

import pytest

from pandian.core.data import load_split
from pandian.core.spec import BUILTIN_DIR, SpecError, builtin_names, load_spec

from .conftest import need_data

EXPECTED = {  # benchmark: (eval items, subjects, few-shot items or None, skipped, multi-answer items)
    "cmmlu": (11582, 67, 335, {}, 0),
    "ceval": (1346, 52, 260, {}, 0),
    "mmlu": (14042, 57, 285, {}, 0),
    "medqa-mcmle": (3426, 25, 3425, {}, 0),
    "medqa-mcmle-4": (3426, 25, 3425, {}, 0),
    "cnmleqa": (2949, 2, None, {}, 0),
    # CMExam's val release: 210 items with several answers (scored as sets) and one whose answer is 'nan'.
    "cmexam": (6810, 1, None, {"no_answer": 1}, 210),
    "fineval": (3340, 34, 170, {}, 0),  # data1 val and dev of the v2 release (data-v2/data1/readme.md)
    "xcopa": (5500, 11, 1100, {}, 0),  # 500 test and 100 val items in each of 11 languages
    # CBBQ: the instance files present in the snapshot (cbbq/SOURCE.md): 13 ambiguous, 10 disambiguated categories
    "cbbq-ambiguous": (45664, 13, None, {}, 0),
    "cbbq-disambiguous": (17860, 10, None, {}, 0),
    "lawbench-mcq": (1500, 3, None, {}, 0),  # tasks 1-2, 3-6 and 2-8, 500 each
    "lexeval-mcq": (8397, 15, None, {"no_answer": 3}, 1139),  # three 3_5 items have a null answer
    "c3": (3892, 2, 3816, {}, 0),  # dialogue 1,890 + mixed 2,002 test questions
    "safetybench-zh": (2100, 7, None, {}, 0),  # 300 per category, answers joined from the released key
    "gaokao-mcq": (1482, 8, None, {}, 23),  # physics' multi-select questions are scored as sets
    **{name: None for name in ("gsm8k", "cmath", "xcopa-zh", "xcopa-zh-en", "alignbench", "mt-bench")},
}


def test_every_builtin_spec_is_covered():
    assert set(builtin_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(k for k, v in EXPECTED.items() if v))
def test_loads_real_release(name, data_dir):
    spec = load_spec(name)
    n_eval, n_subjects, n_shots, skipped, n_multi = EXPECTED[name]
    split = load_split(spec, data_dir, spec.splits.eval)
    assert len(split.questions) == n_eval
    assert len({q.subject for q in split.questions}) == n_subjects
    assert split.skipped == skipped
    assert split.counts == {"single": n_eval - n_multi, "multi": n_multi}
    assert len({q.qid for q in split.questions}) == n_eval
    assert all(0 <= i < len(q.choices) for q in split.questions
               for i in (q.answer if q.multi else (q.answer,)))
    if n_shots is not None:
        assert len(load_split(spec, data_dir, spec.splits.fewshot).questions) == n_shots


def test_cmexam_options_split_from_one_cell(data_dir):
    q = load_split(load_spec("cmexam"), data_dir, "val").questions[0]
    assert q.choices == ("原发病", "出血部位", "出血量", "在胃内停留时间", "以上均非")
    assert q.labels[q.answer] == "C"


def test_cmexam_multi_answer_items_are_sets_and_say_so(data_dir):
    from pandian.core.prompts import render

    spec = load_spec("cmexam")
    multi = [q for q in load_split(spec, data_dir, "val").questions if q.multi]
    assert len(multi) == 210 and multi[0].answer_label == "ABC"
    assert {len(q.answer) for q in multi} == {2, 3, 4, 5}
    p = render(spec, spec.prompts["zh"], multi[0], [])
    assert p.text().startswith("以下是中国执业医师资格考试的多项选择题")
    assert len(p.continuations) == 31 and p.answers[:6] == ("A", "B", "C", "D", "E", "AB")


def test_cnmleqa_answer_names_a_column(data_dir):
    q = load_split(load_spec("cnmleqa"), data_dir, "all").questions[0]
    assert q.question == "小剂量地塞米松抑制试验适用于" and q.choices[q.answer] == "肾上腺皮质增多症定性"


def test_ceval_test_split_is_refused_with_advice(data_dir):
    with pytest.raises(SpecError, match="has no answers.*--split val"):
        load_split(load_spec("ceval"), data_dir, "test")


def test_offline_without_local_copy_names_the_local_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpecError, match=r"no local copy of CMMLU.*--data-dir"):
        load_split(load_spec("cmmlu"), tmp_path, "test", ["agronomy"])


def test_unknown_subject_is_named():
    with pytest.raises(SpecError, match="unknown subject.*no_such_subject"):
        load_split(load_spec("cmmlu"), need_data(), "test", ["no_such_subject"])


def test_cmmlu_categories_follow_the_authors_mapping(data_dir):
    authors = json.loads((data_dir / "cmmlu" / "categories.json").read_text())
    spec = load_spec("cmmlu")
    for subject, subcats in authors["subcategories"].items():
        expected = {cat for cat, subs in authors["categories"].items() if set(subs) & set(subcats)}
        assert set(spec.categories_of(subject)) == expected, subject
        assert spec.subject_name(subject) == authors["name_zh"][subject]
    assert len(spec.subjects) == 67


def test_ceval_and_mmlu_categories_follow_the_authors_mapping(data_dir):
    ceval = json.loads((data_dir / "ceval" / "subject_mapping.json").read_text())["subjects"]
    spec = load_spec("ceval")
    assert {s: (spec.subject_name(s), spec.categories_of(s)) for s in spec.subjects} == \
        {s: (v[1], [v[2]]) for s, v in ceval.items()}
    mmlu = json.loads((data_dir / "mmlu" / "categories.json").read_text())["categories"]
    spec = load_spec("mmlu")
    assert {s: spec.categories_of(s) for s in spec.subjects} == {s: [c] for s, c in mmlu.items()}


def test_spec_error_names_file_line_and_field(tmp_path):
    text = (BUILTIN_DIR / "cmmlu.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("answer_format: letter", "answer_format: letters"), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_spec(str(bad))
    line = next(i for i, s in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if "letters" in s)
    assert f"bad.yaml, line {line}, field 'fields.answer_format'" in str(e.value)


GENERATIVE = {  # benchmark: (eval items, subjects)
    "gsm8k": (1319, 1), "cmath": (600, 6), "xcopa-zh": (500, 1), "xcopa-zh-en": (500, 1),
    "alignbench": (683, 8), "mt-bench": (80, 8),
}


@pytest.mark.parametrize("name", sorted(GENERATIVE))
def test_generative_benchmarks_load(name, data_dir):
    spec = load_spec(name)
    split = load_split(spec, data_dir, spec.splits.eval)
    n, subjects = GENERATIVE[name]
    assert len(split.questions) == n and len({q.subject for q in split.questions}) == subjects
    q = split.questions[0]
    if spec.kind == "short_answer":
        assert all(x.answer is not None for x in split.questions)
    if name == "gsm8k":
        assert q.answer == "18" and q.target.endswith("#### 18")
    if name == "mt-bench":
        assert len(q.extra["turns"]) == 2 and q.question == q.extra["turns"][0]
    if name == "alignbench":
        assert q.target and q.answer is None


@pytest.mark.parametrize("name", ["cmmlu", "safetybench-zh"])  # a file per subject; one file for all subjects
def test_chosen_subjects_read_each_file_once_and_count_the_whole_split(name, data_dir, monkeypatch):
    """`--subjects`: the run still knows the split's size (for `pandian runs`' stored/total) without reading any
    file twice."""
    import pandian.core.data as data
    from pandian.app.lifecycle import EvalOptions, load_inputs

    spec = load_spec(name)
    first = load_split(spec, data_dir, spec.splits.eval).questions[0].subject
    reads = []
    real = data.file_rows
    monkeypatch.setattr(data, "file_rows", lambda spec, d, split, df: reads.append(df.path) or real(spec, d, split, df))
    inputs = load_inputs(spec, EvalOptions(data_dir=data_dir, subjects=[first]), spec.splits.eval)
    assert inputs.total == EXPECTED[name][0]
    assert {q.subject for q in inputs.questions} == {first}
    assert len(reads) == len(set(reads))
