"""Each release shape a spec reads without code, on small files written for these tests (tests/fixtures/shapes),
and the errors a spec author gets when a shape does not fit: file, row and field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pandian.core.data import DataError, input_files, load_shots, load_split
from pandian.core.prompts import render
from pandian.core.spec import SpecError, load_spec

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
DATA = SHAPES / "data"


def load(name: str, data_dir: Path = DATA, split: str | None = None):
    spec = load_spec(str(SHAPES / f"{name}.yaml"))
    return spec, load_split(spec, data_dir, split or spec.splits.eval)


def prompt(spec, q, shots=()):
    return render(spec, spec.prompts[spec.default_prompt], q, list(shots)).text()


def test_headerless_tsv_with_named_columns():
    _, split = load("tsv")
    assert [(q.qid, q.choices[q.answer]) for q in split.questions] == [("tsv/q1", "东"), ("tsv/q2", "四个"),
                                                                       ("tsv/q3", "冰")]


def test_csv_with_another_delimiter_keeps_quoted_ones():
    _, split = load("semicolon")
    assert split.questions[0].question == "一周有几天；请选择" and split.questions[0].choices[2] == "七天"


@pytest.mark.parametrize("name", ["nested", "nested_pointer"])
def test_rows_under_a_key_path_or_pointer_with_embedded_options_and_list_answers(name):
    spec, split = load(name)
    qs = split.questions
    assert [q.question for q in qs] == ["下列哪个是中国的首都？", "下列哪些是哺乳动物？（ ）", "下列属于三原色（光）的有",
                                        "2的平方是多少？"]
    assert qs[0].choices == ("上海", "北京", "广州", "深圳")
    assert qs[2].choices == ("红", "绿", "黄", "蓝")  # "A:红;B:绿;…": separators trimmed
    assert qs[3].choices == ("2", "4", "8")  # "(A)2 (B)4 (C)8"
    assert [q.answer_label for q in qs] == ["B", "AC", "ABD", "B"]
    assert [q.multi for q in qs] == [False, True, True, False]
    assert split.counts == {"single": 2, "multi": 2}
    assert prompt(spec, qs[1]) == "下列哪些是哺乳动物？（ ）\nA. 鲸\nB. 鲨鱼\nC. 蝙蝠\nD. 企鹅\n答案："


def test_answer_pattern_reads_a_wrapped_answer():
    spec, split = load("law")
    q = split.questions[0]
    assert q.choices[q.answer] == "书面形式" and q.extra["instruction"].startswith("请选出正确答案")
    assert prompt(spec, q).startswith("请选出正确答案，写在[正确答案]和<eoa>之间。\n合同成立的一般要件不包括下列哪一项？\nA. 当事人\n")


def test_array_rows_and_groups_of_questions_on_one_passage():
    spec, split = load("reading")
    qs = split.questions
    assert [(q.qid, q.group, q.part) for q in qs] == [("reading/r-1#1", "r-1", 1), ("reading/r-1#2", "r-1", 2),
                                                      ("reading/r-2#1", "r-2", 1)]
    assert qs[1].choices[qs[1].answer] == "公园" and len(qs[1].choices) == 4
    assert prompt(spec, qs[0]).startswith("甲：明天我们去公园吧？\n乙：好啊，不过听说明天会下雨。\n问题：乙担心什么？\nA. 天气\n")


def test_group_split_shares_the_stem_and_hands_out_list_answers():
    spec, split = load("groups_split")
    a, b = split.questions
    assert a.stem == b.stem == "阅读下面的材料，完成下列各题。\n某地春季多风沙，夏季多暴雨。"
    assert (a.question, a.answer_label, b.question, b.answer_label) == (
        "（1）该地春季的主要天气现象是", "A", "（2）该地夏季的主要天气现象是", "B")
    assert a.choices == b.choices == ("风沙", "暴雨", "冰雹", "大雾")
    assert prompt(spec, b).startswith(a.stem + "\n（2）该地夏季的主要天气现象是\nA. 风沙\n")


def test_group_per_answer_shares_question_and_options():
    spec, split = load("groups_shared")
    a, b = split.questions
    assert a.choices == b.choices == ("花", "叶子", "雪") and (a.answer_label, b.answer_label) == ("A", "B")
    assert prompt(spec, b).endswith("C. 雪\n第2空的答案：")


def test_subjects_found_on_disk_with_per_subject_shots():
    spec, split = load("perfile")
    assert sorted({q.subject for q in split.questions}) == ["chinese", "math"] and len(split.questions) == 3
    pool = load_shots(spec, DATA)
    math = next(q for q in split.questions if q.subject == "math")
    assert [s.question for s in pool.pick(math, 2)] == ["四边形有几条边？", "1千克等于多少克？"]
    with pytest.raises(SpecError, match="subject 'chinese' has 1 few-shot examples.*fewer than --shots 2"):
        pool.pick(next(q for q in split.questions if q.subject == "chinese"), 2)
    assert load_split(spec, DATA, "test", ["math"]).files == [DATA / "perfile" / "math_test.csv"]


def test_other_placeholders_become_row_fields_and_set_ids_apart():
    spec, split = load("cond")
    assert [(q.qid, q.choices[q.answer]) for q in split.questions] == [("easy/1", "不确定"), ("hard/1", "年轻的")]
    # notes.csv sits in the same folder but does not match {condition}/{condition}.csv
    assert [p.name for p in split.files] == ["easy.csv", "hard.csv"]


def test_answers_joined_from_another_file_by_key():
    _, split = load("joined")
    assert [(q.qid, q.choices[q.answer]) for q in split.questions] == [("公共安全/7", "远离并报警"), ("攻击性/9", "否")]


def test_few_shot_examples_from_another_file_with_its_own_fields():
    spec, split = load("shots_file")
    shots = load_shots(spec, DATA).pick(split.questions[0], 2)
    assert prompt(spec, split.questions[0], shots).startswith(
        "中国最长的河流是哪条？\nA. 黄河\nB. 长江\nC. 珠江\n答案：B\n\n一天有多少小时？\nA. 12\nB. 24\nC. 48\n答案：B\n\n太阳")


def test_inline_shots_and_an_extra_column_reach_the_template():
    spec, split = load("shots_inline")
    shots = load_shots(spec, DATA).pick(split.questions[0], 1)
    assert prompt(spec, split.questions[0], shots) == (
        "材料：桌上有两本书。\n问题：桌上有两本书，拿走一本。桌上还有几本书？\nA. 一本\nB. 两本\n答案：A\n\n"
        "材料：小红有三个苹果，吃了一个。\n问题：小红还剩几个苹果？\nA. 两个\nB. 三个\n答案：")


def test_declared_encoding():
    _, split = load("gbk")
    assert split.questions[0].question == "中国有多少个省级行政区？"


def test_preprocess_hook_runs_only_when_trusted_and_is_part_of_the_identity(tmp_path):
    spec = load_spec(str(SHAPES / "hook.yaml"))
    with pytest.raises(SpecError, match=r"runs Python \(hook.py:to_rows\).*--trust-spec-code"):
        load_split(spec, DATA, "all")
    spec.allow_code()
    qs = load_split(spec, DATA, "all").questions
    assert [(q.question, q.choices[q.answer]) for q in qs] == [("地球绕太阳转一圈大约需要多久？", "一年"),
                                                               ("人体最大的器官是什么？", "皮肤")]
    assert qs[0].origin.endswith("raw_hook.json (after hook.py:to_rows):1")
    assert SHAPES / "hook.py" in input_files(spec, DATA, "all")
    # the hook's code is part of the spec's hash: changing it makes a new run
    copy = tmp_path / "spec"
    copy.mkdir()
    for name in ("hook.yaml", "hook.py"):
        (copy / name).write_text((SHAPES / name).read_text(encoding="utf-8"), encoding="utf-8")
    before = load_spec(str(copy / "hook.yaml")).spec_hash()
    (copy / "hook.py").write_text((copy / "hook.py").read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert load_spec(str(copy / "hook.yaml")).spec_hash() != before == spec.spec_hash()


def test_xlsx_sheet_and_headerless(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["这一页不是题目"])
    ws = wb.create_sheet("题目")
    ws.append(["一加一等于几？", "1", "2", "B"])
    ws.append(["二加二等于几？", "3", "4", "B"])
    wb.save(tmp_path / "exam.xlsx")
    spec_file = tmp_path / "x.yaml"
    spec_file.write_text((SHAPES / "tsv.yaml").read_text(encoding="utf-8").replace(
        '{path: "tsv/general.tsv", format: tsv, header: false, columns: [id, question, A, B, C, D, answer]}',
        '{path: exam.xlsx, format: xlsx, sheet: 题目, header: false, columns: [question, A, B, answer]}').replace(
        "{id: id, question: question, choices: [A, B, C, D], answer: answer}",
        "{question: question, choices: [A, B], answer: answer}"), encoding="utf-8")
    split = load_split(load_spec(str(spec_file)), tmp_path, "all")
    assert [q.choices[q.answer] for q in split.questions] == ["2", "4"]


# ---------------------------------------------------------------- what a spec author sees when a shape does not fit


def write_spec(tmp_path: Path, base: str, *replacements: tuple[str, str]) -> Path:
    text = (SHAPES / f"{base}.yaml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{base}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_options_that_cannot_be_split_name_the_row(tmp_path):
    data = tmp_path / "nested"
    data.mkdir()
    doc = json.loads((DATA / "nested" / "exam.json").read_text(encoding="utf-8"))
    doc["data"]["sections"][0]["questions"][2]["question"] = "下列属于三原色的有 红 绿 蓝"
    (data / "exam.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match=r"exam.json, row 3, field 'question': no options found in the text"):
        load_split(load_spec(str(SHAPES / "nested.yaml")), tmp_path, "all")


def test_multi_answers_need_the_spec_to_say_how(tmp_path):
    spec = write_spec(tmp_path, "nested", ("multi_answer: score\n", ""))
    with pytest.raises(DataError, match=r"row 2, field 'answer': answer 'AC' has several labels: set the spec's "
                                        r"multi_answer to score \(or skip\)"):
        load_split(load_spec(str(spec)), DATA, "all")
    skip = write_spec(tmp_path, "nested", ("multi_answer: score", "multi_answer: skip"))
    split = load_split(load_spec(str(skip)), DATA, "all")
    assert split.skipped == {"multi_answer": 2} and split.counts == {"single": 2, "multi": 0}


def test_multi_select_all_makes_every_question_a_set(tmp_path):
    spec = write_spec(tmp_path, "nested", ("multi_answer: score", "multi_answer: score\nmulti_select: all"))
    qs = load_split(load_spec(str(spec)), DATA, "all").questions
    assert [q.answer for q in qs] == [(1,), (0, 2), (0, 1, 3), (1,)] and all(q.multi for q in qs)


def test_group_answers_that_do_not_match_the_parts(tmp_path):
    (tmp_path / "groups_split.json").write_text(json.dumps({"example": [
        {"index": 0, "question": "材料。（1）问一 A．甲 B．乙 （2）问二 A．甲 B．乙", "answer": ["A"]}]},
        ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1, field 'answer': the question splits into 2 part\(s\) by "
                                        r"group.split but the answer lists 1"):
        load_split(load_spec(str(SHAPES / "groups_split.yaml")), tmp_path, "all")


def test_join_key_without_a_row(tmp_path):
    (tmp_path / "safety_q.json").write_text((DATA / "safety_q.json").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "safety_a.json").write_text('{"7": {"answer": 1}}', encoding="utf-8")
    with pytest.raises(DataError, match=r"safety_q.json, row 2, field 'id': id 9 has no row in .*safety_a.json"):
        load_split(load_spec(str(SHAPES / "joined.yaml")), tmp_path, "test")


def test_items_path_that_is_not_there_lists_the_keys(tmp_path):
    spec = write_spec(tmp_path, "nested", ("items: data.sections.0.questions", "items: data.section.0"))
    with pytest.raises(DataError, match=r"items: no 'section' under data; keys there: sections"):
        load_split(load_spec(str(spec)), DATA, "all")


def test_a_json_document_read_as_lines_gets_a_hint(tmp_path):
    spec = write_spec(tmp_path, "law", ("format: json}", "format: jsonl}"))
    with pytest.raises(DataError, match=r"law.json, row 1: invalid JSON.*use format: json"):
        load_split(load_spec(str(spec)), DATA, "all")


def test_no_files_for_a_discovered_subject_path(tmp_path):
    with pytest.raises(SpecError, match=r"perfile: no files match perfile/\{subject\}_test.csv under"):
        load_split(load_spec(str(SHAPES / "perfile.yaml")), tmp_path, "test")


@pytest.mark.parametrize("old, new, message", [
    ("question: \"{{ question }}\\n", "question: \"{{ question }\\n",
     r"tsv.yaml, line \d+, field 'prompts.zh.question': template line 1: unexpected '}'"),
    ("{{ question }}", "{{ qestion }}", r"field 'prompts.zh.question': unknown variable 'qestion'; templates know"),
    ("{{ label }}", "{{ row.passage }}", r"field 'prompts.zh.answer': row.passage is not a field the spec keeps: "
                                         r"add it to fields.extra"),
    ("header: false, columns: [id, question, A, B, C, D, answer]", "header: false",
     r"field 'data.local': Value error, header: false needs columns"),
    ("private: true\n", "", r"a public benchmark needs title, license, homepage, data.release"),
    ("format: tsv", "format: tsv, items: rows", r"items \(a path into a JSON document\) needs format: json"),
])
def test_spec_errors_name_line_and_field(tmp_path, old, new, message):
    spec = write_spec(tmp_path, "tsv", (old, new))
    with pytest.raises(SpecError, match=message):
        load_spec(str(spec))


def test_a_text_answer_on_two_identical_choices_is_skipped_and_counted(tmp_path):
    (tmp_path / "reading.json").write_text(json.dumps([
        [["甲：六块钱太贵了，五块吧。"], [{"question": "最后多少钱？", "choice": ["六块", "五块", "五块"], "answer": "五块"},
                                    {"question": "谁嫌贵？", "choice": ["甲", "乙"], "answer": "甲"}], "r-1"]],
        ensure_ascii=False), encoding="utf-8")
    split = load_split(load_spec(str(SHAPES / "reading.yaml")), tmp_path, "all")
    assert [q.qid for q in split.questions] == ["reading/r-1#2"] and split.skipped == {"duplicate_choices": 1}
