"""Multi-answer questions scored, not skipped, end to end: log-likelihood over every set of labels with the tiny
model, and generation + extraction of a set of labels through the real OpenAI client against a scripted server on
127.0.0.1; the summary counts single and multi questions and gives partial credit as a second metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pandian.cli import app

from .conftest import cli, serve_in_thread

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
BENCH = ["--bench", str(SHAPES / "nested.yaml"), "--data-dir", str(SHAPES / "data")]


def records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]


def test_likelihood_scores_every_set_of_labels(tiny_model_dir, tmp_path):
    out = tmp_path / "o"
    text = cli("eval", "--model", str(tiny_model_dir), *BENCH, "--db", str(tmp_path / "r.db"), "--out", str(out))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["answers"] == {"single": 2, "multi": 2} and summary["skipped"] == {}
    recs = {r["qid"]: r for r in records(out)}
    # 4 options: 15 non-empty sets of labels; 3 options (a single-answer question): 3 letters
    assert [len(recs[q]["logprobs"]) for q in ("nested/1", "nested/2", "nested/3", "nested/4")] == [4, 15, 15, 3]
    assert recs["nested/2"]["gold"] == "AC" and recs["nested/3"]["gold"] == "ABD"
    sets = ["A", "B", "C", "D", "AB", "AC", "AD", "BC", "BD", "CD", "ABC", "ABD", "ACD", "BCD", "ABCD"]
    for qid in ("nested/2", "nested/3"):
        r = recs[qid]
        assert r["pred"] == sets[max(range(15), key=lambda i: r["logprobs"][i])]
        assert r["correct"] == int(r["pred"] == r["gold"])
    by = summary["accuracy_by_answers"]
    assert by["single"]["n"] == 2 and by["multi"]["n"] == 2
    assert summary["partial_credit"]["overall"]["n"] == 4
    assert "2 single-answer and 2 multi-answer question(s)" in " ".join(text.split())


def test_choice_text_scoring_refuses_sets(tiny_model_dir, tmp_path):
    result = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), *BENCH, "--scoring", "choice",
                                      "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 2
    assert "a multi-select question cannot be scored by its choices' text" in " ".join(result.output.split())


# The scripted server answers each question as a model might; the first words of the question pick the reply.
REPLIES = {"下列哪个是中国的首都": "答案：B", "下列哪些是哺乳动物": "鲸和蝙蝠是哺乳动物，故选AC。",
           "下列属于三原色": "答案是A、B", "2的平方是多少": "我不知道"}


@pytest.fixture(scope="module")
def scripted():
    from fastapi import FastAPI

    api, calls = FastAPI(), []

    @api.post("/v1/chat/completions")
    async def chat(body: dict):
        prompt = body["messages"][-1]["content"]
        calls.append(prompt)
        reply = next(v for k, v in REPLIES.items() if k in prompt)
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

    with serve_in_thread(api) as url:
        yield url, calls


def test_generation_extracts_sets_and_gives_partial_credit(scripted, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    url, calls = scripted
    out = tmp_path / "o"
    cli("eval", "--model", "openai:scripted", "--base-url", f"{url}/v1", *BENCH, "--db", str(tmp_path / "r.db"),
        "--out", str(out))
    recs = {r["qid"]: r for r in records(out)}
    assert {q: (r["pred"], r["gold"], r["correct"]) for q, r in recs.items()} == {
        "nested/1": ("B", "B", 1), "nested/2": ("AC", "AC", 1), "nested/3": ("AB", "ABD", 0),
        "nested/4": ("", "B", 0)}
    assert recs["nested/2"]["method"] == recs["nested/3"]["method"] == "generate"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["answers"] == {"single": 2, "multi": 2}
    assert summary["accuracy"]["overall"]["questions"]["acc"] == 0.5
    # exact set 1 + 1 + 0 + 0; partial credit 1 + 1 + 0.5 (right but incomplete) + 0
    assert summary["partial_credit"]["overall"]["mean"] == pytest.approx(2.5 / 4)
    assert summary["accuracy_by_answers"]["multi"]["acc"] == 0.5 and summary["extraction_failures"] == 1
