"""Malformed data gives an error naming the file, row and field, and nothing is written."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from pandian.cli import app

HEADER = "id,question,A,B,C,D,answer\n"
GOOD = ["1,一加一等于几？,1,2,3,4,B\n", "2,中国的首都是,上海,北京,广州,深圳,B\n", "3,水的化学式是,H2O,CO2,O2,NaCl,A\n"]


def run_eval(tiny_model_dir, bench, db, *extra):
    return CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--bench", str(bench), "--db", str(db),
                                    *extra])


def assert_nothing_written(db):
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("name, content, message", [
    ("bad_letter.csv", HEADER + GOOD[0] + GOOD[1] + "3,水的化学式是,H2O,CO2,O2,NaCl,E\n",
     "bad_letter.csv, row 4, field 'answer': answer 'E' is not one of the labels ABCD"),
    ("dup.csv", HEADER + GOOD[0] + GOOD[1] + GOOD[0],
     "dup.csv, row 4, field 'id': duplicate id '1' (first at row 2)"),
    ("empty.csv", "", "empty.csv: no rows: the file is empty"),
    ("short_row.csv", HEADER + GOOD[0] + "2,中国的首都是,上海,北京,B\n",
     "short_row.csv, row 3: 5 values but 7 columns"),
])
def test_bad_csv(tmp_path, tiny_model_dir, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_eval(tiny_model_dir, path, db)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert_nothing_written(db)


def test_non_utf8_names_the_line(tmp_path, tiny_model_dir):
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + GOOD[0] + GOOD[1]).encode("gbk"))
    db = tmp_path / "r.db"
    result = run_eval(tiny_model_dir, path, db)
    assert result.exit_code == 2
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start
    assert f"gbk.csv: not UTF-8 (byte {offset}, line 2)" in " ".join(result.output.split())
    assert_nothing_written(db)


def test_missing_field_in_jsonl_row(tmp_path, tiny_model_dir):
    rows = [{"id": i, "question": f"问题{i}", "A": "甲", "B": "乙", "C": "丙", "D": "丁", "answer": "A"}
            for i in range(3)]
    del rows[2]["C"]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_eval(tiny_model_dir, path, db)
    assert result.exit_code == 2
    assert "mine.jsonl, row 3, field 'C': missing" in " ".join(result.output.split())
    assert_nothing_written(db)


def test_bad_row_in_a_benchmark_release_layout(tmp_path, tiny_model_dir, data_dir):
    """The same checks hold for built-in specs reading a (here: damaged) copy of a release."""
    for split in ("dev", "test"):
        src = (data_dir / "cmmlu" / "data" / split / "agronomy.csv").read_text(encoding="utf-8")
        dst = tmp_path / "cmmlu" / "data" / split / "agronomy.csv"
        dst.parent.mkdir(parents=True)
        lines = src.splitlines(keepends=True)
        if split == "test":
            lines[3] = lines[3][: lines[3].rstrip().rfind(",")] + ",X\n"
        dst.write_text("".join(lines), encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_eval(tiny_model_dir, "cmmlu", db, "--data-dir", str(tmp_path), "--subjects", "agronomy")
    assert result.exit_code == 2
    assert "agronomy.csv, row 4, field 'Answer': answer 'X' is not one of the labels ABCD" in \
        " ".join(result.output.split())
    assert_nothing_written(db)


def test_columns_that_cannot_be_detected_are_named(tmp_path, tiny_model_dir):
    path = tmp_path / "odd.csv"
    path.write_text("q,opt1,opt2,gold\n什么？,甲,乙,opt1\n", encoding="utf-8")
    result = run_eval(tiny_model_dir, path, tmp_path / "r.db")
    assert result.exit_code == 2
    assert "cannot tell which column is the question; columns: q, opt1, opt2, gold" in " ".join(result.output.split())


@pytest.mark.parametrize("extra, message", [
    (["--prompt-format", "opencompass-gen", "--scoring", "letter"],
     "prompt format 'opencompass-gen' reproduces OpenCompass 0.5.4 opencompass/configs/datasets/ceval/"
     "ceval_gen_5f30c7.py and is scored by --scoring generate, not letter"),
    (["--overflow", "cut-middle"], "--overflow must be drop-shots or truncate-left"),
])
def test_bad_prompt_format_or_overflow_is_refused_before_the_model_loads(tmp_path, data_dir, extra, message):
    """The model does not exist: only a check made before loading it can give this message."""
    db = tmp_path / "r.db"
    result = CliRunner().invoke(app, ["eval", "--model", str(tmp_path / "no-such-model"), "--bench", "ceval",
                                      "--data-dir", str(data_dir), "--db", str(db), *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not db.exists()
