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


def test_the_command_exits_quickly_with_its_output_and_exit_code(tiny_model_dir, data_dir, tmp_path):
    """`python -m pandian` skips the interpreter's teardown once torch is loaded (cli.entry): the piped JSON is
    whole, the store and files are written, and exit codes are kept (0, and 2 for a mistake found after loading)."""
    import sqlite3
    import subprocess
    import sys

    def pandian(*args):
        return subprocess.run([sys.executable, "-m", "pandian", *map(str, args)], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)

    db = tmp_path / "r.db"
    ok = pandian("eval", "--model", tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir, "--subjects",
                 "agronomy", "--limit", "3", "--db", db, "--out", tmp_path / "out", "--json")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout)["questions"] == 3
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM records").fetchone()[0] == 3
    assert len((tmp_path / "out" / "records.jsonl").read_text().splitlines()) == 3
    # the teardown is skipped (a module global's finalizer never runs) but the atexit handlers still run
    probe = ("import atexit, sys; atexit.register(print, 'atexit ran')\n"
             "class Last:\n    def __del__(self): print('teardown ran')\n"
             "last = Last(); sys.argv = ['pandian', *sys.argv[1:]]\nfrom pandian.cli import entry\nentry()")
    quick = subprocess.run([sys.executable, "-c", probe, "eval", "--model", str(tiny_model_dir), "--bench", "cmmlu",
                            "--data-dir", str(data_dir), "--subjects", "agronomy", "--limit", "3", "--db", str(db),
                            "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert quick.returncode == 0 and quick.stdout.endswith("atexit ran\n"), quick.stderr[-2000:]
    assert "teardown ran" not in quick.stdout
    import torch

    if torch.cuda.is_available():
        return  # the mistake below is one only where torch sees no GPU
    # found once torch is imported (this CPU-only torch sees no GPU): still one paragraph and exit code 2
    bad = pandian("eval", "--model", tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir, "--device", "cuda",
                  "--db", db)
    assert bad.returncode == 2 and "--device cuda" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
