"""kill -9, Ctrl-C or SIGTERM mid-run loses nothing stored; the rerun computes only the rest and ends with the same result as an
uninterrupted run."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

SUBJECTS = "agronomy,anatomy,arts,astronomy,college_law,economics,genetics,marketing"
TOTAL = 8 * 40


def eval_cmd(model_dir, data_dir, db, out=None):
    cmd = [sys.executable, "-m", "pandian", "eval", "--model", str(model_dir), "--bench", "cmmlu",
           "--data-dir", str(data_dir), "--shots", "5", "--subjects", SUBJECTS, "--limit", "40",
           "--batch-size", "1", "--db", str(db)]
    return cmd + (["--out", str(out)] if out else [])


def stored(db) -> int:
    try:
        return sqlite3.connect(db, timeout=5).execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def interrupt_midway(cmd, db, sig, log) -> int:
    with log.open("w") as fh:  # a file, not a pipe: a full pipe would stall the child
        # SIGINT back to its default in the child: a shell's background job (`make test &`, nohup) inherits it
        # ignored, and Python then installs no KeyboardInterrupt handler
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while stored(db) < 20:
            assert proc.poll() is None, log.read_text()
            assert time.time() < deadline
            time.sleep(0.02)
        proc.send_signal(sig)
        return proc.wait(timeout=60)


def records(db):
    rows = sqlite3.connect(db).execute("SELECT qid, pred, logprobs, prompt_hash FROM records").fetchall()
    return {q: (p, [float(x) for x in lp.strip("[]").split(",")], h) for q, p, lp, h in rows}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_result(tmp_path, tiny_model_dir, data_dir, sig):
    ref_db, db = tmp_path / "ref.db", tmp_path / "run.db"
    subprocess.run(eval_cmd(tiny_model_dir, data_dir, ref_db), check=True, capture_output=True)
    assert stored(ref_db) == TOTAL

    code = interrupt_midway(eval_cmd(tiny_model_dir, data_dir, db), db, sig, tmp_path / "log")
    kept = stored(db)
    assert 20 <= kept < TOTAL, "the interruption must land mid-run"
    log = (tmp_path / "log").read_text()
    if sig != signal.SIGKILL:  # Ctrl-C and a scheduler's stop end the same way: batches kept, a clear line
        assert code == 128 + sig and "Traceback" not in log
        assert ("terminated (SIGTERM)" if sig == signal.SIGTERM else "interrupted") in log
        assert "every finished batch is stored; rerun the same command to resume" in " ".join(log.split())
        [(stats,)] = sqlite3.connect(db).execute("SELECT stats FROM sessions").fetchall()
        assert json.loads(stats)["status"] == ("terminated" if sig == signal.SIGTERM else "interrupted")

    subprocess.run(eval_cmd(tiny_model_dir, data_dir, db, out=tmp_path / "out"), check=True, capture_output=True)
    sessions = sqlite3.connect(db).execute("SELECT computed FROM sessions ORDER BY started_at").fetchall()
    assert sessions[-1][0] == TOTAL - kept  # only the missing questions were computed
    a, b = records(ref_db), records(db)
    assert a.keys() == b.keys() and len(a) == TOTAL
    for qid in a:
        assert a[qid][0] == b[qid][0] and a[qid][2] == b[qid][2]
        assert max(abs(x - y) for x, y in zip(a[qid][1], b[qid][1])) < 1e-4
    assert (tmp_path / "out" / "records.jsonl").read_text().count("\n") == TOTAL
