"""One client for every OpenAI-compatible endpoint: Chinese vendor APIs (DeepSeek, Qwen, ERNIE, Spark, GLM, ...)
and local servers (vLLM, llama.cpp, Ollama, `pandian serve-model`). Vendors differ only by a preset: base URL,
API-key variable, example model names. No class per vendor.

A model reference is `PRESET:MODEL` (`deepseek:deepseek-chat`) or `openai:MODEL` with a base URL. Retries are
ours (the SDK's are off): 408/409/429/5xx, timeouts, connection errors and malformed 200s are retried with
exponential backoff and full jitter, honouring Retry-After. A call that still fails comes back with `error` set and
no text: it is never turned into an answer, never cached, and a rerun retries it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Iterator

from pandian.backends.api_protocol import MalformedResponse, choice_logprobs, parse_response, retry_after_seconds
from pandian.backends.base import GenerationRequest, GenerationResult
from pandian.core.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    base_url: str
    key_env: str | None           # None: a local server that needs no key (its *_API_KEY is used when set)
    models: tuple[str, ...]       # examples, not a whitelist
    note: str = ""
    price_in: float | None = None     # per 1M tokens; left None: prices change too often to hard-code
    price_out: float | None = None


# Documented OpenAI-compatible base URLs as of 2025-2026.
PRESETS: dict[str, Preset] = {
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", ("deepseek-chat", "deepseek-reasoner")),
    "qwen": Preset("https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY",
                   ("qwen-max", "qwen-plus", "qwen-turbo"),
                   "international accounts: https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
    "ernie": Preset("https://qianfan.baidubce.com/v2", "QIANFAN_API_KEY",
                    ("ernie-4.5-turbo-128k", "ernie-4.0-turbo-8k", "ernie-speed-128k"),
                    "Qianfan v2 API key (bce-v3/ALTAK-...), not the v1 AK/SK pair"),
    # Spark's key is the console's APIPassword (older docs: 'APIKey:APISecret'); X1 models use .../v2.
    "spark": Preset("https://spark-api-open.xf-yun.com/v1", "SPARK_API_PASSWORD",
                    ("4.0Ultra", "generalv3.5", "lite"), "X1 reasoning models: https://spark-api-open.xf-yun.com/v2"),
    "zhipu": Preset("https://open.bigmodel.cn/api/paas/v4", "ZHIPUAI_API_KEY",
                    ("glm-4-plus", "glm-4-flash", "glm-4.5")),
    "baichuan": Preset("https://api.baichuan-ai.com/v1", "BAICHUAN_API_KEY", ("Baichuan4-Turbo", "Baichuan4")),
    "moonshot": Preset("https://api.moonshot.cn/v1", "MOONSHOT_API_KEY", ("moonshot-v1-8k", "kimi-k2-0905-preview")),
    # Unsure: 360's docs and third-party clients show both api.360.cn and ai.360.cn; api.360.cn/v1 is the older one.
    "360": Preset("https://api.360.cn/v1", "AI360_API_KEY", ("360gpt2-pro", "360gpt-pro", "360gpt-turbo")),
    "yi": Preset("https://api.lingyiwanwu.com/v1", "YI_API_KEY", ("yi-lightning", "yi-large")),
    "vllm": Preset("http://127.0.0.1:8000/v1", None, ("Qwen/Qwen2.5-7B-Instruct",),
                   "`vllm serve`; `pandian serve-model` listens there too"),
    "llamacpp": Preset("http://127.0.0.1:8080/v1", None, ("local-model",), "llama-server"),
    "ollama": Preset("http://127.0.0.1:11434/v1", None, ("qwen2.5:7b",)),
}
LOCAL_KEY_ENV = {"vllm": "VLLM_API_KEY", "llamacpp": "LLAMACPP_API_KEY", "ollama": "OLLAMA_API_KEY"}
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"

RETRY_STATUS = {408, 409, 429}


class APIConfigError(InputError):
    pass


@dataclass(frozen=True)
class Endpoint:
    model: str
    base_url: str = field(repr=False)  # as given: it may hold user:password@
    api_key: str = field(repr=False)
    preset: str


def resolve_ref(ref: str, base_url: str | None = None, api_key: str | None = None) -> Endpoint:
    """`PRESET:MODEL` or `openai:MODEL` -> model, base URL and key. A preset's own variable supplies its key;
    OPENAI_API_KEY is used only for `openai:` so that an OpenAI key is never sent to another vendor's host."""
    if ":" not in ref:
        raise APIConfigError(f"'{ref}' is not an API model reference: write PRESET:MODEL (presets: "
                             f"{', '.join(PRESETS)}) or openai:MODEL with --base-url")
    preset, model = ref.split(":", 1)  # the model part may hold colons itself (ollama's qwen2.5:7b)
    if preset == "openai":
        url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL
        key_env, required = "OPENAI_API_KEY", not _is_loopback(url)
    elif preset in PRESETS:
        p = PRESETS[preset]
        url = base_url or p.base_url
        key_env, required = (p.key_env, True) if p.key_env else (LOCAL_KEY_ENV[preset], False)
    else:
        raise APIConfigError(f"unknown API preset '{preset}' in '{ref}': use one of {', '.join(PRESETS)}, "
                             "or openai:MODEL with --base-url URL for any other OpenAI-compatible server")
    if not model:
        raise APIConfigError(f"'{ref}' names no model: write {preset}:MODEL")
    key = api_key or os.environ.get(key_env) or ""
    if not key and required:
        raise APIConfigError(f"{ref}: no API key: set the environment variable {key_env}")
    # The SDK refuses an empty key; local servers ignore it.
    return Endpoint(model, url.rstrip("/"), key or "no-key", preset)


def split_credentials(url: str) -> tuple[str, tuple[str, ...]]:
    """(`url` without its `user:password@`, the secrets it held). The clean URL is what pandian stores, prints,
    hashes into a run's identity and keys its cache by; credentials never reach a file or a terminal."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, ()
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    # with a password the user name is an account name; alone it is the token itself (http://TOKEN@host)
    raw = [userinfo, password] if has_password else [userinfo]
    secrets = {x for s in raw for x in (s, unquote(s)) if x}
    return urlunsplit(parts._replace(netloc=host)), tuple(sorted(secrets, key=len, reverse=True))


def _basic_auth(url: str):
    """httpx's Basic auth from a URL's `user:password@` (what the URL alone would have sent), or None."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


class RateLimiter:
    """At most `rpm` request starts per minute, evenly spaced; and a shared pause after a 429, so that the other
    workers wait out the server's Retry-After too instead of hammering it."""

    def __init__(self, rpm: float | None):
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def wait(self, stop: threading.Event) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next, self._paused_until)
            if self.interval:
                self._next = start + self.interval
        if start > now:
            stop.wait(start - now)


class OpenAIBackend:
    """Chat or text completions from any OpenAI-compatible endpoint, with concurrency, rate limit, retries,
    a response cache and usage accounting."""

    def __init__(self, model: str, base_url: str, api_key: str = "no-key", *, cache=None,
                 concurrency: int = 8, rpm: float | None = None, max_retries: int = 5, timeout: float = 120.0,
                 backoff_base: float = 1.0, backoff_cap: float = 60.0, retry_after_cap: float = 120.0,
                 price_in: float | None = None, price_out: float | None = None):
        from openai import DefaultHttpxClient, OpenAI

        self.model = model
        self.base_url, self._url_secrets = split_credentials(base_url.rstrip("/"))
        self._key = api_key or "no-key"
        self.timeout = timeout
        # credentials in the URL travel as an auth setting, so that no URL the SDK or httpx logs carries them
        auth = _basic_auth(base_url)
        self.client = OpenAI(base_url=self.base_url, api_key=self._key, max_retries=0, timeout=timeout,
                             http_client=DefaultHttpxClient(auth=auth, timeout=timeout) if auth else None)
        self.cache = cache  # the results store's response cache (cached_response / cache_response), or None
        self.concurrency, self.max_retries = max(1, concurrency), max_retries
        self.backoff_base, self.backoff_cap, self.retry_after_cap = backoff_base, backoff_cap, retry_after_cap
        self.price_in, self.price_out = price_in, price_out
        self.limiter = RateLimiter(rpm)
        self._lock = threading.Lock()
        self._usage = {"requests": 0, "calls": 0, "cache_hits": 0, "failures": 0, "prompt_tokens": 0,
                       "completion_tokens": 0}

    @classmethod
    def from_ref(cls, ref: str, base_url: str | None = None, api_key: str | None = None, **kwargs) -> OpenAIBackend:
        ep = resolve_ref(ref, base_url, api_key)
        preset = PRESETS.get(ep.preset)
        if preset:
            kwargs.setdefault("price_in", preset.price_in)
            kwargs.setdefault("price_out", preset.price_out)
        return cls(ep.model, ep.base_url, ep.api_key, **kwargs)

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def identity(self) -> dict:
        return {"model": self.model, "base_url": self.base_url, "backend": "openai-api"}

    @property
    def name(self) -> str:
        return self.model

    @property
    def max_length(self) -> None:
        return None  # an endpoint's context is its own business: a prompt too long fails as a call

    def resources(self) -> dict:
        return {"usage": self.usage_summary()}

    def _secrets(self) -> tuple[str, ...]:
        return ((self._key,) if self._key and self._key != "no-key" else ()) + self._url_secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return re.sub(r"((?:Bearer|Basic)\s+)[^\s'\",}]+", r"\1***", text)

    # -------------------------------------------------------------- requests

    def build_body(self, request: GenerationRequest) -> tuple[str, dict]:
        """("chat" | "completions", the JSON body sent) for one request; temperature defaults to 0."""
        chat = request.messages is not None
        body: dict = {"model": self.model, "temperature": request.temperature or 0}
        if chat:
            body["messages"] = [dict(m) for m in request.messages]
        else:
            body["prompt"] = request.prompt
        body["max_tokens"] = request.max_tokens
        for k in ("top_p", "seed"):
            if getattr(request, k) is not None:
                body[k] = getattr(request, k)
        if request.stop:
            body["stop"] = list(request.stop)
        if request.logprobs or request.top_logprobs:
            if chat:
                body["logprobs"] = True
                if request.top_logprobs:
                    body["top_logprobs"] = request.top_logprobs
            else:  # the text endpoint's logprobs is the number of alternatives
                body["logprobs"] = int(request.top_logprobs)
        return ("chat" if chat else "completions"), body

    def generate(self, requests: list[GenerationRequest]) -> Iterator[tuple[int, GenerationResult]]:
        """Yield (index, result) as results arrive: cached ones first, then calls in completion order.
        Identical requests in one batch cost one call."""
        prepared = [self.build_body(r) for r in requests]  # validate everything before any call
        pending: dict[str, list[int]] = {}
        for i, (endpoint, body) in enumerate(prepared):
            key = request_key(self.base_url, endpoint, body)
            with self._lock:
                self._usage["requests"] += 1
            if key in pending:
                pending[key].append(i)
                continue
            cached = self.cache.cached_response(key) if self.cache else None
            if cached is not None:
                with self._lock:
                    self._usage["cache_hits"] += 1
                _, result = parse_response(json.dumps(cached), endpoint == "chat")
                yield i, _result(result, attempts=0, cached=True)
                continue
            pending[key] = [i]
        if not pending:
            return
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(pending)), thread_name_prefix="pandian-api")
        try:
            futures = {pool.submit(self._call, key, *prepared[idx[0]], stop): idx for key, idx in pending.items()}
            for fut in as_completed(futures):
                result = fut.result()
                for j, i in enumerate(futures[fut]):
                    if j:
                        with self._lock:
                            self._usage["cache_hits"] += 1
                    yield i, replace(result)
        finally:
            stop.set()  # a consumer that stops early cancels the backoff sleeps of calls still in flight
            pool.shutdown(wait=True, cancel_futures=True)

    def _call(self, key: str, endpoint: str, body: dict, stop: threading.Event) -> dict:
        import openai

        chat = endpoint == "chat"
        api = self.client.chat.completions if chat else self.client.completions
        error = "cancelled"
        attempt = 0
        for attempt in range(1, self.max_retries + 2):
            if stop.is_set():
                break
            self.limiter.wait(stop)
            with self._lock:
                self._usage["calls"] += 1
            delay, rate_limited = None, False
            try:
                raw = api.with_raw_response.create(**body)
                data, result = parse_response(raw.text, chat)
            except openai.APIStatusError as e:
                status = e.status_code
                error = self.redact(f"HTTP {status} from {self.base_url}: {_error_message(e)}")
                quota = status == 429 and "insufficient_quota" in str(e.body)
                if quota or not (status in RETRY_STATUS or status >= 500):
                    break  # bad request, auth, unknown model, no quota left: retrying cannot help
                delay = retry_after_seconds(e.response.headers)
                rate_limited = status == 429
            except openai.APITimeoutError:
                error = f"timed out after {self.timeout}s ({self.base_url})"
            except openai.APIConnectionError as e:
                error = self.redact(f"connection error ({self.base_url}): {e.__cause__ or e}")
            except MalformedResponse as e:
                error = self.redact(f"malformed response from {self.base_url}: {e}")
            else:
                self._account(result["usage"])
                if self.cache:
                    # exact key only: the Bearer pattern could alter a real answer that talks about HTTP auth
                    text = json.dumps(data, ensure_ascii=False)
                    for secret in self._secrets():
                        text = text.replace(secret, "***")
                    stored = json.loads(text)
                    self.cache.cache_response(key, self.base_url, endpoint, body, stored)
                return _result(result, attempts=attempt, cached=False)
            if attempt > self.max_retries:
                break
            if delay is None:
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
            delay = min(delay, self.retry_after_cap)
            if rate_limited:
                self.limiter.pause(delay)
            log.info("%s %s attempt %d failed (%s); retrying in %.2fs", self.base_url, self.model, attempt, error,
                     delay)
            stop.wait(delay)
        with self._lock:
            self._usage["failures"] += 1
        log.warning("%s %s failed after %d attempts: %s", self.base_url, self.model, attempt, error)
        return GenerationResult.failure(error, attempts=attempt)

    # -------------------------------------------------------------- accounting

    def _account(self, usage: dict) -> None:
        with self._lock:
            self._usage["prompt_tokens"] += usage["prompt_tokens"]
            self._usage["completion_tokens"] += usage["completion_tokens"]

    def usage_summary(self) -> dict:
        """Totals for this instance: requests, HTTP calls made (retries included), cache hits, failures, tokens
        paid for (cache hits cost nothing), and cost when per-1M-token prices are known."""
        with self._lock:
            out = dict(self._usage)
        cost = None
        if self.price_in is not None and self.price_out is not None:
            cost = (out["prompt_tokens"] * self.price_in + out["completion_tokens"] * self.price_out) / 1e6
        return {**out, "cost": cost, "price_in": self.price_in, "price_out": self.price_out}

    def close(self) -> None:
        self.client.close()


def request_key(base_url: str, endpoint: str, body: dict) -> str:
    """The cache key: everything that reaches the endpoint and can change the answer (base URL, endpoint, model and
    the whole body with its sampling parameters); never the API key."""
    canonical = json.dumps({"base_url": base_url.rstrip("/"), "endpoint": endpoint, "body": body},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _result(parsed: dict, attempts: int, cached: bool) -> GenerationResult:
    usage = parsed["usage"]
    return GenerationResult(text=parsed["text"], finish_reason=parsed["finish_reason"],
                            prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                            logprobs=parsed["logprobs"], reasoning=parsed.get("reasoning"), attempts=attempts,
                            cached=cached)


def _error_message(e) -> str:
    body = e.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    try:
        return e.response.text[:500] or e.message
    except Exception:
        return str(e.message)[:500]


__all__ = ["PRESETS", "Preset", "Endpoint", "OpenAIBackend", "resolve_ref", "choice_logprobs", "APIConfigError",
           "MalformedResponse", "parse_response", "retry_after_seconds"]
