"""A plan of 3 tiny models x 5 CMMLU subjects on a real 2-node Ray cluster (head + worker, started here) into a real
PostgreSQL server, with the worker node killed in the middle of a unit: the plan completes, the lost unit resumes
from what it had committed, and every record equals the local executor's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from .servers import RayCluster, descendants, titles

pytestmark = [pytest.mark.ray, pytest.mark.postgres]

SUBJECTS = ["agronomy", "anatomy", "astronomy", "college_law", "genetics"]
LIMIT = 30


@pytest.fixture(scope="module")
def tiny_trio(tiny_model_dir, tmp_path_factory):
    """Three different random-init models sharing the session tiny model's tokenizer (one trained tokenizer)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    out = []
    for seed in range(3):
        d = tmp_path_factory.mktemp(f"trio{seed}") / f"tiny{seed}"
        shutil.copytree(tiny_model_dir, d)
        torch.manual_seed(100 + seed)
        AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(d)).save_pretrained(d)
        out.append(d)
    return out


def write_plan(path, models, data_dir, **extra):
    path.write_text(json.dumps({  # JSON is YAML
        "name": "trio", "data_dir": str(data_dir), "shots": 5, **extra,
        "models": [{"model": str(m), "name": m.name} for m in models],
        "benchmarks": [{"bench": "cmmlu", "subjects": SUBJECTS, "limit": LIMIT}]}))
    return path


def run_plan(plan, db, *extra, env=None, **popen):
    cmd = [sys.executable, "-m", "pandian", "run-plan", str(plan), "--db", str(db), "--json", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, **popen)


def stored(db_url: str) -> dict[tuple[str, str], int]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        try:
            rows = conn.execute("SELECT run_id, subject, COUNT(*) FROM records GROUP BY run_id, subject").fetchall()
        except psycopg.errors.UndefinedTable:  # the first worker has not created the schema yet
            return {}
    return {(r, s): n for r, s, n in rows}


def kill_mid_unit(cluster, node, db_url, proc) -> dict:
    """SIGKILL the worker node while one of its actors is inside a unit that has committed records and has more to
    go; returns the per-(run, subject) record counts right after the kill. A unit is running where Ray names its
    process "ray::RayVariantWorker.run_unit"; it has committed something once at least as many (run, subject) groups
    are part-stored as there are units running on the whole cluster."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the plan finished before the worker could be killed"
        running = {n.pid: sum(t.startswith("ray::RayVariantWorker.run_unit") for t in titles(descendants(n.pid)).values())
                   for n in cluster.nodes}
        if running[node.pid]:
            partial = [k for k, n in stored(db_url).items() if 0 < n < LIMIT]
            if len(partial) >= sum(running.values()):
                cluster.kill(node)
                return stored(db_url)
        time.sleep(0.05)
    raise AssertionError("no unit ever ran on the worker node")


def records(rows) -> dict:
    return {(run, qid): (pred, hsh, shots, json.loads(lp)) for run, qid, pred, hsh, shots, lp in rows}


def same_records(ref: dict, got: dict) -> float:
    """Record for record: the same questions under the same runs, the same predictions and prompts, and log-probs
    equal to float rounding (a worker with another thread count sums in another order); returns the largest gap."""
    assert ref.keys() == got.keys()  # nothing lost, nothing twice
    worst = 0.0
    for key, (pred, hsh, shots, lp) in ref.items():
        assert got[key][:3] == (pred, hsh, shots), key
        worst = max(worst, max(abs(a - b) for a, b in zip(lp, got[key][3])))
    assert worst < 1e-4
    return worst


def test_plan_on_two_node_ray_cluster_survives_a_killed_worker(tmp_path, tiny_trio, data_dir, pg_url):
    import psycopg

    pytest.importorskip("ray", reason="the Ray executor needs ray: pip install -e '.[ray]'")
    # on the cluster one question a commit, so that the worker dies with a unit part-stored; batch size is no part
    # of a run's identity, so the local reference keeps the default
    plan = write_plan(tmp_path / "plan.yaml", tiny_trio, data_dir, batch_size=1)
    total = 3 * len(SUBJECTS) * LIMIT

    t0 = time.perf_counter()
    local = run_plan(write_plan(tmp_path / "local.yaml", tiny_trio, data_dir), tmp_path / "local.db")
    local_summary = json.loads(local.communicate(timeout=900)[0])
    local_s = time.perf_counter() - t0
    assert local.returncode == 0 and local_summary["computed"] == total

    cluster = RayCluster(tmp_path)
    try:
        cluster.start_head()
        worker = cluster.add_worker()
        cluster.wait_started()
        t0 = time.perf_counter()
        proc = run_plan(plan, pg_url, "--executor", "ray", "--ray-address", cluster.address, env=cluster.env,
                        stderr=open(tmp_path / "ray-plan.log", "w"))
        at_kill = kill_mid_unit(cluster, worker, pg_url, proc)
        out, _ = proc.communicate(timeout=900)
        ray_s = time.perf_counter() - t0
    finally:
        cluster.stop()
    assert proc.returncode == 0, (tmp_path / "ray-plan.log").read_text()[-3000:]
    summary = json.loads(out)
    print(f"\nlocal {local_s:.1f} s, ray (2 nodes, one killed) {ray_s:.1f} s; {summary}")

    assert summary["workers_lost"] >= 1 and summary["retried"] >= 1 and not summary["failed"]
    assert sorted(summary["runs"]) == sorted(local_summary["runs"])  # the same run identities
    # the lost unit resumed: its retry computed exactly what the killed attempt had not committed
    retried = [u for u in summary["units"] if u["attempts"] > 1]
    assert retried
    for u in retried:
        subject = u["key"].rsplit(" | ", 1)[1]
        assert u["computed"] == u["questions"] - at_kill.get((u["run_id"], subject), 0)
    assert any(at_kill.get((u["run_id"], u["key"].rsplit(" | ", 1)[1]), 0) > 0 for u in retried)

    import sqlite3

    cols = "run_id, qid, pred, prompt_hash, n_shots, logprobs"
    ref = records(sqlite3.connect(tmp_path / "local.db").execute(f"SELECT {cols} FROM records").fetchall())
    with psycopg.connect(pg_url) as conn:
        got = records(conn.execute(f"SELECT {cols} FROM records").fetchall())
        sessions = conn.execute("SELECT run_id, computed, stats FROM sessions ORDER BY started_at").fetchall()
    computed = sum(c for _, c, _ in sessions)
    assert len(ref) == total
    worst = same_records(ref, got)
    # the records the killed attempt committed were not computed again
    assert computed < total, (at_kill, retried, [(r, c, json.loads(st)["status"]) for r, c, st in sessions])
    print(f"records equal: {total}, max |Δ log-prob| {worst:.2e}, computed by finished sessions {computed}")


def test_ray_executor_without_an_address_starts_ray_here(tmp_path, tiny_model_dir, data_dir):
    """`--executor ray` alone: Ray on this machine, a SQLite store (one machine sees it), the local run's records."""
    import os
    import secrets
    import sqlite3
    import tempfile

    pytest.importorskip("ray", reason="the Ray executor needs ray: pip install -e '.[ray]'")
    plan = tmp_path / "plan.yaml"
    plan.write_text(json.dumps({"data_dir": str(data_dir), "shots": 2, "models": [{"model": str(tiny_model_dir)}],
                                "benchmarks": [{"bench": "cmmlu", "subjects": SUBJECTS[:2], "limit": 5}]}))
    # Ray's token and session folder kept out of the home folder and /tmp/ray (a short path: Ray's sockets live there)
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": ray_tmp}
    try:
        local = run_plan(plan, tmp_path / "local.db", env=env)
        ray_run = run_plan(plan, tmp_path / "ray.db", "--executor", "ray", env=env, stderr=subprocess.DEVNULL)
        a, b = (json.loads(p.communicate(timeout=600)[0]) for p in (local, ray_run))
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert a["runs"] == b["runs"] and a["computed"] == b["computed"] == 10 and b["executor"] == "ray"
    cols = "run_id, qid, pred, prompt_hash, n_shots, logprobs"
    rows = [records(sqlite3.connect(tmp_path / db).execute(f"SELECT {cols} FROM records").fetchall())
            for db in ("local.db", "ray.db")]
    same_records(*rows)
