"""A scripted OpenAI-compatible chat endpoint for tests: `answer(content) -> text` decides every reply, so a test
knows exactly what a "model" knows. Serve it with conftest.serve_in_thread."""

from __future__ import annotations

import time


def chat_app(answer):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def chat(request):
        body = await request.json()
        text = answer(body["messages"][-1]["content"])
        return JSONResponse({
            "id": "scripted", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                         "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def knowing_app(questions, right):
    """Answers each known question (its stem, its options and any context field appear in the prompt) with its
    gold letter(s) when right(subject, index) and with a wrong answer otherwise; `index` counts the question within
    its subject."""
    seen: dict[str, int] = {}
    known = []
    for q in questions:
        seen[q.subject] = seen.get(q.subject, 0) + 1
        gold = "".join(q.labels[i] for i in q.answer) if isinstance(q.answer, tuple) else q.labels[q.answer]
        texts = (q.question, *q.choices) + ((q.extra["context"],) if q.extra.get("context") else ())
        known.append((texts, q.subject, seen[q.subject] - 1, gold, q.labels))

    def answer(content: str) -> str:
        # CMMLU repeats some stems with other options, CBBQ a question over many contexts: a question is all of
        # its texts, and the longest match wins
        hits = [k for k in known if all(t in content for t in k[0])]
        _, subject, index, gold, labels = max(hits, key=lambda k: sum(map(len, k[0])))
        wrong = next((lab for lab in labels if lab not in gold), gold[1:])  # a label outside the gold set
        return f"答案：{gold if right(subject, index) else wrong}"

    return chat_app(answer)
