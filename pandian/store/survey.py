"""Read-only queries for the report and the web app: every aggregate is computed by the database, so a survey of
20 runs x 10k records reads a few thousand rows, never the records themselves.

Written in portable SQL over the engine's `_read(sql, args)` with `?` placeholders; an engine whose driver uses
another paramstyle translates them in its `_read`. Pages are in question-id order: the primary key's order, so a
page is an index range (the first page of a 100k-record run reads 50 rows, not 100k and a sort).
"""

from __future__ import annotations

import json

from pandian.core.records import RECORD_FIELDS, Record

OUTCOMES = {"right": "correct = 1", "wrong": "correct = 0", "unscored": "correct IS NULL"}
SEARCHED = ("qid", "pred", "response")  # what a drill-down's search box looks in (subjects have their own filter)


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally (its % and _ escaped with backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SurveyReads:

    def run_list(self, run_ids: list[str] | None = None) -> list[dict]:
        """Runs without their counts (no scan of the records), oldest first."""
        where, args = self._in("run_id", run_ids)
        return [{"run_id": a, "created_at": b, "model": c, "benchmark": d, "config": json.loads(cfg)}
                for a, b, c, d, cfg in self._read("SELECT run_id, created_at, model, benchmark, config FROM runs "
                                                  f"{where} ORDER BY created_at", args)]

    def subject_counts(self, run_ids: list[str] | None = None) -> tuple[dict, dict]:
        """(run id -> subject -> (correct, scored), run id -> {records, scored, correct}) from one GROUP BY, which
        the (run_id, subject, correct) index answers without reading the records' rows."""
        where, args = self._in("run_id", run_ids)
        counts: dict[str, dict[str, tuple[int, int]]] = {}
        totals: dict[str, dict[str, int]] = {}
        for run_id, subject, k, n, m in self._read(
                f"SELECT run_id, subject, SUM(correct), COUNT(correct), COUNT(*) FROM records {where} "
                "GROUP BY run_id, subject ORDER BY run_id, subject", args):
            t = totals.setdefault(run_id, {"records": 0, "scored": 0, "correct": 0})
            t["records"] += m
            t["scored"] += n
            t["correct"] += int(k or 0)
            if n:
                counts.setdefault(run_id, {})[subject] = (int(k or 0), int(n))
        return counts, totals

    def outcomes(self, run_id: str) -> list[tuple[str, str, int]]:
        """(qid, subject, correct) of a run's scored records in question-id order: what suite scores and strengths
        need, without decoding every record's JSON fields."""
        return [(q, s, int(c)) for q, s, c in self._read(
            "SELECT qid, subject, correct FROM records WHERE run_id = ? AND correct IS NOT NULL ORDER BY qid",
            (run_id,))]

    @staticmethod
    def _in(column: str, values: list[str] | None) -> tuple[str, tuple]:
        if values is None:
            return "", ()
        if not values:
            return "WHERE 1 = 0", ()
        return f"WHERE {column} IN ({','.join('?' * len(values))})", tuple(values)

    def record_page(self, run_id: str, *, outcome: str | None = None, subject: str | None = None,
                    search: str | None = None, offset: int = 0, limit: int = 50) -> tuple[int, list[Record]]:
        """(how many records match, one page of them). Without a search both are index ranges; a search reads the
        run's rows once, counting the matches in the same pass (a window count) rather than in a second scan."""
        where, args = ["run_id = ?"], [run_id]
        if outcome:
            where.append(OUTCOMES[outcome])
        if subject:
            where.append("subject = ?")
            args.append(subject)
        if search:
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in SEARCHED) + ")")
            args += [_like(search)] * len(SEARCHED)
        cond, cols = " AND ".join(where), ", ".join(RECORD_FIELDS)
        page = f"FROM records WHERE {cond} ORDER BY qid LIMIT ? OFFSET ?"
        if search:
            rows = self._read(f"SELECT {cols}, COUNT(*) OVER () {page}", (*args, limit, offset))
            if rows or not offset:
                return (rows[0][-1] if rows else 0), [self._decode(r[:-1]) for r in rows]
        total = self._read(f"SELECT COUNT(*) FROM records WHERE {cond}", tuple(args))[0][0]
        rows = self._read(f"SELECT {cols} {page}", (*args, limit, offset))
        return total, [self._decode(r) for r in rows]

    def record(self, run_id: str, qid: str) -> Record | None:
        rows = self._read(f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE run_id = ? AND qid = ?",
                          (run_id, qid))
        return self._decode(rows[0]) if rows else None

    def paired_counts(self, base: str, other: str) -> dict[str, tuple[int, int, int]]:
        """subject -> (questions both runs scored, right in base and wrong in other, wrong in base and right in
        other). The accuracy difference, its paired bootstrap and McNemar's test need nothing more."""
        rows = self._read(
            "SELECT a.subject, COUNT(*), "
            "SUM(CASE WHEN a.correct = 1 AND b.correct = 0 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN a.correct = 0 AND b.correct = 1 THEN 1 ELSE 0 END) "
            "FROM records a JOIN records b ON b.run_id = ? AND b.qid = a.qid "
            "WHERE a.run_id = ? AND a.correct IS NOT NULL AND b.correct IS NOT NULL "
            "GROUP BY a.subject ORDER BY a.subject", (other, base))
        return {s: (int(n), int(rw or 0), int(wr or 0)) for s, n, rw, wr in rows}

    def flips(self, base: str, other: str, direction: str, *, offset: int = 0,
              limit: int = 50) -> list[tuple[Record, Record]]:
        """One page of the questions whose outcome changed, as (base record, other record): direction
        'right_to_wrong' (right in base, wrong in other) or 'wrong_to_right'. paired_counts says how many."""
        a_ok, b_ok = (1, 0) if direction == "right_to_wrong" else (0, 1)
        cols = ", ".join(f"a.{c}" for c in RECORD_FIELDS) + ", " + ", ".join(f"b.{c}" for c in RECORD_FIELDS)
        rows = self._read(f"SELECT {cols} FROM records a JOIN records b ON b.run_id = ? AND b.qid = a.qid "
                          f"WHERE a.run_id = ? AND a.correct = ? AND b.correct = ? ORDER BY a.qid "
                          "LIMIT ? OFFSET ?", (other, base, a_ok, b_ok, limit, offset))
        n = len(RECORD_FIELDS)
        return [(self._decode(r[:n]), self._decode(r[n:])) for r in rows]

    def record_in_runs(self, qid: str, run_ids: list[str]) -> dict[str, Record]:
        """The record of question `qid` in each of `run_ids` that has one."""
        if not run_ids:
            return {}
        rows = self._read(f"SELECT run_id, {', '.join(RECORD_FIELDS)} FROM records WHERE qid = ? AND run_id IN "
                          f"({','.join('?' * len(run_ids))})", (qid, *run_ids))
        return {r[0]: self._decode(r[1:]) for r in rows}

    def run_costs(self, run_ids: list[str] | None = None) -> dict[str, list[dict]]:
        """run id -> its sessions that computed something (wall time, count, stats), oldest first."""
        where, args = self._in("run_id", run_ids)
        out: dict[str, list[dict]] = {}
        for run_id, a, b, c, d in self._read("SELECT run_id, started_at, wall_s, computed, stats FROM sessions "
                                             f"{where} ORDER BY started_at", args):
            if c > 0:
                out.setdefault(run_id, []).append({"started_at": a, "wall_s": b, "computed": c,
                                                   "stats": json.loads(d)})
        return out
