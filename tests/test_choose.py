"""Strengths, suites and recommendations end to end, on real benchmark files, through the real OpenAI client
against scripted endpoints on 127.0.0.1 whose answers are known: one is right on one subject 80% of the time and
exactly at chance elsewhere, its peer is at chance everywhere."""

from __future__ import annotations

import json

import pytest

from pandian.core.data import load_split
from pandian.core.spec import load_spec

from .conftest import cli, serve_in_thread
from .scripted import knowing_app

STRONG = "professional_law"
SUBJECTS = [STRONG, "anatomy", "astronomy", "virology", "marketing"]
LIMIT = 100


def strong_on_law(subject, index):
    return index % 5 != 0 if subject == STRONG else index % 4 == 0


@pytest.fixture(scope="module")
def cmmlu_questions(data_dir):
    from pandian.app.lifecycle import select  # what --limit picks: the first LIMIT of each subject

    return select(load_split(load_spec("cmmlu"), data_dir, "test", SUBJECTS).questions, LIMIT)


@pytest.fixture(scope="module")
def endpoints(cmmlu_questions):
    with serve_in_thread(knowing_app(cmmlu_questions, strong_on_law)) as strong, \
            serve_in_thread(knowing_app(cmmlu_questions, lambda s, i: i % 4 == 1)) as chance:
        yield f"{strong}/v1", f"{chance}/v1"


def run_cmmlu(url, name, data_dir, db):
    return cli("eval", "--model", f"openai:{name}", "--base-url", url, "--bench", "cmmlu", "--subjects",
               ",".join(SUBJECTS), "--limit", LIMIT, "--data-dir", data_dir, "--db", db, "--max-tokens", "8")


def test_profile_finds_exactly_the_known_strength(endpoints, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    db = tmp_path / "r.db"
    run_cmmlu(endpoints[0], "strong", data_dir, db)
    alone = json.loads(cli("profile", "strong", "--db", db, "--json"))
    assert [s["area"] for s in alone["strengths"]] == [STRONG] and alone["weaknesses"] == []
    s = alone["strengths"][0]
    assert s["accuracy"] == pytest.approx(0.80) and s["baseline_accuracy"] == pytest.approx(0.25)
    assert s["questions"] == LIMIT and s["p_adjusted"] < 1e-6 and s["baseline"] == "own median"
    assert sorted(x["area"] for x in alone["no_measurable_difference"]) == sorted(SUBJECTS[1:])

    run_cmmlu(endpoints[1], "chance", data_dir, db)
    paired = json.loads(cli("profile", "strong", "--db", db, "--json"))
    assert [s["area"] for s in paired["strengths"]] == [STRONG] and paired["weaknesses"] == []
    s = paired["strengths"][0]
    assert s["baseline"] == "peer median" and s["delta"] == pytest.approx(0.55)
    assert s["evidence"]["peers"] == [paired["runs"][0]["peers"][0]] and s["evidence"]["questions"] == LIMIT
    text = cli("profile", "strong", "--db", db)
    assert "+55.0 pts above the peer median" in text and "professional_law" in text


def test_suite_eval_and_recommendations(data_dir, tmp_path, monkeypatch):
    """The scripted endpoint answers the legal suite right 80% of the time; recommend ranks it first as measured
    when API models are asked for, excludes it with its reason under --commercial, and gives a reason for every
    catalog exclusion: not fitting, licence, no evidence."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from pandian.core.suite import load_suite

    suite = load_suite("legal")
    questions = []
    for part in suite.parts:
        spec = load_spec(part.bench)
        questions += load_split(spec, data_dir, spec.splits.eval, part.subjects).questions
    db = tmp_path / "r.db"
    with serve_in_thread(knowing_app(questions, lambda s, i: i % 5 != 0)) as url, \
            serve_in_thread(knowing_app(questions, lambda s, i: i % 4 == 0)) as guess:
        out = json.loads(cli("eval", "--model", "openai:lawyer", "--base-url", f"{url}/v1", "--suite", "legal",
                             "--limit", "10", "--data-dir", data_dir, "--db", db, "--max-tokens", "8", "--json"))
        cli("eval", "--model", "openai:guesser", "--base-url", f"{guess}/v1", "--suite", "legal", "--limit", "10",
            "--data-dir", data_dir, "--db", db, "--max-tokens", "8")
    assert out["complete"] and set(out["runs"]) == {p.label for p in suite.parts}
    assert out["score"]["score"] == pytest.approx(0.8) and out["score"]["questions"] == 250
    assert all(p["acc"] == pytest.approx(0.8) for p in out["score"]["parts"].values())

    ranked = json.loads(cli("recommend", "--scenario", "legal", "--gpu", "24GB", "--api", "--db", db, "--json"))
    first = ranked["ranked"][0]
    assert first["checkpoint"] == "lawyer" and first["evidence"]["kind"] == "measured"
    # guessing: 1/4 on CMMLU and C-Eval, 1/4 or 1/5 on LawBench, 1/(2^k - 1) on LexEval's multi-select questions
    assert "measured legal suite score 80.0%" in first["reason"] and 0.2 < first["evidence"]["chance"] < 0.245
    guesser = next(e for e in ranked["excluded"] if e["checkpoint"] == "guesser")
    assert guesser["reason"].startswith("measured at chance: suite score 30.0%")
    assert f"{100 * first['evidence']['chance']:.1f}% that guessing scores" in guesser["reason"]
    assert all(e["reason"] for e in ranked["ranked"] + ranked["excluded"])
    published = [e for e in ranked["ranked"] if e["evidence"]["kind"] == "published"]
    assert published and all(e["memory"]["gb"] <= 24 for e in published)

    small = json.loads(cli("recommend", "--scenario", "legal", "--gpu", "8GB", "--commercial", "--db", db,
                           "--json"))
    why = {e["checkpoint"]: e["reason"] for e in small["excluded"]}
    assert why["lawyer"].startswith("licence unknown")
    assert why["Baichuan2-13B-Base"].startswith("does not fit 8 GB in any precision: the smallest, int4, needs 8.6")
    assert why["ChatLaw2-MoE"].startswith("licence: commercial use 'unclear'")
    assert why["Qwen2.5-72B-Instruct"].startswith("licence: commercial use 'unclear'")  # its own licence
    assert why["Cao Zhi"].startswith("not publicly evaluable")
    jec = [e["checkpoint"] for e in small["ranked"] if e["evidence"]["benchmark"] == "JEC-QA"]
    assert jec == ["Baichuan2-7B-Base", "ChatGLM2-6B", "Baichuan-7B"] and small["ranked"][2]["checkpoint"] == jec[2]
    proxies = [e for e in small["ranked"] if e["evidence"]["benchmark"] != "JEC-QA"]
    assert proxies and all("proxy" in e["reason"] for e in proxies)


@pytest.mark.parametrize("args, message", [
    (["recommend", "--scenario", "legal", "--gpu", "lots"], "GPU size 'lots' not understood"),
    (["recommend", "--scenario", "lgeal", "--gpu", "24GB"], "unknown suite 'lgeal'"),
    (["recommend", "--scenario", "legal", "--gpu", "24GB", "--lang", "en"], "the legal suite is in 'zh'"),
    (["profile", "nobody"], "no stored run of model 'nobody'"),
    (["bias", "nobody"], "no stored run of model 'nobody'"),
    (["catalog", "show", "nobody"], "'nobody' is not a catalog model"),
    (["eval", "--model", "x", "--bench", "cmmlu", "--suite", "legal"], "give --bench or --suite"),
    (["eval", "--model", "x", "--suite", "legal", "--subjects", "law"], "each part sets its own subjects"),
    (["eval", "--model", "x", "--suite", "legal", "--catalog-key", "qwen9"], "'qwen9' is not a catalog model"),
])
def test_bad_input_is_one_clear_message(args, message, tmp_path):
    from typer.testing import CliRunner

    from pandian.cli import app

    result = CliRunner().invoke(app, args + ["--db", str(tmp_path / "r.db")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "r.db").exists(), "bad input writes nothing"
