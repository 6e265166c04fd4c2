"""`pandian compare` refuses to pair questions that are not the same questions, shows the settings that differ, and
picks runs named by model so that their settings agree (or refuses, listing the candidates). Real runs of tiny
models on real files and a real C-Eval subject, in a real SQLite store."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from pandian.cli import app

from .conftest import cli

ROWS_A = [("一加一等于几？", "1", "2", "3", "4", "B"), ("中国的首都是", "上海", "北京", "广州", "深圳", "B"),
          ("水的化学式是", "H2O", "CO2", "O2", "NaCl", "A"), ("三角形内角和", "90", "180", "270", "360", "B"),
          ("最大的行星", "地球", "火星", "木星", "金星", "C"), ("光速约为每秒多少公里", "3万", "30万", "300万", "3000", "B")]
ROWS_B = [("二加二等于几？", "1", "2", "3", "4", "D"), ("日本的首都是", "大阪", "东京", "京都", "札幌", "B"),
          ("盐的化学式是", "H2O", "CO2", "O2", "NaCl", "D"), ("正方形内角和", "90", "180", "270", "360", "D"),
          ("最小的行星", "水星", "火星", "木星", "金星", "A"), ("声速约为每秒多少米", "34", "340", "3400", "34000", "B")]
HEADER = ("question", "A", "B", "C", "D", "answer")


def invoke(*args):
    """`pandian ARGS...` in-process; asserts it ended by exiting (no exception escaped, no traceback)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def flat(text: str) -> str:
    return " ".join(text.split())


def run_ids(db) -> list[str]:
    return [r[0] for r in sqlite3.connect(db).execute("SELECT run_id FROM runs ORDER BY created_at")]


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def evaluate_file(model_dir, path, db) -> str:
    out = json.loads(cli("eval", "--model", model_dir, "--bench", path, "--db", db, "--json"))
    return out["run_id"]


@pytest.fixture(scope="module")
def other_model_dir(tiny_model_dir, tmp_path_factory):
    """A second model: the tiny model with perturbed weights (another fingerprint, other answers)."""
    import torch
    from safetensors.torch import load_file, save_file

    out = tmp_path_factory.mktemp("other") / "tiny2"
    shutil.copytree(tiny_model_dir, out)
    weights = next(out.glob("*.safetensors"))
    torch.manual_seed(1)
    tensors = {k: v + 0.5 * torch.randn_like(v) if v.is_floating_point() else v
               for k, v in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    return out


def test_two_files_both_called_exam_csv_are_refused(tiny_model_dir, tmp_path):
    db = tmp_path / "r.db"
    a = evaluate_file(tiny_model_dir, write_csv(tmp_path / "a" / "exam.csv", ROWS_A), db)
    b = evaluate_file(tiny_model_dir, write_csv(tmp_path / "b" / "exam.csv", ROWS_B), db)
    before = run_ids(db)

    result = invoke("compare", a, b, "--db", db)
    text = flat(result.output)
    assert result.exit_code == 2, result.output
    assert "hold different questions under the same ids: 6 of 6 shared ids differ" in text
    assert str(tmp_path / "a" / "exam.csv") in text and str(tmp_path / "b" / "exam.csv") in text
    assert "--force" in text and run_ids(db) == before

    forced = invoke("compare", a, b, "--db", db, "--force")
    assert forced.exit_code == 0 and "warning (--force)" in forced.output
    assert "data" in forced.output  # the settings table names the differing data fingerprint


def test_csv_and_jsonl_of_the_same_questions_one_row_off_are_refused(tiny_model_dir, tmp_path):
    db = tmp_path / "r.db"
    a = evaluate_file(tiny_model_dir, write_csv(tmp_path / "exam.csv", ROWS_A), db)
    jsonl = tmp_path / "j" / "exam.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text("".join(json.dumps(dict(zip(HEADER, r)), ensure_ascii=False) + "\n" for r in ROWS_A),
                     encoding="utf-8")
    b = evaluate_file(tiny_model_dir, jsonl, db)

    result = invoke("compare", a, b, "--db", db, "--json")
    text = flat(result.output)
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert "5 of 5 shared ids differ in content" in text
    assert "its exam/1 is the baseline's exam/2" in text and "--field id=COLUMN" in text

    # the same questions under the same ids (an id column in both files) compare cleanly
    with_ids = [(str(i), *r) for i, r in enumerate(ROWS_A)]
    c_csv = tmp_path / "k" / "exam.csv"
    c_csv.parent.mkdir()
    with c_csv.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", *HEADER), *with_ids])
    c_jsonl = tmp_path / "k2" / "exam.jsonl"
    c_jsonl.parent.mkdir()
    c_jsonl.write_text("".join(json.dumps(dict(zip(("id", *HEADER), r)), ensure_ascii=False) + "\n"
                               for r in with_ids), encoding="utf-8")
    c, d = evaluate_file(tiny_model_dir, c_csv, db), evaluate_file(tiny_model_dir, c_jsonl, db)
    ok = invoke("compare", c, d, "--db", db, "--json")
    assert ok.exit_code == 0, ok.output
    cmp = json.loads(ok.stdout)
    assert cmp["questions"] == 6 and cmp["pairing_problems"] == [] and "data" in cmp["differences"]


def ceval(model_dir, data_dir, db, shots) -> str:
    out = cli("eval", "--model", model_dir, "--bench", "ceval", "--subjects", "law", "--limit", "4", "--shots", shots,
              "--data-dir", data_dir, "--db", db, "--json")
    return json.loads(out)["run_id"]


def test_runs_named_by_model_share_their_settings_or_are_refused(tiny_model_dir, other_model_dir, data_dir,
                                                                  tmp_path):
    db = tmp_path / "r.db"
    a5 = ceval(tiny_model_dir, data_dir, db, 5)
    b0 = ceval(other_model_dir, data_dir, db, 0)
    a_name, b_name = str(tiny_model_dir), str(other_model_dir)

    # the only runs of the two models differ in shots: refused, with both candidates listed
    result = invoke("compare", a_name, b_name, "--db", db)
    text = flat(result.output)
    assert result.exit_code == 2, result.output
    assert "share no settings" in text and a5 in text and b0 in text and "shots=5" in text and "shots=0" in text

    # explicit ids may differ in settings: compared, and the difference is shown
    explicit = invoke("compare", a5, b0, "--db", db, "--json")
    assert explicit.exit_code == 0, explicit.output
    assert json.loads(explicit.stdout)["differences"]["shots"] == [5, 0]

    # 0-shot and (latest) 1-shot runs of the first model: the names pair the two 0-shot runs, not the latest ones
    a0 = ceval(tiny_model_dir, data_dir, db, 0)
    ceval(tiny_model_dir, data_dir, db, 1)
    picked = invoke("compare", a_name, b_name, "--db", db, "--json")
    assert picked.exit_code == 0, picked.output
    cmp = json.loads(picked.stdout)
    assert [v["run_id"] for v in cmp["variants"]] == [a0, b0] and "shots" not in cmp["differences"]

    # both models under both settings: the names no longer determine the runs
    b5 = ceval(other_model_dir, data_dir, db, 5)
    before = run_ids(db)
    ambiguous = invoke("compare", a_name, b_name, "--db", db)
    text = flat(ambiguous.output)
    assert ambiguous.exit_code == 2 and "more than one set of shared settings" in text
    assert all(r in text for r in (a0, a5, b0, b5)) and run_ids(db) == before


def test_records_without_question_hashes_fall_back_on_the_data(tiny_model_dir, tmp_path):
    """Stores written before records carried question hashes: same data pairs; other data with other prompt
    settings cannot be verified and is refused."""
    db = tmp_path / "r.db"
    path = write_csv(tmp_path / "exam.csv", ROWS_A)
    a = evaluate_file(tiny_model_dir, path, db)
    b = json.loads(cli("eval", "--model", tiny_model_dir, "--bench", path, "--db", db, "--json",
                       "--prompt-format", "en"))["run_id"]
    other = evaluate_file(tiny_model_dir, write_csv(tmp_path / "b" / "exam.csv", ROWS_B), db)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE records SET question_hash = NULL")

    same = invoke("compare", a, b, "--db", db, "--json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["differences"]["prompt_format"] == ["zh", "en"]
    unverifiable = invoke("compare", b, other, "--db", db)
    assert unverifiable.exit_code == 2 and "cannot be verified" in flat(unverifiable.output)
    assert invoke("compare", a, other, "--db", db).exit_code == 2  # same prompts: the prompt hashes differ


def test_variant_labels_name_the_precision_or_nothing():
    from pandian.app.pairing import variant_label

    assert variant_label({"model": "/m/qwen-7b/", "config": {"dtype": "float32"}}) == "qwen-7b[float32]"
    assert variant_label({"model": "/m/qwen-7b", "config": {"dtype": "bfloat16", "quant": "int4"}}) == "qwen-7b[int4]"
    assert variant_label({"model": "deepseek-chat", "config": {}}) == "deepseek-chat"  # an API model: was "…[]"
