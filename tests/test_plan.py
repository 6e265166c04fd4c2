"""Plans on the embedded executor: a grid expands into units with a token cost, runs into the same runs and records
as `pandian eval`, reports what is stored, resumes, and refuses bad plans with one clear paragraph."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from .conftest import cli

SUBJECTS = ["agronomy", "anatomy"]


def write_plan(path, body: dict):
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1))  # JSON is YAML, and keeps line numbers simple
    return path


def grid(model_dir, data_dir, **extra) -> dict:
    return {"name": "grid", "data_dir": str(data_dir), "shots": 2,
            "models": [{"model": str(model_dir), "name": "tiny",
                        "variants": [{"name": "fp32"}, {"name": "int8", "quant": "int8"}]}],
            "benchmarks": [{"bench": "cmmlu", "subjects": SUBJECTS, "limit": 4},
                           {"bench": "cmmlu", "subjects": ["astronomy"], "limit": 4, "shots": 0}], **extra}


def units_of(plan, db) -> dict[str, dict]:
    return {u["unit"]: u for u in json.loads(cli("plan", plan, "--db", db, "--json"))["units"]}


def test_plan_runs_into_the_same_runs_as_eval(tmp_path, tiny_model_dir, data_dir):
    plan, db = write_plan(tmp_path / "grid.yaml", grid(tiny_model_dir, data_dir)), tmp_path / "r.db"
    before = units_of(plan, db)
    assert sorted(before) == sorted(f"tiny/{v} | cmmlu | {s}" for v in ("fp32", "int8")
                                    for s in (*SUBJECTS, "astronomy"))
    assert all(u["done"] == 0 and u["questions"] == 4 and u["tokens"] > 0 for u in before.values())
    # a variant's units of one benchmark entry share one run; the quantization is part of its identity
    assert before["tiny/fp32 | cmmlu | agronomy"]["run_id"] == before["tiny/fp32 | cmmlu | anatomy"]["run_id"]
    assert before["tiny/fp32 | cmmlu | agronomy"]["run_id"] != before["tiny/int8 | cmmlu | agronomy"]["run_id"]
    # cost follows the prompts: two shots cost more tokens than none, and the int8 variant shares the tokenizer
    assert before["tiny/fp32 | cmmlu | agronomy"]["tokens"] > 2 * before["tiny/fp32 | cmmlu | astronomy"]["tokens"]
    assert before["tiny/fp32 | cmmlu | agronomy"]["tokens"] == before["tiny/int8 | cmmlu | agronomy"]["tokens"]

    out = json.loads(cli("run-plan", plan, "--db", db, "--json"))
    assert out["executor"] == "local" and out["units_run"] == 6 and out["computed"] == 24
    assert out["actors_started"] == 2  # each variant loaded once for all its units
    after = units_of(plan, db)
    assert all(u["done"] == u["questions"] for u in after.values())
    assert {k: u["run_id"] for k, u in after.items()} == {k: u["run_id"] for k, u in before.items()}

    # `pandian eval` of the same configuration finds every record already there, under the same run
    summary = json.loads(cli("eval", "--model", tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir,
                             "--shots", "2", "--subjects", ",".join(SUBJECTS), "--limit", "4", "--db", db, "--json"))
    assert summary["run_id"] == before["tiny/fp32 | cmmlu | agronomy"]["run_id"] and summary["computed_now"] == 0
    again = json.loads(cli("run-plan", plan, "--db", db, "--json"))
    assert again["units_run"] == 0 and again["units_skipped"] == 6 and again["actors_started"] == 0


def test_a_partly_stored_plan_runs_only_the_rest(tmp_path, tiny_model_dir, data_dir):
    plan, db = write_plan(tmp_path / "grid.yaml", grid(tiny_model_dir, data_dir)), tmp_path / "r.db"
    cli("eval", "--model", tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir, "--shots", "2",
        "--subjects", "agronomy", "--limit", "4", "--db", db)
    units = units_of(plan, db)
    assert units["tiny/fp32 | cmmlu | agronomy"]["done"] == 4 and units["tiny/fp32 | cmmlu | anatomy"]["done"] == 0
    out = json.loads(cli("run-plan", plan, "--db", db, "--json"))
    assert out["units_run"] == 5 and out["computed"] == 20
    assert "1 units to run" not in cli("plan", plan, "--db", db)


def test_worker_resources_come_from_the_memory_estimator(tmp_path, tiny_model_dir, data_dir):
    from pandian.app.executors.ray import actor_resources
    from pandian.app.plan import load_plan
    from pandian.core.fit import estimate, load_config

    plan = load_plan(write_plan(tmp_path / "grid.yaml", grid(tiny_model_dir, data_dir, resources={"cpus": 2})))
    e = estimate(load_config(tiny_model_dir), None, 2048)
    need = actor_resources(plan, plan.variants[0])
    assert need["num_cpus"] == 2 and need["num_gpus"] == 0
    assert need["memory"] == int((e["weights_gb"] + e["activations_gb"] + e["kv_cache_gb"]) * 2**30) > 0
    pinned = load_plan(write_plan(tmp_path / "p.yaml", grid(tiny_model_dir, data_dir, resources={"memory_gb": 3})))
    assert actor_resources(pinned, pinned.variants[0])["memory"] == 3 * 2**30


@pytest.mark.parametrize("change, expected", [
    (lambda p: p["benchmarks"][0].update(subject=["x"]), r"line \d+, field 'benchmarks.0.subject': Extra inputs"),
    (lambda p: p["benchmarks"][0].update(subjects=["agronomy", "astrology"]),
     r"line \d+, benchmarks\[0\] \(cmmlu\): cmmlu: unknown subject\(s\) astrology"),
    (lambda p: p["models"][0]["variants"].append({"name": "fp32"}),
     r"line \d+, field 'models.0.variants.2': two variants are both called 'tiny/fp32'"),
    (lambda p: p["models"][0]["variants"].append({"name": "auto"}),
     r"variants 'tiny/fp32' and 'tiny/auto' are the same run \(\w+\)"),
    (lambda p: p.update(scoring="loudness"), r"line \d+, field 'scoring'"),
    (lambda p: p["models"][0].update(model="/nonexistent/model"), r"model '/nonexistent/model' \(tiny/fp32\)"),
])
def test_bad_plans_fail_with_one_clear_paragraph(tmp_path, tiny_model_dir, data_dir, change, expected):
    from pandian.cli import app

    body = grid(tiny_model_dir, data_dir)
    change(body)
    plan, db = write_plan(tmp_path / "bad.yaml", body), tmp_path / "r.db"
    for command in ("plan", "run-plan"):
        result = CliRunner().invoke(app, [command, str(plan), "--db", str(db)])
        text = " ".join(result.output.split())
        assert result.exit_code == 2, result.output
        assert text.startswith(f"error: {plan}") and re.search(expected, text), text
        assert "Traceback" not in result.output
    assert not db.exists()  # refused before the store was opened


def test_executor_flags_are_checked(tmp_path, tiny_model_dir, data_dir):
    from pandian.cli import app

    from .servers import free_port

    plan = write_plan(tmp_path / "grid.yaml", grid(tiny_model_dir, data_dir))
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    for args, expected in ((["--executor", "ray", "--ray-address", address], f"no Ray cluster answers at {address}"),
                           (["--ray-address", address], "--ray-address needs --executor ray"),
                           (["--executor", "slurm"], "--executor must be local or ray")):
        result = CliRunner().invoke(app, ["run-plan", str(plan), "--db", str(tmp_path / "r.db"), *args])
        assert result.exit_code == 2 and expected in " ".join(result.output.split()), result.output


def test_a_file_of_your_own_beside_the_plan(tmp_path, tiny_model_dir):
    rows = [{"问题": f"{i} + 1 = ?", "A": str(i + 1), "B": str(i), "C": str(i + 2), "D": str(i + 3), "答案": "A"}
            for i in range(6)]
    (tmp_path / "exam.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    plan = write_plan(tmp_path / "own.yaml", {"models": [{"model": str(tiny_model_dir)}],
                                              "benchmarks": [{"bench": "exam.jsonl"}]})
    [unit] = units_of(plan, tmp_path / "r.db").values()
    assert unit["questions"] == 6 and unit["shard"] == "-"
    out = json.loads(cli("run-plan", plan, "--db", tmp_path / "r.db", "--json"))
    assert out["computed"] == 6 and out["runs"] == [unit["run_id"]]
