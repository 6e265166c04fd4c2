"""The backend contract: what a model must do for pandian, and nothing more.

A backend has an identity (what goes into a run's key), a context length, and answers in one or both ways:
- `generate`: typed requests (a prompt or chat messages, sampling settings) -> typed results (text, token counts,
  finish reason, latency, first-token log-probs when asked), batch by batch. Every backend has it.
- log-likelihood scoring, for backends that expose token log-probs of given text (transformers, llama.cpp, vLLM):
  `tokenize` the (context, continuations) pairs, then `scorer().score(TokenRequest...)` returns the log-likelihood
  of each continuation. The runner needs the token counts in between, to fit prompts into the context.
Chat templates are applied by the backend that owns the tokenizer (`apply_chat`), in one place.

Backends implement this without inheriting from each other; shared tokenization is `backends.tokenize`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterator, Protocol, Sequence, runtime_checkable

from pandian.core.errors import InputError


class ModelLoadError(InputError):
    """A model reference that cannot be turned into a backend; the message says what to do."""


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str | None = None             # a raw text prompt (base models, text completions) ...
    messages: tuple[dict, ...] | None = None  # ... or chat messages, exactly one of the two
    max_tokens: int = 256
    temperature: float = 0.0              # 0: greedy
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False                # return each generated token's log-prob ...
    top_logprobs: int = 0                 # ... with this many alternatives
    keep_last: int | None = None          # local models: feed only the prompt's last N tokens (--overflow)

    def __post_init__(self):
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a generation request needs exactly one of prompt or messages")


@dataclass
class Timing:
    """One generated batch: time to first token, the gaps between later tokens, and the whole batch's wall time."""
    batch: int
    ttft_s: float
    token_latencies_s: list[float]
    wall_s: float


@dataclass
class GenerationResult:
    text: str | None                      # None when the call failed (then `error` says why)
    finish_reason: str | None = None      # 'stop' or 'length'
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    attempts: int = 1
    cached: bool = False
    # per generated token: {"token", "logprob", "top_logprobs": [{"token", "logprob"}...]}, when asked for
    logprobs: list[dict] | None = None
    reasoning: str | None = None          # a reasoning model's separate thinking text, when the API returns it
    timing: Timing | None = field(default=None, repr=False)  # shared by the results of one local batch
    turns: list[str] | None = None        # multi-turn conversations: the answer at each turn

    @classmethod
    def failure(cls, error: str, attempts: int = 1) -> GenerationResult:
        return cls(text=None, error=error, attempts=attempts)


@dataclass(frozen=True)
class TokenRequest:
    """Score each continuation after the context, in token ids. `group` keys requests that share a long prefix
    (a subject's few-shot examples), which a scorer may compute once."""
    ctx: tuple[int, ...]
    conts: tuple[tuple[int, ...], ...]
    group: Hashable = None


class Scorer(Protocol):
    token_budget: int
    stats: object  # EngineStats: forwards, tokens, time

    def score(self, requests: Sequence[TokenRequest]) -> Iterator[list[tuple[int, list[float]]]]:
        """Yield batches of (request index, log-likelihood per continuation), in any order."""


@runtime_checkable
class Backend(Protocol):
    name: str

    @property
    def max_length(self) -> int | None: ...

    def identity(self) -> dict:
        """Everything about the model that can change a number (weights fingerprint, dtype, variant, endpoint)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, GenerationResult]]: ...

    def resources(self) -> dict:
        """Cost facts for the run record: load time, weights size, device and memory peaks, API usage."""


@runtime_checkable
class LikelihoodBackend(Backend, Protocol):
    @property
    def chat_template(self) -> str | None: ...

    def apply_chat(self, messages: Sequence[dict]) -> str: ...

    def tokenize(self, contexts: list[str], continuations: list[tuple[str, ...]],
                 rule: str) -> list[tuple[list[int], list[list[int]]]]: ...

    def scorer(self, batch_size: int | None = None, reuse_prefix: bool = True) -> Scorer: ...


def chat_messages(user_text: str, system: str | None = None) -> tuple[dict, ...]:
    return tuple(([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user_text}])


def can_score(backend) -> bool:
    return isinstance(backend, LikelihoodBackend)
