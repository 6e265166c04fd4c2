"""`pandian runs`: the listing (date, settings, variant, stored/total questions), `show` (the stored summary, with
the model gone), `export` (what `eval --out` writes) and `delete`, on real runs in a real SQLite store."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from .conftest import ROOT, cli
from .test_pairing import flat, invoke


def count(db, table: str) -> int:
    return sqlite3.connect(db).execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_list_show_export_delete(tiny_model_dir, data_dir, tmp_path):
    db, out = tmp_path / "r.db", tmp_path / "eval-out"
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    own = tmp_path / "mine.jsonl"
    shutil.copy(ROOT / "pandian" / "samples" / "demo_mc.jsonl", own)
    partial = cli("eval", "--model", model, "--bench", "ceval", "--subjects", "law", "--limit", "4", "--shots", "2",
                  "--data-dir", data_dir, "--db", db, "--out", out)
    full = json.loads(cli("eval", "--model", model, "--bench", own, "--db", db, "--json"))
    ceval_id = json.loads((out / "summary.json").read_text())["run_id"]

    listing = cli("runs", "--db", db)
    assert "partial" in listing and "complete" in listing and "2" in listing
    rows = {r["run_id"]: r for r in json.loads(cli("runs", "--db", db, "--json"))}
    assert (rows[ceval_id]["stored"], rows[ceval_id]["total"], rows[ceval_id]["status"]) == (4, 1346, "partial")
    assert (rows[full["run_id"]]["stored"], rows[full["run_id"]]["total"]) == (40, 40)  # C-Eval's val split: 1346
    assert rows[ceval_id]["shots"] == 2 and rows[ceval_id]["prompt_format"] == "native"
    assert rows[ceval_id]["scoring"] == "letter" and rows[ceval_id]["chat_template"] is False
    assert rows[ceval_id]["variant"] == "model[float32]" and rows[full["run_id"]]["status"] == "complete"

    shutil.rmtree(model)  # show and export read the store alone: no model to load
    shown = invoke("runs", "show", ceval_id[:8], "--db", db)
    assert shown.exit_code == 0, shown.output
    table = [line for line in partial.splitlines() if line.startswith("│")]
    assert table and all(line in shown.output for line in table), "the stored table is the one eval printed"
    assert "4 of 1346 questions stored (partial)" in flat(shown.output)

    exported = tmp_path / "exported"
    assert invoke("runs", "export", ceval_id, "--out", exported, "--db", db).exit_code == 0
    a, b = json.loads((out / "summary.json").read_text()), json.loads((exported / "summary.json").read_text())
    assert a["accuracy"] == b["accuracy"] and a["config"] == b["config"]
    assert sorted((out / "records.jsonl").read_text().splitlines()) == \
        sorted((exported / "records.jsonl").read_text().splitlines())

    runs_before, records_before = count(db, "runs"), count(db, "records")
    deleted = invoke("runs", "delete", ceval_id, "--db", db)
    assert deleted.exit_code == 0 and "4 records, 1 sessions" in flat(deleted.output)
    assert count(db, "runs") == runs_before - 1 and count(db, "records") == records_before - 4
    assert ceval_id not in cli("runs", "--db", db) and full["run_id"] in cli("runs", "--db", db)


def test_unknown_runs_and_bad_out_are_named(tmp_path, tiny_model_dir):
    db = tmp_path / "r.db"
    own = tmp_path / "mine.jsonl"
    shutil.copy(ROOT / "pandian" / "samples" / "demo_mc.jsonl", own)
    run_id = json.loads(cli("eval", "--model", tiny_model_dir, "--bench", own, "--db", db, "--json"))["run_id"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args, culprit in ((("show", "feedbeef"), "'feedbeef'"), (("delete", "feedbeef"), "'feedbeef'"),
                          (("export", "feedbeef", "--out", tmp_path / "o"), "'feedbeef'"),
                          (("export", run_id, "--out", a_file), "is not a folder")):
        result = invoke("runs", *args, "--db", db)
        assert result.exit_code == 2 and culprit in flat(result.output), (args, result.output)
    assert count(db, "runs") == 1 and count(db, "records") == 40 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [("runs",), ("runs", "--json"), ("runs", "show", "feedbeef"),
                                  ("runs", "delete", "feedbeef"), ("runs", "export", "feedbeef", "--out", "o"),
                                  ("compare", "feedbeef", "deadbeef"), ("report", "--out", "r.html"),
                                  ("judge", "grade", "feedbeef", "--judge", "openai:x"), ("web",)])
def test_reading_commands_never_create_a_store(args, tmp_path, monkeypatch):
    """A mistyped --db (or PANDIAN_DB) is named; an empty store is not created on the way."""
    monkeypatch.chdir(tmp_path)
    for where in ("--db", "PANDIAN_DB"):
        db = tmp_path / f"new-{where.strip('-')}.db"
        if where == "PANDIAN_DB":
            monkeypatch.setenv("PANDIAN_DB", str(db))
            result, named = invoke(*args), str(db)
        else:
            monkeypatch.delenv("PANDIAN_DB", raising=False)
            result, named = invoke(*args, "--db", db), f"--db {db}"
        assert result.exit_code == 2, (args, result.output)
        assert f"{named}: no such results database" in flat(result.output), result.output
        assert list(tmp_path.iterdir()) == [], (args, list(tmp_path.iterdir()))


def test_show_keeps_multi_answer_counts_and_partial_credit(tiny_model_dir, tmp_path):
    shapes = ROOT / "tests" / "fixtures" / "shapes"
    db, out = tmp_path / "r.db", tmp_path / "o"
    text = cli("eval", "--model", tiny_model_dir, "--bench", shapes / "nested.yaml", "--data-dir", shapes / "data",
               "--db", db, "--out", out)
    evaluated = json.loads((out / "summary.json").read_text())
    shown = cli("runs", "show", evaluated["run_id"], "--db", db)
    assert "2 single-answer and 2 multi-answer question(s)" in flat(shown)
    assert [x for x in text.splitlines() if x.startswith("│")] == [x for x in shown.splitlines() if x.startswith("│")]
    stored = json.loads(cli("runs", "show", evaluated["run_id"], "--db", db, "--json"))
    for key in ("answers", "accuracy_by_answers", "partial_credit", "accuracy"):
        assert stored[key] == evaluated[key], key
