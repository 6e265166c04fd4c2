"""PostgreSQL results store: the SQLite store's schema and methods on a shared server, so that many workers (a Ray
cluster's actors, several `pandian eval` processes) write into one place at once.

It is the SQLite store with another connection: the same schema text (REAL spelled DOUBLE PRECISION), the same
queries (placeholders translated), and its own SQL only where the dialects differ, which is the upserts. Every write
is an idempotent upsert keyed like the SQLite tables (run + question for records), so a unit retried after a worker
died rewrites the same rows and adds none. The rows of a batch are written in key order: two writers upserting
overlapping batches then lock rows in the same order and cannot deadlock. The schema is created under an advisory
lock, because workers starting at once would otherwise race on CREATE TABLE IF NOT EXISTS.

Passwords need not be in the URL: libpq reads PGPASSWORD and ~/.pgpass. The URL shown anywhere has none.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Iterator

from pandian.core.records import RECORD_FIELDS, Record
from pandian.store import StoreConnectionError
from pandian.store.sqlite import SCHEMA, SQLiteStore, decode_record, encode_record

PG_SCHEMA = SCHEMA.replace(" REAL", " DOUBLE PRECISION")
SCHEMA_LOCK = 0x70616E6469616E  # "pandian": the advisory lock that serializes schema creation


def redact(url: str) -> str:
    """The URL as it may be shown: user, host, port and database, never the password."""
    from psycopg.conninfo import conninfo_to_dict

    d = conninfo_to_dict(url)
    user = f"{d['user']}@" if d.get("user") else ""
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{d.get('host', '')}{port}/{d.get('dbname', '')}"


def _sql(query: str) -> str:
    """The SQLite store's `?` placeholders in psycopg's style (a literal % doubled)."""
    return query.replace("%", "%%").replace("?", "%s")


class PostgresStore(SQLiteStore):
    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise StoreConnectionError("a postgresql:// store needs psycopg: pip install 'pandian[postgres]'") from None
        self.location = redact(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=30, application_name="pandian")
        except psycopg.OperationalError as e:
            reason = " ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__
            raise StoreConnectionError(f"cannot open the results store {self.location}: {reason}") from None
        self._lock = threading.Lock()  # the API cache is written from the client's worker threads
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            self.conn.execute(PG_SCHEMA)

    @property
    def path(self) -> str:  # where the CLI says the records are
        return self.location

    def _write(self, sql: str, rows: list[tuple] | tuple, many: bool = False):
        with self._lock, self.conn.transaction():
            cur = self.conn.cursor()
            if many:
                cur.executemany(_sql(sql), rows)
            else:
                cur.execute(_sql(sql), rows)
            return cur

    def _write_all(self, statements: list[tuple[str, tuple]]) -> list[int]:
        with self._lock, self.conn.transaction():
            cur = self.conn.cursor()
            counts = []
            for sql, args in statements:
                cur.execute(_sql(sql), args)
                counts.append(cur.rowcount)
            return counts

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(_sql(sql), args).fetchall()

    # ------------------------------------------------------------------ the upserts (SQLite: INSERT OR ...)

    def ensure_run(self, run_id: str, model: str, benchmark: str, config: dict, versions: dict) -> bool:
        """Create the run if new; return True when it already existed."""
        cur = self._write("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
                          (run_id, time.time(), model, benchmark,
                           json.dumps(config, sort_keys=True, ensure_ascii=False), json.dumps(versions, sort_keys=True)))
        return cur.rowcount == 0

    def add_records(self, run_id: str, records: list[Record]) -> None:
        marks = ", ".join("?" * (len(RECORD_FIELDS) + 1))
        update = ", ".join(f"{c} = EXCLUDED.{c}" for c in RECORD_FIELDS if c != "qid")
        rows = sorted(((run_id, *encode_record(r)) for r in records), key=lambda row: row[1])
        self._write(f"INSERT INTO records (run_id, {', '.join(RECORD_FIELDS)}) VALUES ({marks}) "
                    f"ON CONFLICT (run_id, qid) DO UPDATE SET {update}", rows, many=True)

    def records(self, run_id: str, qids: set[str] | None = None) -> list[Record]:
        rows = self._read(f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE run_id = ? ORDER BY qid", (run_id,))
        return [decode_record(r) for r in rows if qids is None or r[0] in qids]

    def add_judgment(self, judge_id: str, run_a: str, run_b: str, qid: str, position: str, prompt: str,
                     verdict: str, score: float | None, winner: str | None) -> None:
        self._write("INSERT INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (judge_id, run_a, run_b, qid, position) DO UPDATE SET prompt = EXCLUDED.prompt, "
                    "verdict = EXCLUDED.verdict, score = EXCLUDED.score, winner = EXCLUDED.winner",
                    (judge_id, run_a, run_b, qid, position, prompt, verdict, score, winner))

    def cache_response(self, key: str, base_url: str, endpoint: str, body: dict, response: dict) -> None:
        self._write("INSERT INTO api_responses VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "response = EXCLUDED.response, created_at = EXCLUDED.created_at",
                    (key, base_url, str(body.get("model", "")), endpoint, json.dumps(body, ensure_ascii=False),
                     json.dumps(response, ensure_ascii=False), time.time()))

    # ------------------------------------------------------------------ whole tables (pandian db copy)

    def columns(self, table: str) -> list[str]:
        with self._lock:
            return [d.name for d in self.conn.execute(f"SELECT * FROM {table} LIMIT 0").description]

    def table_rows(self, table: str, columns: list[str], chunk: int = 5000) -> Iterator[list[tuple]]:
        """Chunks of a table's rows (those columns), streamed by a server-side cursor."""
        with self._lock, self.conn.transaction(), self.conn.cursor(name=f"copy_{table}") as cur:
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while rows := cur.fetchmany(chunk):
                yield rows

    @staticmethod
    def _insert_new(table: str, columns: list[str], key: tuple[str, ...] | None) -> str:
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        if key:
            return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({', '.join(key)}) DO NOTHING"
        match = " AND ".join(f"t.{c} IS NOT DISTINCT FROM v.{c}" for c in columns)
        return (f"INSERT INTO {table} ({names}) SELECT * FROM (VALUES ({marks})) AS v ({names}) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})")
