"""LLM-as-judge on real runs of AlignBench and MT-Bench answers: single grading with stored prompts and verdicts,
pairwise in both orders (a position-biased judge yields only ties), Bradley-Terry ratings, and resumable judging.
The judge is a scripted OpenAI-compatible server on 127.0.0.1 (its verdicts are rules, so outcomes are known)."""

from __future__ import annotations

import json
import re
import time

import pytest
from fastapi import FastAPI

from pandian.app.judge import bradley_terry, parse_score, parse_winner

from .conftest import cli, serve_in_thread


def scripted_judge():
    api = FastAPI()
    api.state.calls = 0

    @api.post("/v1/chat/completions")
    def chat(body: dict):
        api.state.calls += 1
        prompt = body["messages"][-1]["content"]
        if "[[A]]" in prompt or "[[A]]" in body["messages"][0]["content"]:  # pairwise
            if body["model"] == "biased":
                verdict = "A 更好。[[A]]"  # always the first position
            else:  # prefers the longer answer, whichever position it is in
                a, b = re.findall(r"的回答开始\]\n(.*?)\n\[助手 . 的回答结束", prompt, flags=re.S)
                verdict = "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"
        else:
            answer = prompt.split("[助手的回答开始]\n", 1)[-1] if "[助手的回答开始]" in prompt else prompt
            verdict = f"理由略。评分：[[{1 + len(answer) % 10}]]"
        return {"id": "x", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": verdict},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return api


@pytest.fixture(scope="module")
def judge_server():
    api = scripted_judge()
    with serve_in_thread(api) as url:
        yield f"{url}/v1", api


def answers_run(model_dir, data_dir, db, max_tokens, bench="alignbench", limit="2"):
    out = cli("eval", "--model", str(model_dir), "--bench", bench, "--data-dir", str(data_dir), "--db", str(db),
                 "--limit", limit, "--max-tokens", str(max_tokens), "--chat-template", "--json")
    return json.loads(out)["run_id"]


def test_parsers():
    assert parse_score("很好。评分：[[8]]") == 8 and parse_score("Rating: [[9.5]]") == 9.5
    assert parse_score("[[7]] then [[3]]") == 3 and parse_score("no score") is None and parse_score("[[11]]") is None
    assert parse_winner("[[A]]") == "A" and parse_winner("[[C]]") == "tie" and parse_winner("none") is None


def test_bradley_terry_orders_and_scales():
    games = [("x", "y", 1.0)] * 30 + [("x", "y", 0.0)] * 10 + [("y", "z", 1.0)] * 30 + [("y", "z", 0.0)] * 10
    r = bradley_terry(games)
    assert r["x"] > r["y"] > r["z"]
    # x beats y 3:1, so the Elo-scale gap is 400*log10(3) ~ 191
    assert r["x"] - r["y"] == pytest.approx(400 * 0.4771, abs=15)


def test_grade_and_pairwise_alignbench(judge_server, tiny_model_dir, data_dir, tmp_path):
    url, api = judge_server
    db = tmp_path / "r.db"
    short = answers_run(tiny_model_dir, data_dir, db, 4)
    long = answers_run(tiny_model_dir, data_dir, db, 24)
    assert short != long

    res = json.loads(cli("judge", "grade", short, "--judge", "openai:content", "--base-url", url,
                            "--data-dir", str(data_dir), "--db", str(db), "--json"))
    assert res["judged"] == 16 and res["unparsed"] == 0 and len(res["subjects"]) == 8
    assert 1 <= res["mean"]["mean"] <= 10
    import sqlite3

    rows = sqlite3.connect(db).execute("SELECT prompt, verdict, score FROM judgments").fetchall()
    assert len(rows) == 16 and all("[标准答案]" in p and "评分" in v and s for p, v, s in rows)
    calls = api.state.calls
    cli("judge", "grade", short, "--judge", "openai:content", "--base-url", url, "--data-dir", str(data_dir),
           "--db", str(db))
    assert api.state.calls == calls, "judging resumes: no repeated calls"

    fair = json.loads(cli("judge", "pairwise", short, long, "--judge", "openai:content", "--base-url", url,
                             "--data-dir", str(data_dir), "--db", str(db), "--json"))
    pair = fair["pairs"][0]
    assert pair["questions"] == 16 and pair["b"] > pair["a"]  # the longer answers win in both orders
    names = list(fair["ratings"])
    assert names[0].endswith(long[:6]) and fair["ratings"][names[0]]["rating"] > fair["ratings"][names[1]]["rating"]

    biased = json.loads(cli("judge", "pairwise", short, long, "--judge", "openai:biased", "--base-url", url,
                               "--data-dir", str(data_dir), "--db", str(db), "--json"))
    assert biased["pairs"][0]["tie"] == 16, "a judge that always picks position A only produces ties"


def test_mt_bench_two_turns_graded_with_fastchat_prompts(judge_server, tiny_model_dir, data_dir, tmp_path):
    url, _ = judge_server
    db = tmp_path / "r.db"
    run = answers_run(tiny_model_dir, data_dir, db, 6, bench="mt-bench", limit="1")
    out = json.loads(cli("judge", "grade", run, "--judge", "openai:content", "--base-url", url,
                            "--data-dir", str(data_dir), "--db", str(db), "--json"))
    assert out["judged"] == 8
    import sqlite3

    con = sqlite3.connect(db)
    turns = [json.loads(e) for (e,) in con.execute("SELECT turns FROM records")]
    assert len(turns) == 8 and all(len(t) == 2 for t in turns)
    prompts = [p for (p,) in con.execute("SELECT prompt FROM judgments")]
    assert all("<|The Start of Assistant A's Conversation with User|>" in p for p in prompts)
