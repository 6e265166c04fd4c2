"""`pandian serve-model`: a local Hugging Face causal LM behind an OpenAI-compatible HTTP API (`/v1/models`,
`/v1/chat/completions`, `/v1/completions`), so that API-only and local models go through the same client.

One request is generated at a time (a KV-cached greedy or sampled loop), which keeps greedy answers independent of
load. Logprobs are the model's own (log-softmax of the raw logits, before temperature and top-p), as vLLM reports
them by default. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import hmac
import inspect
import threading
import time
import uuid
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from .backends.hf import HFModel, load_hf_model

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


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class Generator:
    """Token-by-token generation with the KV cache, recording each token's log-prob and the top alternatives."""

    def __init__(self, hf: HFModel):
        self.hf = hf
        self.lock = threading.Lock()
        eos = getattr(hf.model.generation_config, "eos_token_id", None)
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        self.eos = {int(e) for e in [*eos, hf.tokenizer.eos_token_id] if e is not None}
        # transformers 5 renamed past_key_values to cache; older versions and remote code keep the old name
        params = inspect.signature(hf.model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"

    def token_text(self, tok: int) -> str:
        return self.hf.tokenizer.decode([tok])

    @torch.no_grad()
    def run(self, ids: list[int], max_tokens: int | None, temperature: float, top_p: float, stop: list[str],
            top_k: int, seed: int | None) -> dict:
        room = self.hf.max_length - len(ids)
        if room <= 0:
            raise RequestError(400, f"the prompt has {len(ids)} tokens; this model's context is "
                                    f"{self.hf.max_length}: shorten it")
        max_tokens = min(max_tokens or room, room)
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        with self.lock:
            return self._loop(ids, max_tokens, temperature, top_p, stop, top_k, rng)

    def _loop(self, ids, max_tokens, temperature, top_p, stop, top_k, rng) -> dict:
        model, dev, tok_ = self.hf.model, self.hf.device, self.hf.tokenizer
        inputs = torch.tensor([ids], device=dev)
        past, out_ids, steps, ends = None, [], [], []
        text, finish = "", "length"
        for _ in range(max_tokens):
            out = model(input_ids=inputs, use_cache=True, **({self.cache_kwarg: past} if past is not None else {}))
            past = getattr(out, "cache", None)
            past = out.past_key_values if past is None else past
            logits = out.logits[0, -1].float().cpu()
            logp = torch.log_softmax(logits, -1)
            tok = int(torch.argmax(logits)) if temperature == 0 else _sample(logits, temperature, top_p, rng)
            if tok in self.eos:
                finish = "stop"
                break
            top = torch.topk(logp, top_k) if top_k else None
            steps.append((tok, float(logp[tok]),
                          [] if top is None else [(int(i), float(v)) for v, i in zip(top.values, top.indices)]))
            out_ids.append(tok)
            if stop:  # decoding the whole text each step is what finds a stop string split across tokens
                text = tok_.decode(out_ids, skip_special_tokens=True)
                ends.append(len(text))
                cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
                    # keep the tokens wholly before the stop string; the one it starts inside is dropped
                    steps = [s for s, end in zip(steps, ends) if end <= cut]
                    break
            inputs = torch.tensor([[tok]], device=dev)
        if not stop:
            text = tok_.decode(out_ids, skip_special_tokens=True)
        return {"text": text, "finish_reason": finish, "steps": steps, "prompt_tokens": len(ids),
                "completion_tokens": len(out_ids)}


def _sample(logits: torch.Tensor, temperature: float, top_p: float, rng) -> int:
    probs = torch.softmax(logits / temperature, -1)
    if top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        sorted_p[(sorted_p.cumsum(-1) - sorted_p) >= top_p] = 0  # keep the smallest set reaching top_p
        return int(order[torch.multinomial(sorted_p, 1, generator=rng)])
    return int(torch.multinomial(probs, 1, generator=rng))


def create_app(model_dir: str, device: str = "cpu", dtype: str = "auto", served_name: str | None = None,
               api_key: str | None = None, trust_remote_code: bool = False):
    """A FastAPI app serving the model in `model_dir` (anything `load_hf_model` accepts) under `served_name`
    (default: the directory's name). With `api_key`, requests must send `Authorization: Bearer <key>`."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    hf = load_hf_model(model_dir, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    gen = Generator(hf)
    name = served_name or (Path(model_dir).name if Path(model_dir).is_dir() else model_dir)
    app = FastAPI(title=f"pandian: {name}")
    app.state.generator, app.state.model_name = gen, name

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

    def usage(r: dict) -> dict:
        return {"prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
                "total_tokens": r["prompt_tokens"] + r["completion_tokens"]}

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
            prompt = hf.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as e:  # templates raise on roles or orders they do not support
            raise RequestError(400, f"{name}'s chat template rejected these messages: {e}") from None
        ids = hf._encode_texts([prompt])[0]
        top_k = (body.top_logprobs or 0) if body.logprobs else 0
        r = gen.run(ids, body.max_completion_tokens or body.max_tokens, body.temperature, body.top_p, stop,
                    top_k, body.seed)
        logprobs = None
        if body.logprobs:
            logprobs = {"content": [{**_token(gen, t, lp), "top_logprobs": [_token(gen, i, v) for i, v in top]}
                                    for t, lp, top in r["steps"]], "refusal": None}
        choice = {"index": 0, "message": {"role": "assistant", "content": r["text"]}, "logprobs": logprobs,
                  "finish_reason": r["finish_reason"]}
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
        ids = hf._encode_texts(prompts)[0]
        r = gen.run(ids, body.max_tokens, body.temperature, body.top_p, stop, body.logprobs or 0, body.seed)
        logprobs = None
        if body.logprobs is not None:
            texts = [gen.token_text(t) for t, _, _ in r["steps"]]
            offsets = [sum(len(x) for x in texts[:i]) for i in range(len(texts))]
            tops = []
            for _, _, top in r["steps"]:
                d: dict[str, float] = {}
                for i, v in top:  # two ids can decode alike (partial UTF-8): keep the higher
                    d[gen.token_text(i)] = max(v, d.get(gen.token_text(i), float("-inf")))
                tops.append(d)
            logprobs = {"tokens": texts, "token_logprobs": [lp for _, lp, _ in r["steps"]], "top_logprobs": tops,
                        "text_offset": offsets}
        choice = {"index": 0, "text": r["text"], "logprobs": logprobs, "finish_reason": r["finish_reason"]}
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": name, "choices": [choice], "usage": usage(r)}

    return app


def _text_of(content) -> str:
    """A message's text: OpenAI allows a list of parts ({"type": "text", "text": ...}); only text is served."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


def _token(gen: Generator, tok: int, logprob: float) -> dict:
    text = gen.token_text(tok)
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, device: str = "auto", dtype: str = "auto",
          served_name: str | None = None, api_key: str | None = None, trust_remote_code: bool = False) -> None:
    """Load the model and serve it until interrupted: `--base-url http://HOST:PORT/v1`."""
    import uvicorn

    app = create_app(model_dir, device=device, dtype=dtype, served_name=served_name, api_key=api_key,
                     trust_remote_code=trust_remote_code)
    print(f"serving model '{app.state.model_name}' through the OpenAI API at http://{host}:{port}/v1", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="pandian serve-model", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="local directory, hub id or modelscope:ID")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--served-name", default=None)
    p.add_argument("--api-key", default=None, help="require this bearer key from clients")
    p.add_argument("--trust-remote-code", action="store_true")
    a = p.parse_args(argv)
    serve(a.model, a.host, a.port, a.device, a.dtype, a.served_name, a.api_key, a.trust_remote_code)


if __name__ == "__main__":
    main()
