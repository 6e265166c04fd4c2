"""SQLite results store. Per-question records are the source of truth: summaries, resumes, paired comparisons and
report drill-downs all read them.

A run is identified by everything that can change its numbers (model fingerprint, benchmark spec and data hashes,
prompt format, shots, scoring, dtype, chat template...). Records are committed batch by batch, so a crash, kill -9 or
Ctrl-C loses at most the batch in flight, and rerunning the same configuration computes only what is missing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

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
    logprobs TEXT NOT NULL,    -- JSON list, one per choice in label order
    pred TEXT NOT NULL,
    gold TEXT,
    correct INTEGER,
    extra TEXT,                -- JSON: scoring-specific fields
    PRIMARY KEY (run_id, qid)
);
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
"""

RECORD_FIELDS = ("qid", "subject", "prompt_hash", "n_shots", "logprobs", "pred", "gold", "correct", "extra")


def default_db() -> Path:
    from .tiny import cache_root

    return cache_root() / "results.db"


class ResultStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60)
        # WAL: readers (a report, a second eval) never block the writer; a killed writer leaves committed data.
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def ensure_run(self, run_id: str, model: str, benchmark: str, config: dict, versions: dict) -> bool:
        """Create the run if new; return True when it already existed."""
        with self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), model, benchmark, json.dumps(config, sort_keys=True, ensure_ascii=False),
                 json.dumps(versions, sort_keys=True)))
        return cur.rowcount == 0

    def done_qids(self, run_id: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT qid FROM records WHERE run_id = ?", (run_id,))}

    def add_records(self, run_id: str, records: list[dict]) -> None:
        rows = [(run_id, r["qid"], r["subject"], r["prompt_hash"], r["n_shots"], json.dumps(r["logprobs"]),
                 r["pred"], r["gold"], r["correct"], json.dumps(r.get("extra") or {}, ensure_ascii=False))
                for r in records]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def records(self, run_id: str, qids: set[str] | None = None) -> list[dict]:
        cur = self.conn.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE run_id = ? ORDER BY rowid",
                                (run_id,))
        out = []
        for row in cur:
            rec = dict(zip(RECORD_FIELDS, row))
            if qids is not None and rec["qid"] not in qids:
                continue
            rec["logprobs"] = json.loads(rec["logprobs"])
            rec["extra"] = json.loads(rec["extra"]) if rec["extra"] else {}
            out.append(rec)
        return out

    def add_session(self, run_id: str, started_at: float, wall_s: float, computed: int, stats: dict) -> None:
        with self.conn:
            self.conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                              (run_id, started_at, wall_s, computed, json.dumps(stats, sort_keys=True)))

    def add_judgment(self, judge_id: str, run_a: str, run_b: str, qid: str, position: str, prompt: str,
                     verdict: str, score: float | None, winner: str | None) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?)",
                              (judge_id, run_a, run_b, qid, position, prompt, verdict, score, winner))

    def judged(self, judge_id: str, run_a: str, run_b: str) -> set:
        rows = self.conn.execute("SELECT qid, position FROM judgments WHERE judge_id=? AND run_a=? AND run_b=?",
                                 (judge_id, run_a, run_b))
        return {qid if pos == "single" else (qid, pos) for qid, pos in rows}

    def judgments(self, judge_id: str, run_a: str, run_b: str) -> list[dict]:
        cols = ("qid", "position", "prompt", "verdict", "score", "winner")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM judgments WHERE judge_id=? AND run_a=? AND run_b=? "
                                 "ORDER BY qid, position", (judge_id, run_a, run_b))
        return [dict(zip(cols, r)) for r in rows]

    def run(self, run_id: str) -> dict | None:
        row = self.conn.execute("SELECT run_id, created_at, model, benchmark, config, versions FROM runs "
                                "WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return {"run_id": row[0], "created_at": row[1], "model": row[2], "benchmark": row[3],
                "config": json.loads(row[4]), "versions": json.loads(row[5])}

    def runs(self) -> list[dict]:
        q = ("SELECT r.run_id, r.created_at, r.model, r.benchmark, COUNT(c.qid), SUM(c.correct) FROM runs r "
             "LEFT JOIN records c ON c.run_id = r.run_id GROUP BY r.run_id ORDER BY r.created_at")
        return [{"run_id": a, "created_at": b, "model": c, "benchmark": d, "records": n, "correct": k or 0}
                for a, b, c, d, n, k in self.conn.execute(q)]

    def sessions(self, run_id: str) -> list[dict]:
        q = "SELECT started_at, wall_s, computed, stats FROM sessions WHERE run_id = ? ORDER BY started_at"
        return [{"started_at": a, "wall_s": b, "computed": c, "stats": json.loads(d)}
                for a, b, c, d in self.conn.execute(q, (run_id,))]
