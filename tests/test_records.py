"""Typed records round-trip through the store, and a stored record's prompt can be shown exactly as the model saw
it: re-rendered from the run's own spec and data, and checked against the record's hash."""

from __future__ import annotations

from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.app.prompts import recorded_prompt
from pandian.core.records import Record
from pandian.core.spec import load_spec
from pandian.store import open_store


def test_record_round_trip(tmp_path):
    store = open_store(tmp_path / "r.db")
    store.ensure_run("r1", "m", "b", {}, {})
    recs = [Record(qid="a/1", subject="a", prompt_hash="h", n_shots=2, pred="B", gold="C", correct=0,
                   logprobs=[-1.0, -0.5], truncated_tokens=3, pred_norm="A", correct_norm=0),
            Record(qid="a/2", subject="a", prompt_hash="h2", n_shots=0, pred="", gold=None, correct=None,
                   response="答案是……", method="generate", extraction_failed=True, turns=["一", "二"],
                   prompt_tokens=12, completion_tokens=4, finish_reason="length")]
    store.add_records("r1", recs)
    assert store.records("r1") == recs
    assert store.runs()[0]["scored"] == 1 and store.runs()[0]["records"] == 2


def test_recorded_prompt_matches_the_hash(tiny_model, data_dir, tmp_path):
    store = open_store(tmp_path / "r.db")
    opts = EvalOptions(data_dir=data_dir, shots=2, subjects=["law"], limit=3, prompt_format="lm-eval")
    res = evaluate(tiny_model, load_spec("ceval"), opts, store)
    for rec in res.records:
        shown = recorded_prompt(store, res.run_id, rec.qid)
        assert shown.verified, rec.qid
        assert shown.text.count("答案：") == 3 and len(shown.continuations) == 4
    gen = evaluate(tiny_model, load_spec("ceval"),
                   EvalOptions(data_dir=data_dir, shots=1, subjects=["law"], limit=2, scoring="generate",
                               max_tokens=2), store)
    assert all(recorded_prompt(store, gen.run_id, r.qid).verified for r in gen.records)


def test_a_store_from_before_typed_records_is_migrated(tmp_path):
    import json
    import sqlite3

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, model TEXT NOT NULL,
                           benchmark TEXT NOT NULL, config TEXT NOT NULL, versions TEXT NOT NULL);
        CREATE TABLE records (run_id TEXT NOT NULL, qid TEXT NOT NULL, subject TEXT NOT NULL,
                              prompt_hash TEXT NOT NULL, n_shots INTEGER NOT NULL, logprobs TEXT NOT NULL,
                              pred TEXT NOT NULL, gold TEXT, correct INTEGER, extra TEXT, PRIMARY KEY (run_id, qid));
    """)
    extra = {"response": "答案是B", "method": "generate", "extraction_failed": False, "turns": ["x", "y"],
             "usage": {"prompt_tokens": 9, "completion_tokens": 3}, "truncated_tokens": 5}
    con.execute("INSERT INTO runs VALUES ('r', 0, 'm', 'b', '{}', '{}')")
    con.execute("INSERT INTO records VALUES ('r', 'q/1', 'q', 'h', 0, '[]', 'B', 'B', 1, ?)", (json.dumps(extra),))
    con.commit()
    con.close()
    [rec] = open_store(db).records("r")
    assert (rec.response, rec.method, rec.extraction_failed, rec.turns) == ("答案是B", "generate", False, ["x", "y"])
    assert (rec.prompt_tokens, rec.completion_tokens, rec.truncated_tokens, rec.correct) == (9, 3, 5, 1)
    store = open_store(db)  # a second open changes nothing and new records still go in
    store.add_records("r", [Record(qid="q/2", subject="q", prompt_hash="h", n_shots=0, pred="A", gold="B", correct=0)])
    assert len(store.records("r")) == 2
