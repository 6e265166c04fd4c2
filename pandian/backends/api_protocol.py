"""The OpenAI wire protocol as pandian reads it: validating a completion body, normalizing logprobs from both
endpoints to one shape, turning first-token top_logprobs into multiple-choice scores, and Retry-After."""

from __future__ import annotations

import email.utils
import json
import math
import time


class MalformedResponse(Exception):
    pass


def retry_after_seconds(headers) -> float | None:
    """Seconds to wait from `retry-after-ms`, `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _normalize_logprobs(choice: dict, chat: bool) -> list[dict] | None:
    """Both endpoints' logprobs as one list: [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]."""
    lp = choice.get("logprobs")
    if not lp:
        return None
    if chat:
        content = lp.get("content")
        if not content:
            return None
        return [{"token": t.get("token"), "logprob": t.get("logprob"),
                 "top_logprobs": [{"token": x.get("token"), "logprob": x.get("logprob")}
                                  for x in t.get("top_logprobs") or []]} for t in content]
    tokens = lp.get("tokens") or []
    values = lp.get("token_logprobs") or [None] * len(tokens)
    tops = lp.get("top_logprobs") or [None] * len(tokens)
    return [{"token": t, "logprob": v, "top_logprobs": [{"token": k, "logprob": x} for k, x in (top or {}).items()]}
            for t, v, top in zip(tokens, values, tops)]


def parse_response(text: str, chat: bool) -> tuple[dict, dict]:
    """(raw JSON, result fields) from a 200's body; MalformedResponse when it is not a usable completion."""
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedResponse(f"body is not JSON: {text[:200]!r}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise MalformedResponse(f"no choices in body: {text[:200]!r}")
    choice = choices[0]
    finish = choice.get("finish_reason")
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict) or "content" not in message:
            raise MalformedResponse(f"choice has no message content: {text[:200]!r}")
        content = message["content"]
        if content is None and finish is None:  # null content is a real answer only with a finish reason
            raise MalformedResponse(f"empty message and no finish_reason: {text[:200]!r}")
        reasoning = message.get("reasoning_content")
    else:
        content, reasoning = choice.get("text"), None
        if content is None:
            raise MalformedResponse(f"choice has no text: {text[:200]!r}")
    usage = data.get("usage") or {}
    result = {"text": content or "", "finish_reason": finish,
              "usage": {"prompt_tokens": int(usage.get("prompt_tokens") or 0),
                        "completion_tokens": int(usage.get("completion_tokens") or 0)},
              "logprobs": _normalize_logprobs(choice, chat)}
    if reasoning:
        result["reasoning"] = reasoning
    return data, result


def choice_logprobs(logprobs: list[dict] | None, labels=("A", "B", "C", "D", "E")) -> dict[str, float] | None:
    """Per-label log-probabilities from the first generated token's top_logprobs: "A", " A", "A." and "（A" all
    count for A (their probabilities add). A label absent from the top-k gets -inf (its probability is below the
    k-th). None when the endpoint returned no top_logprobs or none of them is a label: the caller then falls back
    to generation and records which method it used."""
    if not logprobs or not logprobs[0].get("top_logprobs"):
        return None
    mass: dict[str, list[float]] = {label: [] for label in labels}
    for cand in logprobs[0]["top_logprobs"]:
        token, value = cand.get("token"), cand.get("logprob")
        if token is None or value is None:
            continue
        key = token.strip().lstrip("(（").rstrip(".)．）:：、")
        if key in mass:
            mass[key].append(float(value))
    if not any(mass.values()):
        return None
    out = {}
    for label, values in mass.items():
        if not values:
            out[label] = -math.inf
        else:
            top = max(values)
            out[label] = top + math.log(sum(math.exp(v - top) for v in values))
    return out
