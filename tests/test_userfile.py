"""A user's own file as a benchmark: columns detected or named by --field, names checked, a passage kept, labels
already inside choices stripped once, empty answer columns never taken for the answer, several answers scored."""

from __future__ import annotations

import json

import pytest

from pandian.core.data import DataError, load_split
from pandian.core.prompts import render
from pandian.core.userfile import user_spec


def load(path, **overrides):
    spec = user_spec(path, overrides)
    return spec, load_split(spec, path.parent, spec.splits.eval).questions


def text(spec, q):
    return render(spec, spec.prompts[spec.default_prompt], q, []).text()


def test_unknown_field_name_lists_the_valid_ones(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("question,A,B,answer\n一加一,1,2,B\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"--field qestion=…: not a field name; use one of question, choices, "
                                        r"answer, answer_format, subject, category, id, passage"):
        user_spec(path, {"qestion": "question"})
    with pytest.raises(DataError, match=r"--field passage=材料: no such column; columns: question, A, B, answer"):
        user_spec(path, {"passage": "材料"})


def test_passage_named_or_detected_reaches_the_prompt(tmp_path):
    path = tmp_path / "read.csv"
    path.write_text("文段,question,A,B,answer\n小明有两支笔。,小明有几支笔？,一支,两支,B\n", encoding="utf-8")
    spec, (q,) = load(path, passage="文段")
    assert text(spec, q) == "以下是单项选择题，请直接给出正确答案的选项。\n\n小明有两支笔。\n小明有几支笔？\nA. 一支\nB. 两支\n答案："
    detected = tmp_path / "read2.jsonl"
    detected.write_text(json.dumps({"context": "Tom has two pens.", "question": "How many pens?",
                                    "choices": ["one", "two"], "answer": "B"}) + "\n", encoding="utf-8")
    spec, (q,) = load(detected)
    assert "Tom has two pens.\nHow many pens?\nA. one\nB. two\nAnswer:" in text(spec, q)


def test_labels_already_in_the_choices_are_stripped_once(tmp_path):
    path = tmp_path / "lab.jsonl"
    rows = [{"question": "血型？", "options": ["A. A型", "B. B型"], "answer": "A"},
            {"question": "颜色？", "options": ["(A)红", "(B)蓝"], "answer": "B"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    spec, qs = load(path)
    assert [q.choices for q in qs] == [("A型", "B型"), ("红", "蓝")]
    assert "A. A型\nB. B型\n" in text(spec, qs[0])
    plain = tmp_path / "plain.csv"  # a choice that merely starts with a letter is left alone
    plain.write_text("question,A,B,answer\n哪种维生素？,A族维生素,B族维生素,A\n", encoding="utf-8")
    assert load(plain)[1][0].choices == ("A族维生素", "B族维生素")


def test_an_empty_answer_column_is_never_the_answer(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("question,A,B,answer,label\n一加一,1,2,,B\n二加二,4,5,,A\n", encoding="utf-8")
    assert [q.answer for q in load(path)[1]] == [1, 0]
    blank = tmp_path / "blank.csv"
    blank.write_text("question,A,B,answer\n一加一,1,2,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot tell which column is the answer \(answer: empty in every row\)"):
        user_spec(blank, {})


def test_several_answers_are_scored_as_sets(tmp_path):
    path = tmp_path / "multi.tsv"
    path.write_text("question\tA\tB\tC\tanswer\n哪些是偶数？\t2\t3\t4\tAC\n哪个是奇数？\t2\t3\t4\tB\n", encoding="utf-8")
    spec, qs = load(path)
    assert [q.answer for q in qs] == [(0, 2), 1] and spec.private
    assert text(spec, qs[0]).startswith("以下是多项选择题") and text(spec, qs[1]).startswith("以下是单项选择题")
