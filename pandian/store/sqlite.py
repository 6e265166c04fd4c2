"""SQLite results store: one file, one schema, every table pandian writes (runs, records, sessions, judgments, the
API response cache).

Records are committed batch by batch, so a crash, kill -9 or Ctrl-C loses at most the batch in flight, and
rerunning the same configuration computes only what is missing. WAL mode: readers (a report, a second eval) never
block the writer, and several writers on one file take turns.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

from pandian.core.errors import InputError
from pandian.core.records import JSON_FIELDS, RECORD_FIELDS, Record
from pandian.store.survey import SurveyReads

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    config TEXT NOT NULL,      -- JSON: the identity fields and what else describes the run
    versions TEXT NOT NULL     -- JSON: library versions at creation
);
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    qid TEXT NOT NULL,
    subject TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    n_shots INTEGER NOT NULL,
    pred TEXT NOT NULL,
    gold TEXT,
    correct INTEGER,
    logprobs TEXT NOT NULL,    -- JSON list, one per choice in label order
    truncated_tokens INTEGER NOT NULL DEFAULT 0,
    pred_norm TEXT,
    correct_norm INTEGER,
    response TEXT,
    method TEXT,
    extraction_failed INTEGER,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    reference TEXT,
    turns TEXT,                -- JSON list
    question_hash TEXT,        -- the question's content: comparisons pair a qid only when this agrees
    PRIMARY KEY (run_id, qid)
);
-- per-subject counts (leaderboards, reports) read this index alone, never the records' rows
CREATE INDEX IF NOT EXISTS records_by_subject ON records(run_id, subject, correct);
CREATE TABLE IF NOT EXISTS judgments (
    judge_id TEXT NOT NULL,    -- the judge's identity and prompt template
    run_a TEXT NOT NULL,
    run_b TEXT NOT NULL,       -- '' for single-answer grading
    qid TEXT NOT NULL,
    position TEXT NOT NULL,    -- 'single', or 'ab' / 'ba': which run's answer the judge saw first
    prompt TEXT NOT NULL,
    verdict TEXT NOT NULL,     -- the judge's raw text
    score REAL,                -- single grading: 1-10, NULL when the verdict had none
    winner TEXT,               -- pairwise: 'A', 'B', 'tie' as the judge saw them, NULL when unparsed
    PRIMARY KEY (judge_id, run_a, run_b, qid, position)
);
CREATE TABLE IF NOT EXISTS sessions (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    started_at REAL NOT NULL,
    wall_s REAL NOT NULL,
    computed INTEGER NOT NULL,
    stats TEXT NOT NULL        -- JSON: load time, tokens, batches, hardware
);
CREATE TABLE IF NOT EXISTS api_responses (
    key TEXT PRIMARY KEY,      -- hash of base URL, endpoint and the whole request body (never the key)
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,    -- chat or completions
    request TEXT NOT NULL,     -- JSON body sent, without credentials
    response TEXT NOT NULL,    -- JSON body received
    created_at REAL NOT NULL
);
"""


def encode_record(rec: Record) -> tuple:
    d = rec.to_dict()
    for k in JSON_FIELDS:
        d[k] = json.dumps(d[k], ensure_ascii=False) if d[k] is not None else None
    if d["extraction_failed"] is not None:
        d["extraction_failed"] = int(d["extraction_failed"])
    return tuple(d[k] for k in RECORD_FIELDS)


def decode_record(row) -> Record:
    d = dict(zip(RECORD_FIELDS, row))
    for k in JSON_FIELDS:
        d[k] = json.loads(d[k]) if d[k] is not None else None
    if d["extraction_failed"] is not None:
        d["extraction_failed"] = bool(d["extraction_failed"])
    return Record(**d)


class StoreError(InputError):
    pass


def check_location(path: Path) -> None:
    """StoreError when `path` cannot be a results database: checked before connecting, which would write to it."""
    if path.is_dir():
        raise StoreError(f"--db {path}: a folder; --db names a results database file")
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise StoreError(f"--db {path}: not a results database (not an SQLite file); name a new file, or "
                                 "one pandian wrote")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise StoreError(f"--db {path}: {parent} is a file, so the folder cannot be made")


class SQLiteStore(SurveyReads):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        check_location(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the API cache is written from the client's worker threads
        self.conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Stores written by earlier versions lack the newer record columns: add them (NULL: unknown). Those written
        before records had typed columns kept the optional fields in one JSON `extra` column: fill them from it."""
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(records)")}
        missing = [f for f in RECORD_FIELDS if f not in cols]
        if not missing:
            return
        with self.conn:
            for f in missing:
                kind = "INTEGER" if f in ("truncated_tokens", "correct_norm", "extraction_failed", "prompt_tokens",
                                          "completion_tokens") else "TEXT"
                self.conn.execute(f"ALTER TABLE records ADD COLUMN {f} {kind}")
                if "extra" in cols:
                    path = "$.usage." + f if f in ("prompt_tokens", "completion_tokens") else "$." + f
                    value = "json(json_extract(extra, ?))" if f in JSON_FIELDS else "json_extract(extra, ?)"
                    self.conn.execute(f"UPDATE records SET {f} = {value}", (path,))  # lists stay JSON text
            self.conn.execute("UPDATE records SET truncated_tokens = 0 WHERE truncated_tokens IS NULL")

    _decode = staticmethod(decode_record)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def _write(self, sql: str, rows: list[tuple] | tuple, many: bool = False):
        with self._lock, self.conn:
            return (self.conn.executemany if many else self.conn.execute)(sql, rows)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    # ------------------------------------------------------------------ runs

    def ensure_run(self, run_id: str, model: str, benchmark: str, config: dict, versions: dict) -> bool:
        """Create the run if new; return True when it already existed."""
        cur = self._write("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                          (run_id, time.time(), model, benchmark,
                           json.dumps(config, sort_keys=True, ensure_ascii=False), json.dumps(versions, sort_keys=True)))
        return cur.rowcount == 0

    def run(self, run_id: str) -> dict | None:
        rows = self._read("SELECT run_id, created_at, model, benchmark, config, versions FROM runs WHERE run_id = ?",
                          (run_id,))
        if not rows:
            return None
        a, b, c, d, cfg, ver = rows[0]
        return {"run_id": a, "created_at": b, "model": c, "benchmark": d, "config": json.loads(cfg),
                "versions": json.loads(ver)}

    def runs(self) -> list[dict]:
        """Every run with its record count and correct count (one aggregate query)."""
        q = ("SELECT r.run_id, r.created_at, r.model, r.benchmark, r.config, COUNT(c.qid), SUM(c.correct), "
             "COUNT(c.correct) FROM runs r LEFT JOIN records c ON c.run_id = r.run_id GROUP BY r.run_id "
             "ORDER BY r.created_at")
        return [{"run_id": a, "created_at": b, "model": c, "benchmark": d, "config": json.loads(cfg), "records": n,
                 "correct": k or 0, "scored": s} for a, b, c, d, cfg, n, k, s in self._read(q)]

    def _write_all(self, statements: list[tuple[str, tuple]]) -> list[int]:
        """Several statements in one transaction; the rows each touched."""
        with self._lock, self.conn:
            return [self.conn.execute(sql, args).rowcount for sql, args in statements]

    def delete_run(self, run_id: str) -> dict:
        """Remove a run with its records, sessions and the judgments that read it; return how many of each."""
        wheres = {"records": "run_id = ?", "sessions": "run_id = ?", "judgments": "run_a = ? OR run_b = ?",
                  "runs": "run_id = ?"}
        counts = self._write_all([(f"DELETE FROM {t} WHERE {w}", (run_id,) * w.count("?")) for t, w in wheres.items()])
        return dict(zip(wheres, counts))

    # ------------------------------------------------------------------ records

    def done_qids(self, run_id: str) -> set[str]:
        return {r[0] for r in self._read("SELECT qid FROM records WHERE run_id = ?", (run_id,))}

    def add_records(self, run_id: str, records: list[Record]) -> None:
        marks = ",".join("?" * (len(RECORD_FIELDS) + 1))
        self._write(f"INSERT OR REPLACE INTO records (run_id, {', '.join(RECORD_FIELDS)}) VALUES ({marks})",
                    [(run_id, *encode_record(r)) for r in records], many=True)

    def records(self, run_id: str, qids: set[str] | None = None) -> list[Record]:
        rows = self._read(f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [decode_record(r) for r in rows if qids is None or r[0] in qids]

    # ------------------------------------------------------------------ sessions

    def add_session(self, run_id: str, started_at: float, wall_s: float, computed: int, stats: dict) -> None:
        self._write("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                    (run_id, started_at, wall_s, computed, json.dumps(stats, sort_keys=True)))

    def sessions(self, run_id: str) -> list[dict]:
        q = "SELECT started_at, wall_s, computed, stats FROM sessions WHERE run_id = ? ORDER BY started_at"
        return [{"started_at": a, "wall_s": b, "computed": c, "stats": json.loads(d)}
                for a, b, c, d in self._read(q, (run_id,))]

    # ------------------------------------------------------------------ judgments

    def add_judgment(self, judge_id: str, run_a: str, run_b: str, qid: str, position: str, prompt: str,
                     verdict: str, score: float | None, winner: str | None) -> None:
        self._write("INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?)",
                    (judge_id, run_a, run_b, qid, position, prompt, verdict, score, winner))

    def judged(self, judge_id: str, run_a: str, run_b: str) -> set:
        rows = self._read("SELECT qid, position FROM judgments WHERE judge_id=? AND run_a=? AND run_b=?",
                          (judge_id, run_a, run_b))
        return {qid if pos == "single" else (qid, pos) for qid, pos in rows}

    def judgments(self, judge_id: str, run_a: str, run_b: str) -> list[dict]:
        cols = ("qid", "position", "prompt", "verdict", "score", "winner")
        rows = self._read(f"SELECT {', '.join(cols)} FROM judgments WHERE judge_id=? AND run_a=? AND run_b=? "
                          "ORDER BY qid, position", (judge_id, run_a, run_b))
        return [dict(zip(cols, r)) for r in rows]

    # ------------------------------------------------------------------ API response cache

    def cached_response(self, key: str) -> dict | None:
        rows = self._read("SELECT response FROM api_responses WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def cache_response(self, key: str, base_url: str, endpoint: str, body: dict, response: dict) -> None:
        self._write("INSERT OR REPLACE INTO api_responses VALUES (?,?,?,?,?,?,?)",
                    (key, base_url, str(body.get("model", "")), endpoint, json.dumps(body, ensure_ascii=False),
                     json.dumps(response, ensure_ascii=False), time.time()))

    def cached_count(self) -> int:
        return self._read("SELECT COUNT(*) FROM api_responses")[0][0]

    # ------------------------------------------------------------------ whole tables (pandian db copy)

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self._read(f"PRAGMA table_info({table})")]

    def table_rows(self, table: str, columns: list[str], chunk: int = 5000) -> Iterator[list[tuple]]:
        """Chunks of a table's rows (those columns), in insertion order."""
        cur = self.conn.cursor()  # a cursor of its own, read in chunks while the caller writes to another store
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        while rows := cur.fetchmany(chunk):
            yield rows

    def put_rows(self, table: str, columns: list[str], rows: list[tuple], key: tuple[str, ...] | None) -> int:
        """Insert the rows not there yet (same `key`; for a table without one, the same values in every column);
        returns how many were new."""
        return self._write(self._insert_new(table, columns, key), rows, many=True).rowcount

    @staticmethod
    def _insert_new(table: str, columns: list[str], key: tuple[str, ...] | None) -> str:
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        if key:
            return f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})"
        match = " AND ".join(f"t.{c} IS v.column{i}" for i, c in enumerate(columns, 1))  # VALUES names them so
        return (f"INSERT INTO {table} ({names}) SELECT * FROM (VALUES ({marks})) AS v "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})")
