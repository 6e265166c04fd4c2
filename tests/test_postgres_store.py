"""The PostgreSQL store on a real server: the same answers as the SQLite store, concurrent writers that lose and
duplicate nothing, and `pandian db copy` both ways."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest

from .conftest import cli

pytestmark = pytest.mark.postgres


def _scenario(store) -> list:
    """Every public method, in the order a run, a judge and an API client use them; returns what each answered."""
    from pandian.core.records import Record

    out = [store.ensure_run("r1", "m", "cmmlu", {"shots": 5, "名": "模型"}, {"pandian": "0"}),
           store.ensure_run("r1", "m", "cmmlu", {"shots": 5}, {"pandian": "0"})]
    recs = [Record(qid=f"q{i}", subject="s", prompt_hash=f"h{i}", n_shots=5, pred="B", gold="A", correct=0,
                   logprobs=[-1.25, -0.5 - i / 3], turns=["一", "二"] if i == 1 else None, extraction_failed=i == 2)
            for i in range(6)]
    store.add_records("r1", recs[:4])
    store.add_records("r1", recs[2:])           # an overlapping retry: upserted, not duplicated
    out += [sorted(store.done_qids("r1")), sorted(store.records("r1", {"q1", "q5"}), key=lambda r: r.qid)]
    store.add_session("r1", 100.5, 2.25, 6, {"status": "complete"})
    out += [store.sessions("r1"), [{k: v for k, v in r.items() if k != "created_at"} for r in store.runs()],
            store.run("r1")["config"], store.run("nope")]
    store.add_judgment("j", "r1", "", "q1", "single", "p", "7分", 7.0, None)
    store.add_judgment("j", "r1", "", "q1", "single", "p", "8分", 8.0, None)
    out += [store.judged("j", "r1", ""), store.judgments("j", "r1", "")]
    store.cache_response("k", "http://x", "chat", {"model": "m"}, {"text": "好"})
    out += [store.cached_response("k"), store.cached_response("missing"), store.cached_count()]
    store.ensure_run("r2", "m", "cmmlu", {}, {})
    out += [store.delete_run("r1"), store.delete_run("r1"), [r["run_id"] for r in store.runs()], store.records("r1"),
            store.judged("j", "r1", ""), store.cached_count()]  # the API cache is not the run's
    return out


def test_postgres_answers_like_sqlite(pg_url, tmp_path):
    from pandian.store import open_store

    sqlite, pg = open_store(tmp_path / "a.db"), open_store(pg_url)
    assert type(pg).__name__ == "PostgresStore"
    assert _scenario(pg) == _scenario(sqlite)


def _writer(url: str, order: int, rounds: int) -> None:
    from pandian.core.records import Record
    from pandian.store import open_store

    store = open_store(url)
    store.ensure_run("shared", "m", "b", {}, {})
    for k in range(rounds):
        recs = [Record(qid=f"q{i:03d}", subject="s", prompt_hash="h", n_shots=0, pred="A", gold="A", correct=1,
                       logprobs=[-0.1 * i, -2.0]) for i in range(k * 10, k * 10 + 40)]
        store.add_records("shared", recs[::-1] if order else recs)  # overlapping batches, opposite orders
    store.close()


def test_two_writers_at_once_lose_and_duplicate_nothing(pg_url):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(pg_url, order, 30)) for order in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]

    import psycopg

    with psycopg.connect(pg_url) as conn:
        n, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT qid) FROM records").fetchone()
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert n == distinct == 29 * 10 + 40 and runs == 1


def test_db_copy_round_trip(pg_url, tmp_path, tiny_model_dir, data_dir):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    cli("eval", "--model", tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir, "--shots", "2",
        "--subjects", "agronomy,anatomy", "--limit", "6", "--db", a)
    from pandian.store import open_store

    src = open_store(a)
    run_id = src.runs()[0]["run_id"]
    src.add_judgment("judge-1", run_id, "", "agronomy-0", "single", "prompt", "评分：7", 7.0, None)
    src.cache_response("key-1", "http://127.0.0.1:1/v1", "chat", {"model": "x"}, {"choices": []})
    src.close()

    out = cli("db", "copy", a, pg_url)
    assert "records: 12 rows read, 12 new" in out
    assert "records: 12 rows read, 0 new" in cli("db", "copy", a, pg_url)  # idempotent
    cli("db", "copy", pg_url, b)
    assert "sessions: 1 rows read, 0 new" in cli("db", "copy", pg_url, b)  # a row without a key is not doubled

    def tables(path):
        s = open_store(path)
        from pandian.store.copy import TABLES

        rows = {t: sorted(r for chunk in s.table_rows(t, s.columns(t)) for r in chunk) for t in TABLES}
        s.close()
        return rows

    original, back = tables(a), tables(b)
    assert original == back
    assert {t: len(r) for t, r in back.items()} == {"runs": 1, "records": 12, "sessions": 1, "judgments": 1,
                                                     "api_responses": 1}
    # the copy answers the commands that read a store the same way (the report's queries run on both engines)
    assert cli("runs", "--db", pg_url).splitlines()[-2:] == cli("runs", "--db", a).splitlines()[-2:]
    cli("report", "--db", a, "--out", tmp_path / "a.md", "--format", "md")
    cli("report", "--db", pg_url, "--out", tmp_path / "pg.md", "--format", "md")
    assert (tmp_path / "a.md").read_text() == (tmp_path / "pg.md").read_text()


def test_unreachable_server_is_one_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pandian", "runs", "--db",
                        "postgresql://pandian:s3cret@127.0.0.1:1/results"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "cannot open the results store postgresql://pandian@127.0.0.1:1/results" in r.stderr
    assert "s3cret" not in r.stderr + r.stdout and "Traceback" not in r.stderr
