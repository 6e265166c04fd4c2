"""`pandian serve-model`: a local Hugging Face causal LM behind an OpenAI-compatible HTTP API (`/v1/models`,
`/v1/chat/completions`, `/v1/completions`), so that API-only and local models go through the same client.

One request is generated at a time (a KV-cached greedy or sampled loop), which keeps greedy answers independent of
load. Logprobs are the model's own (log-softmax of the raw logits, before temperature and top-p), as vLLM reports
them by default. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pandian.backends.base import GenerationRequest, GenerationResult
from pandian.backends.hf import HFModel, load_hf_model
from pandian.backends.tokenize import apply_chat_template

MAX_TOP_LOGPROBS = 20


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[dict] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    seed: int | None = None
    n: int = 1
    stream: bool = False


class CompletionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    prompt: str | list[str]
    max_tokens: int | None = Field(16, ge=1)   # the OpenAI default for this endpoint
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    seed: int | None = None
    n: int = 1
    stream: bool = False
    echo: bool = False


class ServeConfigError(ValueError):
    """A server that would start less protected than asked; the message names the flag."""


def server_key(api_key_env: str | None) -> str | None:
    """The key named by --api-key-env, or None when none is asked for. Fails closed: a named variable that is
    unset or empty refuses to start rather than serving without authentication."""
    if api_key_env is None:
        return None
    key = os.environ.get(api_key_env, "")
    if not key.strip():
        raise ServeConfigError(f"--api-key-env {api_key_env}: the environment variable {api_key_env} is "
                               f"{'empty' if api_key_env in os.environ else 'not set'}, so the server would accept "
                               "every request; refusing to start. Set it to the key clients must send, or drop "
                               "--api-key-env to serve on 127.0.0.1 without a key.")
    return key


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """A warning when the server is reachable beyond this machine and takes no key."""
    if api_key or _is_loopback(host):
        return None
    return (f"serving on {host} with no API key: anyone who can reach this address can use the model. Pass "
            "--api-key-env VAR (clients then send Authorization: Bearer <key>), or bind --host 127.0.0.1.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def _generate(hf: HFModel, lock: threading.Lock, prompt: str, max_tokens: int | None, temperature: float,
              top_p: float, stop: list[str], logprobs: bool, top_k: int, seed: int | None) -> GenerationResult:
    """One request at a time through the shared generation loop: greedy answers never depend on the load."""
    room = hf.max_length  # the loop caps new tokens at what the context leaves
    req = GenerationRequest(prompt=prompt, max_tokens=max_tokens or room, temperature=temperature, top_p=top_p,
                            stop=tuple(stop), seed=seed, logprobs=logprobs, top_logprobs=top_k)
    with lock:
        [(_, r)] = list(hf.generate([req], batch_size=1))
    if r.error:
        raise RequestError(400, r.error)
    return r


def create_app(model_dir: str, device: str = "cpu", dtype: str = "auto", served_name: str | None = None,
               api_key: str | None = None, trust_remote_code: bool = False):
    """A FastAPI app serving the model in `model_dir` (anything `load_hf_model` accepts) under `served_name`
    (default: the directory's name). With `api_key`, requests must send `Authorization: Bearer <key>`."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    hf = load_hf_model(model_dir, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    hf.model  # noqa: B018  a server generates: transformers' model loads now, not on the first request
    lock = threading.Lock()
    name = served_name or (Path(model_dir).name if Path(model_dir).is_dir() else model_dir)
    app = FastAPI(title=f"pandian: {name}")
    app.state.model, app.state.model_name = hf, name

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)

    @app.exception_handler(RequestError)
    async def _request_error(_, e: RequestError):
        return error(e.status, e.message, e.kind)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_, e: RequestValidationError):
        parts = [f"{'.'.join(str(x) for x in d['loc'][1:])}: {d['msg']}" for d in e.errors()]
        return error(400, "; ".join(parts), "invalid_request_error")

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        if api_key:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode()):
                return error(401, "missing or wrong API key", "authentication_error")
        return await call_next(request)

    def check(body) -> list[str]:
        if body.model and body.model != name:
            raise RequestError(404, f"model '{body.model}' is not served here; this server has '{name}'",
                               "not_found_error")
        if body.n != 1 or body.stream:
            raise RequestError(400, "n > 1 and stream are not supported by pandian's server")
        return [body.stop] if isinstance(body.stop, str) else [s for s in (body.stop or []) if s]

    def usage(r: GenerationResult) -> dict:
        return {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                "total_tokens": r.prompt_tokens + r.completion_tokens}

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "created": int(time.time()),
                                            "owned_by": "pandian"}]}

    @app.post("/v1/chat/completions")
    def chat(body: ChatBody):
        stop = check(body)
        if not getattr(hf.tokenizer, "chat_template", None):
            raise RequestError(400, f"{name}'s tokenizer has no chat template: use /v1/completions")
        messages = [{**m, "content": _text_of(m.get("content"))} for m in body.messages]
        try:
            prompt = apply_chat_template(hf.tokenizer, messages)
        except Exception as e:  # templates raise on roles or orders they do not support
            raise RequestError(400, f"{name}'s chat template rejected these messages: {e}") from None
        top_k = (body.top_logprobs or 0) if body.logprobs else 0
        r = _generate(hf, lock, prompt, body.max_completion_tokens or body.max_tokens, body.temperature, body.top_p,
                      stop, body.logprobs, top_k, body.seed)
        logprobs = None
        if body.logprobs:
            logprobs = {"content": [{**_token(s["token"], s["logprob"]),
                                     "top_logprobs": [_token(a["token"], a["logprob"]) for a in s["top_logprobs"]]}
                                    for s in r.logprobs], "refusal": None}
        choice = {"index": 0, "message": {"role": "assistant", "content": r.text}, "logprobs": logprobs,
                  "finish_reason": r.finish_reason}
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": name, "choices": [choice], "usage": usage(r)}

    @app.post("/v1/completions")
    def completions(body: CompletionBody):
        stop = check(body)
        if body.echo:
            raise RequestError(400, "echo is not supported by pandian's server")
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            raise RequestError(400, "send one prompt per request")
        r = _generate(hf, lock, prompts[0], body.max_tokens, body.temperature, body.top_p, stop,
                      body.logprobs is not None, body.logprobs or 0, body.seed)
        logprobs = None
        if body.logprobs is not None:
            texts = [s["token"] for s in r.logprobs]
            offsets = [sum(len(x) for x in texts[:i]) for i in range(len(texts))]
            tops = []
            for s in r.logprobs:
                d: dict[str, float] = {}
                for a in s["top_logprobs"]:  # two ids can decode alike (partial UTF-8): keep the higher
                    d[a["token"]] = max(a["logprob"], d.get(a["token"], float("-inf")))
                tops.append(d)
            logprobs = {"tokens": texts, "token_logprobs": [s["logprob"] for s in r.logprobs], "top_logprobs": tops,
                        "text_offset": offsets}
        choice = {"index": 0, "text": r.text, "logprobs": logprobs, "finish_reason": r.finish_reason}
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": name, "choices": [choice], "usage": usage(r)}

    return app


def _text_of(content) -> str:
    """A message's text: OpenAI allows a list of parts ({"type": "text", "text": ...}); only text is served."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


def _token(text: str, logprob: float) -> dict:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, device: str = "auto", dtype: str = "auto",
          served_name: str | None = None, api_key: str | None = None, trust_remote_code: bool = False) -> None:
    """Load the model and serve it until interrupted: `--base-url http://HOST:PORT/v1`."""
    import uvicorn

    app = create_app(model_dir, device=device, dtype=dtype, served_name=served_name, api_key=api_key,
                     trust_remote_code=trust_remote_code)
    print(f"serving model '{app.state.model_name}' through the OpenAI API at http://{host}:{port}/v1", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
