"""The README's commands, run for real: demo, eval with --out on a real benchmark and on a user's own file."""

from __future__ import annotations

import json
import shutil

from .conftest import ROOT, cli


def test_eval_writes_summary_and_records(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "out"
    text = cli("eval", "--model", str(tiny_model_dir), "--bench", "ceval", "--data-dir", str(data_dir),
                  "--shots", "5", "--subjects", "accountant,law", "--limit", "12", "--db", str(tmp_path / "r.db"),
                  "--out", str(out))
    assert "Overall" in text and "Other" in text and "Humanities" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 24 and summary["config"]["shots"] == 5 and summary["config"]["split"] == "val"
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 24
    r = records[0]
    assert {"benchmark", "subject", "qid", "prompt_hash", "logprobs", "pred", "gold", "correct"} <= r.keys()
    assert r["benchmark"] == "ceval" and len(r["logprobs"]) == 4 and r["pred"] in "ABCD"
    assert summary["accuracy"]["overall"]["questions"]["correct"] == sum(x["correct"] for x in records)


def test_own_file_with_detected_columns(tiny_model_dir, tmp_path):
    own = tmp_path / "mine.jsonl"
    shutil.copy(ROOT / "pandian" / "samples" / "demo_mc.jsonl", own)
    out = tmp_path / "o"
    cli("eval", "--model", str(tiny_model_dir), "--bench", str(own), "--db", str(tmp_path / "r.db"),
           "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 40
    assert set(summary["accuracy"]["categories"]) == {"STEM", "Humanities", "Social Science", "Other"}


def test_own_csv_with_named_columns_and_index_answers(tiny_model_dir, tmp_path):
    own = tmp_path / "exam.csv"
    own.write_text("题号,题干,甲,乙,丙,正确\n1,一加一,1,2,3,1\n2,二加二,4,5,6,0\n3,三加三,5,6,7,1\n", encoding="utf-8")
    out = tmp_path / "o"
    cli("eval", "--model", str(tiny_model_dir), "--bench", str(own), "--db", str(tmp_path / "r.db"),
           "--field", "question=题干", "--field", "choices=甲|乙|丙", "--field", "answer=正确", "--field", "id=题号",
           "--out", str(out))
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [r["gold"] for r in records] == ["B", "A", "B"] and [r["qid"] for r in records] == ["exam/1", "exam/2",
                                                                                                  "exam/3"]


def test_rerun_computes_nothing_and_runs_lists_it(tiny_model_dir, data_dir, tmp_path):
    args = ["eval", "--model", str(tiny_model_dir), "--bench", "mmlu", "--data-dir", str(data_dir), "--shots", "1",
            "--subjects", "anatomy", "--limit", "10", "--db", str(tmp_path / "r.db")]
    cli(*args)
    assert "0 computed now" in " ".join(cli(*args).split())
    assert "mmlu" in cli("runs", "--db", str(tmp_path / "r.db"))


def test_benchmarks_lists_the_specs():
    text = cli("benchmarks")
    for name in ("cmmlu", "ceval", "mmlu", "medqa-mcmle", "cnmleqa", "cmexam"):
        assert name in text


def test_demo_runs_offline(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = " ".join(cli("demo", "--data-dir", str(data_dir), "--db", str(tmp_path / "d.db"),
                           "--cmmlu-limit", "2", "--report", str(tmp_path / "r.html")).split())
    assert "scores at chance" in text and "CMMLU" in text and "China specific" in text and "Overall" in text
    assert "recommend --scenario legal --gpu 24GB --commercial" in text and "#1, ranked among" in text
    # a version of the model compared on the same questions: paired, with the setting that differs
    assert "the bf16 version of the same model" in text and "shared questions, baseline" in text
    assert "settings that differ between the runs" in text and "bfloat16" in text
    html = (tmp_path / "r.html").read_text(encoding="utf-8")  # the report of what the demo measured
    assert "pandian report --out" in text and "bfloat16" in html and "Baichuan2-13B-Base" in html
