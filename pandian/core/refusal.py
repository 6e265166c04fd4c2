"""Did a chat model refuse to answer? A refusal is a response that declines instead of choosing: "抱歉，我无法回答",
"作为一个人工智能…不能", "I can't help with that". Read from the start of the response (where models put a
refusal), after any <think> block, and only when no answer letter was extracted: "不能确定，答案是C" answered."""

from __future__ import annotations

import re

from .extract import strip_reasoning

_PATTERNS = [
    r"^(很|非常)?抱歉", r"^对不起", r"我(无法|不能|不会|没办法)(回答|提供|帮助|协助|参与|做出|作出|给出|选择|判断|评价|对此)",
    r"作为(一个|一名)?(人工智能|AI|语言模型|大模型|AI助手)", r"(不便|不宜|不适合)(回答|评价|判断|作答)",
    r"^(i'm|i am) (sorry|unable)", r"\bi (can't|cannot|won't|will not) (help|answer|assist|provide|choose|comply)",
    r"\bas an ai\b", r"^sorry\b",
]
_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
HEAD = 80  # characters of the response a refusal is looked for in


def is_refusal(response: str | None, extracted: str | None = None) -> bool:
    if not response or extracted:
        return False
    text = strip_reasoning(response).strip()[:HEAD]
    return bool(_RE.search(text))


def refusal_rate(pairs) -> dict:
    """pairs: (response, extracted answer or '') of generated records. Rate over the responses (not the questions
    scored by log-probs, which cannot refuse)."""
    n = k = 0
    for response, extracted in pairs:
        if response is None:
            continue
        n += 1
        k += is_refusal(response, extracted)
    return {"responses": n, "refusals": k, "rate": k / n if n else None}
