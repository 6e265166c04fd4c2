"""`pandian eval` against a live OpenAI-compatible server on 127.0.0.1 (pandian's own serve-model over a tiny
model), through the real openai client: GSM8K end to end, multiple choice with the method recorded, and resumes that
make no repeated calls (the server counts them)."""

from __future__ import annotations

import json

import pytest

from .conftest import cli, serve_in_thread


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    from pandian.app.serve import create_app

    api = create_app(str(tiny_model_dir), device="cpu", served_name="tiny")
    assert api.state.model.module is not None  # a server loads its generating model before the first request
    calls = {"n": 0}

    @api.middleware("http")
    async def count(request, call_next):
        if request.url.path.endswith("completions"):
            calls["n"] += 1
        return await call_next(request)

    with serve_in_thread(api) as url:
        yield f"{url}/v1", calls


def eval_args(url, data_dir, db, *extra):
    return ["eval", "--model", "openai:tiny", "--base-url", url, "--data-dir", str(data_dir), "--db", str(db),
            "--max-tokens", "12", *extra]


def test_gsm8k_end_to_end_and_resume_without_repeated_calls(server, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a loopback server needs no key
    url, calls = server
    db, out = tmp_path / "r.db", tmp_path / "out"
    start = calls["n"]
    cli(*eval_args(url, data_dir, db, "--bench", "gsm8k", "--limit", "20"))
    assert calls["n"] - start == 20
    text = cli(*eval_args(url, data_dir, db, "--bench", "gsm8k", "--limit", "50", "--out", str(out)))
    assert calls["n"] - start == 50, "the resumed run asked only for the 30 missing answers"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 50 and summary["failed_calls"] == []
    assert summary["config"]["generation"]["max_tokens"] == 12 and summary["config"]["model"] == "tiny"
    assert 0 <= summary["extraction_failure_rate"] <= 1
    assert "calls" in text and "extracted" in " ".join(text.split())
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 50 and all(r["response"] is not None for r in records)
    assert all(r["gold"] and (r["correct"] == 0 or r["pred"] == r["gold"]) for r in records)

    before = calls["n"]
    cli(*eval_args(url, data_dir, db, "--bench", "gsm8k", "--limit", "50"))
    assert calls["n"] == before, "a rerun makes zero calls"


def test_multiple_choice_through_the_api_records_the_method(server, data_dir, tmp_path):
    url, calls = server
    out = tmp_path / "out"
    cli(*eval_args(url, data_dir, tmp_path / "r.db", "--bench", "ceval", "--subjects", "law", "--limit", "8",
                  "--shots", "1", "--out", str(out)))
    summary = json.loads((out / "summary.json").read_text())
    assert sum(summary["methods"].values()) == 8
    for r in (json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()):
        assert r["method"] in ("logprobs", "generate")
        assert (len(r["logprobs"]) == 4) == (r["method"] == "logprobs")
