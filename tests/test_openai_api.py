"""The OpenAI-compatible client against real servers on 127.0.0.1 through the real `openai` SDK: pandian's own
model server over a tiny random-init model, and a scripted fault server (429 with Retry-After, 5xx, a hang past
the client timeout, malformed 200s, permanent failures). Every case counts the calls the server saw."""

from __future__ import annotations

import json
import logging
import math
import socket
import sqlite3
import threading
import time
from collections import defaultdict
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pandian.backends.base import GenerationRequest
from pandian.store import SQLiteStore

from pandian.backends.openai_api import (
    PRESETS,
    APIConfigError,
    OpenAIBackend,
    choice_logprobs,
    resolve_ref,
    retry_after_seconds,
)

from .conftest import ROOT, serve_in_thread

KEY = "sk-pandian-test-5ecret-KEY-0123456789"
SERVER_KEY = "local-server-key"


# ---------------------------------------------------------------------------------------------- pandian's server

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, served name, model dir) of `pandian.serve` over a tiny model, with uvicorn on a real socket."""
    from pandian.app.serve import create_app
    from pandian.backends.tiny import TinyShape, build_tiny_model

    texts = [(ROOT / "pandian" / "samples" / "demo_mc.jsonl").read_text(encoding="utf-8")]
    model_dir = build_tiny_model(tmp_path_factory.mktemp("served") / "tiny-chat", texts, TinyShape())
    app = create_app(str(model_dir), device="cpu", api_key=SERVER_KEY)
    with serve_in_thread(app) as url:
        yield f"{url}/v1", app.state.model_name, model_dir


@pytest.fixture(scope="module")
def hf_tiny(served):
    from pandian.backends.hf import load_hf_model

    return load_hf_model(str(served[2]), device="cpu")


def req(d: dict) -> GenerationRequest:
    return GenerationRequest(**{k: tuple(v) if k in ("messages", "stop") else v for k, v in d.items()})


def _one(backend, request):
    [(i, result)] = list(backend.generate([req(request)]))
    assert i == 0 and result.error is None, result
    return result


def test_models_endpoint_through_the_openai_sdk(served):
    from openai import OpenAI

    url, name, _ = served
    client = OpenAI(base_url=url, api_key=SERVER_KEY, max_retries=0, timeout=10)
    assert [m.id for m in client.models.list()] == [name]


def test_server_errors_are_reported_not_retried(served):
    url, name, _ = served
    cases = [(OpenAIBackend(name, url, "wrong-key"), {"prompt": "x"}, "HTTP 401"),
             (OpenAIBackend("not-" + name, url, SERVER_KEY), {"prompt": "x"}, "HTTP 404"),
             (OpenAIBackend(name, url, SERVER_KEY), {"prompt": "x", "top_logprobs": 50}, "HTTP 400"),
             (OpenAIBackend(name, url, SERVER_KEY), {"prompt": "长" * 5000}, "HTTP 400")]
    for backend, request, status in cases:
        [(_, r)] = list(backend.generate([req(request)]))
        assert r.text is None and r.attempts == 1 and status in r.error, r


def test_chat_with_logprobs(served, hf_tiny):
    url, name, _ = served
    backend = OpenAIBackend(name, url, SERVER_KEY)
    messages = [{"role": "user", "content": "一个三角形的三个内角之和是多少度？"}]
    r = _one(backend, {"messages": messages, "max_tokens": 6, "logprobs": True, "top_logprobs": 5})
    assert isinstance(r.text, str) and r.finish_reason in ("length", "stop")
    prompt = hf_tiny.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert r.prompt_tokens == len(hf_tiny.tokenizer.encode(prompt, add_special_tokens=False))
    assert 1 <= r.completion_tokens <= 6
    assert len(r.logprobs) == r.completion_tokens
    for step in r.logprobs:  # greedy: the chosen token is the most likely one
        assert len(step["top_logprobs"]) == 5
        assert step["logprob"] == pytest.approx(step["top_logprobs"][0]["logprob"])
        assert step["token"] == step["top_logprobs"][0]["token"]
    assert backend.usage_summary()["calls"] == 1


def test_completion_logprobs_match_a_direct_forward(served, hf_tiny):
    import torch

    url, name, _ = served
    prompt = "12 和 18 的最大公约数是"
    r = _one(OpenAIBackend(name, url, SERVER_KEY), {"prompt": prompt, "max_tokens": 4, "top_logprobs": 5})
    ids = hf_tiny.tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        logits = hf_tiny.model(torch.tensor([ids])).logits[0, -1].float()
    expected = torch.topk(torch.log_softmax(logits, -1), 5).values.tolist()
    got = sorted((x["logprob"] for x in r.logprobs[0]["top_logprobs"]), reverse=True)
    assert got == pytest.approx(expected, abs=1e-4)
    assert (r.prompt_tokens, r.completion_tokens) == (len(ids), 4)
    assert r.finish_reason == "length"


def test_greedy_is_repeatable_stop_truncates_and_seeded_sampling_repeats(served):
    url, name, _ = served
    backend = OpenAIBackend(name, url, SERVER_KEY)  # no cache: every call reaches the server
    base = {"prompt": "圆的周长公式是", "max_tokens": 12}
    full = _one(backend, base).text
    assert _one(backend, base).text == full
    # a stop string whose prefix decodes cleanly (partial UTF-8 bytes can decode differently mid-stream)
    i = next(i for i in range(1, len(full)) if "\ufffd" not in full[: i + 1] and full[i] not in full[:i])
    r = _one(backend, {**base, "stop": [full[i]]})
    assert r.text == full[:i] and r.finish_reason == "stop"
    sampled = {**base, "temperature": 1.0, "top_p": 0.9, "seed": 7}
    assert _one(backend, sampled).text == _one(backend, sampled).text
    assert backend.usage_summary()["calls"] == 5


def test_cached_results_equal_fresh_ones(served, tmp_path):
    url, name, _ = served
    db = tmp_path / "results.db"
    requests = [{"messages": [{"role": "user", "content": "你好"}], "max_tokens": 3, "logprobs": True,
                 "top_logprobs": 2}, {"prompt": "光在真空中", "max_tokens": 3}]
    first = dict(OpenAIBackend(name, url, SERVER_KEY, cache=SQLiteStore(db) if db else None).generate([req(r) for r in requests]))
    again = OpenAIBackend(name, url, SERVER_KEY, cache=SQLiteStore(db) if db else None)
    second = dict(again.generate([req(r) for r in requests]))
    for i in range(2):
        assert second[i].cached and second[i].attempts == 0
        fields = ("text", "finish_reason", "prompt_tokens", "completion_tokens", "logprobs")
        assert {k: getattr(second[i], k) for k in fields} == {k: getattr(first[i], k) for k in fields}
    assert again.usage_summary()["calls"] == 0 and again.usage_summary()["cache_hits"] == 2


# ---------------------------------------------------------------------------------------------- fault server

class FaultServer:
    """Answers by scenario (the user message or prompt) and call number; records when each call arrived."""

    HANG_S = 2.0

    def __init__(self):
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.auth: set[str] = set()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat = self.path.endswith("/chat/completions")
                scenario = body["messages"][-1]["content"] if chat else body["prompt"]
                with owner.lock:
                    owner.calls[scenario].append(time.monotonic())
                    n = len(owner.calls[scenario])
                    owner.auth.add(self.headers.get("Authorization", ""))
                try:
                    owner.respond(self, scenario, n, chat)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a hung call, as it should

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 refuses part of a burst of 10 connections

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self, scenario: str | None = None) -> int:
        with self.lock:
            return len(self.calls[scenario]) if scenario else sum(len(v) for v in self.calls.values())

    @staticmethod
    def send(handler, status: int, body: str | bytes, headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def respond(self, h, scenario: str, n: int, chat: bool) -> None:
        auth = h.headers.get("Authorization", "")  # echoed, as some gateways do: the client must redact it
        echo = json.dumps({"error": {"message": f"rejected {auth} (key={auth.removeprefix('Bearer ')})",
                                     "type": "server_error"}})
        first = n == 1
        if scenario.startswith("429") and first:
            return self.send(h, 429, echo, {"Retry-After": "1"})
        if scenario.startswith("500") and first or scenario.startswith("always500"):
            return self.send(h, 500, echo)
        if scenario.startswith("400"):
            return self.send(h, 400, echo)
        if scenario.startswith("hang") and first:
            time.sleep(self.HANG_S)
        if scenario.startswith("badjson") and first:
            return self.send(h, 200, "{this is not json")
        if scenario.startswith("nochoices") and first:
            return self.send(h, 200, json.dumps({"object": "chat.completion", "choices": []}))
        text = f"answer to {scenario}"
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} if chat
                  else {"index": 0, "text": text, "finish_reason": "stop"})
        self.send(h, 200, json.dumps({"id": "x", "object": "chat.completion" if chat else "text_completion",
                                      "created": 0, "model": "m", "choices": [choice],
                                      "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def faults():
    server = FaultServer()
    yield server
    server.close()


def fast_backend(url: str, db: Path | None = None, **kw) -> OpenAIBackend:
    args = dict(cache=SQLiteStore(db) if db else None, max_retries=3, timeout=0.5, backoff_base=0.02, backoff_cap=0.05, retry_after_cap=5,
                price_in=2.0, price_out=8.0)
    return OpenAIBackend("m", url, KEY, **{**args, **kw})


def chat(scenario: str) -> dict:
    return {"messages": [{"role": "user", "content": scenario}], "max_tokens": 8}


SCENARIOS = ["ok", "429-then-ok", "500-then-ok", "hang-then-ok", "badjson-then-ok", "nochoices-then-ok",
             "always500", "400-bad-request"]


def test_faults_retries_and_failures(faults, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # the SDK's and httpx's debug logs too: the key must not be in any of them
    db = tmp_path / "results.db"
    backend = fast_backend(faults.url, db)
    requests = [chat(s) for s in SCENARIOS] + [{"prompt": "ok-text", "max_tokens": 8}, chat("ok")]
    t0 = time.monotonic()
    results = dict(backend.generate([req(r) for r in requests]))
    elapsed = time.monotonic() - t0
    assert sorted(results) == list(range(len(requests)))
    by = {s: results[i] for i, s in enumerate(SCENARIOS)}

    expected_calls = {"ok": 1, "429-then-ok": 2, "500-then-ok": 2, "hang-then-ok": 2, "badjson-then-ok": 2,
                      "nochoices-then-ok": 2, "always500": 4, "400-bad-request": 1, "ok-text": 1}
    assert {s: faults.count(s) for s in expected_calls} == expected_calls
    for s in ("ok", "429-then-ok", "500-then-ok", "hang-then-ok", "badjson-then-ok", "nochoices-then-ok"):
        assert by[s].error is None and by[s].text == f"answer to {s}", (s, by[s])
        assert by[s].attempts == expected_calls[s]
    assert results[len(SCENARIOS)].text == "answer to ok-text"
    assert results[len(SCENARIOS) + 1].text == "answer to ok"  # a duplicate in the batch cost no call

    t429 = faults.calls["429-then-ok"]
    assert t429[1] - t429[0] >= 1.0  # Retry-After: 1 was honoured
    thang = faults.calls["hang-then-ok"]
    assert thang[1] - thang[0] >= 0.5 and elapsed < FaultServer.HANG_S + 1.5  # gave up at the 0.5 s timeout

    for s, status in (("always500", "HTTP 500"), ("400-bad-request", "HTTP 400")):
        r = by[s]
        assert r.text is None and r.finish_reason is None and status in r.error, r
        assert KEY not in r.error and "***" in r.error  # the server echoed the bearer header
    assert by["always500"].attempts == 4 and by["400-bad-request"].attempts == 1

    usage = backend.usage_summary()
    assert usage["failures"] == 2 and usage["cache_hits"] == 1 and usage["requests"] == len(requests)
    assert usage["calls"] == sum(expected_calls.values())
    assert usage["prompt_tokens"] == 7 * 7 and usage["completion_tokens"] == 3 * 7
    assert usage["cost"] == pytest.approx((49 * 2.0 + 21 * 8.0) / 1e6)
    assert f"Bearer {KEY}" in faults.auth  # the key was sent...

    backend.close()
    with sqlite3.connect(db) as conn:  # ...only successes are cached
        cached = [json.loads(r[0]) for r in conn.execute("SELECT request FROM api_responses")]
    contents = sorted(b["messages"][-1]["content"] if "messages" in b else b["prompt"] for b in cached)
    assert contents == sorted(s for s in expected_calls if not s.startswith(("always500", "400")))

    # ...and never written anywhere: not the cache file, its WAL, the logs, or a repr
    for f in tmp_path.glob("results.db*"):
        assert KEY.encode() not in f.read_bytes(), f
    assert KEY not in caplog.text and "HTTP 500" in caplog.text
    assert KEY not in repr(backend)


def test_rerun_makes_zero_calls_and_retries_only_failures(faults, tmp_path):
    db = tmp_path / "results.db"
    ok = [chat(s) for s in SCENARIOS if not s.startswith(("always500", "400"))]
    first = fast_backend(faults.url, db)
    assert all(r.error is None for _, r in first.generate([req(r) for r in ok]))
    before = faults.count()

    rerun = fast_backend(faults.url, db)
    again = dict(rerun.generate([req(r) for r in ok]))
    assert faults.count() == before  # not one HTTP call
    assert all(r.cached and r.error is None for r in again.values())
    assert rerun.usage_summary()["calls"] == 0 and rerun.usage_summary()["cache_hits"] == len(ok)

    failing = fast_backend(faults.url, db)
    [(_, r)] = list(failing.generate([req(chat("always500"))]))
    [(_, r2)] = list(failing.generate([req(chat("always500"))]))
    assert r.error and r2.error and faults.count("always500") == 8  # a failure is retried, never cached


def test_connection_refused_is_retried_then_reported():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    backend = fast_backend(f"http://127.0.0.1:{port}/v1", max_retries=2)
    [(_, r)] = list(backend.generate([req(chat("ok"))]))
    assert r.text is None and r.attempts == 3 and "connection error" in r.error and KEY not in r.error
    assert backend.usage_summary()["failures"] == 1


def test_rate_limit_spaces_calls(faults):
    backend = fast_backend(faults.url, rpm=240)  # one call per 0.25 s
    list(backend.generate([req(chat(f"ok-rpm-{i}")) for i in range(3)]))
    starts = sorted(faults.calls[f"ok-rpm-{i}"][0] for i in range(3))
    assert starts[1] - starts[0] >= 0.2 and starts[2] - starts[1] >= 0.2


# ---------------------------------------------------------------------------------------------- pure helpers

def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    later = retry_after_seconds({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert 28 <= later <= 31
    assert retry_after_seconds({"retry-after": formatdate(time.time() - 30, usegmt=True)}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


def test_presets_and_key_errors(monkeypatch):
    for name in ("deepseek", "qwen", "ernie", "spark", "zhipu", "baichuan", "moonshot", "360", "yi", "vllm",
                 "llamacpp", "ollama"):
        assert PRESETS[name].base_url.startswith(("https://", "http://127.0.0.1:"))
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    with pytest.raises(APIConfigError, match="DEEPSEEK_API_KEY"):
        resolve_ref("deepseek:deepseek-chat")
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    ep = resolve_ref("deepseek:deepseek-chat")
    assert (ep.model, ep.base_url, ep.api_key) == ("deepseek-chat", "https://api.deepseek.com/v1", KEY)
    assert KEY not in repr(ep)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(APIConfigError, match="DASHSCOPE_API_KEY"):  # an OpenAI key never goes to another vendor
        resolve_ref("qwen:qwen-plus")
    assert resolve_ref("ollama:qwen2.5:7b").model == "qwen2.5:7b"  # local: no key needed, colons kept
    monkeypatch.delenv("OPENAI_API_KEY")
    assert resolve_ref("openai:tiny", base_url="http://127.0.0.1:9/v1").base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(APIConfigError, match="OPENAI_API_KEY"):
        resolve_ref("openai:gpt-4o", base_url="https://example.invalid/v1")
    with pytest.raises(APIConfigError, match="unknown API preset"):
        resolve_ref("nope:model")
    with pytest.raises(ValueError, match="exactly one of"):
        GenerationRequest(max_tokens=3)


def test_choice_logprobs():
    lp = [{"token": "A", "logprob": -0.5, "top_logprobs": [
        {"token": "A", "logprob": -1.0}, {"token": " A", "logprob": -2.0}, {"token": "B", "logprob": -1.5},
        {"token": "（C", "logprob": -3.0}, {"token": "的", "logprob": -0.1}]}]
    scores = choice_logprobs(lp, labels=("A", "B", "C", "D"))
    assert scores["A"] == pytest.approx(math.log(math.exp(-1.0) + math.exp(-2.0)))
    assert scores["B"] == -1.5 and scores["C"] == -3.0 and scores["D"] == -math.inf
    assert choice_logprobs(None) is None
    assert choice_logprobs([{"token": "A", "logprob": -1.0, "top_logprobs": []}]) is None
    assert choice_logprobs([{"token": "x", "logprob": -1.0, "top_logprobs": [{"token": "x", "logprob": -1}]}]) is None
