"""A results store made of real runs, shared by the report, web and browser tests (built once per session):

- the tiny model on six CMMLU subjects (two per category family), 2-shot, in fp32 and as an int8 variant
  (bitsandbytes on CPU): two runs of the same questions, with a cost each, to compare and put on a Pareto plot;
- a scripted OpenAI-compatible endpoint on 127.0.0.1 answering a user's file through `pandian eval --model
  openai:...`: its answers, its model name, its subject and its question ids are hostile text (a <script> element,
  an <img onerror>, a javascript: URL), and it is called with an API key that must never show anywhere.
"""

from __future__ import annotations

import json
import os

import pytest
from fastapi import FastAPI, Request

from .conftest import cli, serve_in_thread

SUBJECTS = "agronomy,anatomy,chinese_history,college_medicine,high_school_physics,marketing"
SECRET = "sk-pandian-report-5ecret-0123456789abcdef"
# Each payload sets window.__pwned and opens a dialog if it ever runs.
SCRIPT = "<script>window.__pwned = 1; alert('script ran')</script>"
IMG = "<img src=x onerror=\"window.__pwned = 2; alert('img ran')\">"
JS_URL = "javascript:window.__pwned=3;alert('url ran')"
PAYLOADS = (SCRIPT, IMG, JS_URL)
HOSTILE_MODEL = "scripted-<img src=x onerror=alert('model')>"
HOSTILE_SUBJECT = "<b>法律</b><script>alert('subject')</script>"
ANSWERS = {"Q1": f"答案是 {SCRIPT}", "Q2": IMG, "Q3": f"see {JS_URL}", "Q4": "答案是B"}


def scripted_app(seen_keys: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        seen_keys.append(request.headers.get("authorization", ""))
        prompt = body["messages"][-1]["content"]
        text = next((a for marker, a in ANSWERS.items() if marker in prompt), "C")
        return {"id": "scripted", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                             "logprobs": None}],
                "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text), "total_tokens": 1}}

    return app


def hostile_file(path):
    rows = [{"id": f"Q{i}", "subject": HOSTILE_SUBJECT if i % 2 else "常识", "question": f"Q{i}: {q}",
             "A": "<i>甲</i>", "B": "乙 & 丙", "C": "\"丁\"", "D": "'戊'", "answer": "B"}
            for i, q in enumerate([SCRIPT, IMG, JS_URL, "中文题目：哪一项正确？"], start=1)]
    rows.append({"id": "<svg onload=alert('qid')>", "subject": "常识", "question": "Q4 again", "A": "1", "B": "2",
                 "C": "3", "D": "4", "answer": "B"})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def survey_store(tmp_path_factory, tiny_model_dir, data_dir) -> dict:
    """{'db': path, 'fp32', 'int8', 'api': run ids, 'secret': the API key the endpoint was called with}."""
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed (pip install 'pandian[test]')")
    from pandian.store import open_store

    tmp = tmp_path_factory.mktemp("survey")
    db = tmp / "results.db"
    common = ("--bench", "cmmlu", "--data-dir", data_dir, "--shots", 2, "--subjects", SUBJECTS, "--limit", 8,
              "--db", db)
    cli("eval", "--model", tiny_model_dir, *common)
    cli("eval", "--model", tiny_model_dir, *common, "--quant", "int8")
    seen: list[str] = []
    old = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = SECRET
    try:
        with serve_in_thread(scripted_app(seen)) as url:
            cli("eval", "--model", f"openai:{HOSTILE_MODEL}", "--base-url", f"{url}/v1", "--bench",
                hostile_file(tmp / "hostile.jsonl"), "--db", db)
    finally:
        if old is None:
            del os.environ["OPENAI_API_KEY"]
        else:
            os.environ["OPENAI_API_KEY"] = old
    assert seen and all(SECRET in k for k in seen)  # the key really was used
    store = open_store(db)
    runs = store.run_list()
    store.close()
    by = {}
    for r in runs:
        if r["benchmark"] == "cmmlu":
            by["int8" if r["config"].get("quant") else "fp32"] = r["run_id"]
        else:
            by["api"] = r["run_id"]
    assert set(by) == {"fp32", "int8", "api"}, runs
    return {"db": db, **by, "secret": SECRET, "tmp": tmp}
