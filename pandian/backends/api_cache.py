"""SQLite cache of successful API responses, so that a rerun or a resumed run makes no repeated calls.

It lives in the results database the caller passes (its own table), keyed by the hash of everything that reaches
the endpoint and can change the answer: base URL, endpoint, model and the whole request body with its sampling
parameters. Only successful, validated responses are stored; a failure is retried on the next run. No API key is
part of the key or the row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_responses (
    key TEXT PRIMARY KEY,
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,     -- chat or completions
    request TEXT NOT NULL,      -- JSON body sent, without credentials
    response TEXT NOT NULL,     -- JSON body received
    created_at REAL NOT NULL
);
"""


def request_key(base_url: str, endpoint: str, body: dict) -> str:
    canonical = json.dumps({"base_url": base_url.rstrip("/"), "endpoint": endpoint, "body": body},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResponseCache:
    """Thread-safe: one connection shared under a lock (the writes are tiny next to an API round trip)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        # WAL, as the results store uses: the runner's own connection to the same file never blocks on us.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT response FROM api_responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, base_url: str, endpoint: str, body: dict, response: dict) -> None:
        row = (key, base_url, str(body.get("model", "")), endpoint, json.dumps(body, ensure_ascii=False),
               json.dumps(response, ensure_ascii=False), time.time())
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO api_responses VALUES (?,?,?,?,?,?,?)", row)

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM api_responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
