"""Prompts longer than the model's context, under a declared policy that is part of the run's identity.

"drop-shots" drops few-shot examples from the end until the prompt fits; a question too long even alone keeps its
end. "truncate-left" keeps every example and cuts tokens from the start, as lm-evaluation-harness does. In both, a
cut is measured per continuation, as the harnesses do (lm-eval keeps the last max_length + 1 tokens of context +
continuation and feeds all but the last; OpenCompass cuts each choice's whole text to max_seq_len), so a question
whose continuations differ in length can have one context per length: those are its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from pandian.core.prompts import Prompt, prompt_hash

Policy = Literal["drop-shots", "truncate-left"]
POLICIES = ("drop-shots", "truncate-left")


@dataclass(frozen=True)
class Part:
    ctx: tuple[int, ...]
    conts: tuple[int, ...]  # indices of the question's continuations scored on this context
    cut: int = 0  # tokens cut from the start of the context


@dataclass(frozen=True)
class Fitted:
    ids: tuple[tuple[int, ...], ...]  # token ids of each continuation
    parts: tuple[Part, ...]
    n_shots: int
    cut: int  # tokens cut from the start (the most over its continuations); 0: nothing cut
    prompt_hash: str


def room(rule: str) -> int:
    """Tokens of context + continuation a model of context L can take, minus L. lm-eval and pandian feed all but
    the last scored token (L + 1); OpenCompass counts the whole text against max_seq_len (L)."""
    return 0 if rule == "opencompass" else 1


def fit_prompts(encode: Callable, limit: int, prompts: Sequence[Prompt], k: int, rule: str, policy: Policy,
                chat: Callable[[str], str] | None = None, reserve: int | None = None) -> list[Fitted]:
    """encode(contexts, continuations, rule) -> [(context ids, [continuation ids])], as the backends provide.
    reserve: generation, which scores no continuation and keeps `reserve` tokens free for the answer."""
    if policy not in POLICIES:
        raise ValueError(f"unknown overflow policy {policy!r}: use {' or '.join(POLICIES)}")
    slack = room(rule)
    shots = [k] * len(prompts)
    done: dict[int, Fitted] = {}
    pending = list(range(len(prompts)))
    while pending:
        texts = [prompts[i].text(shots[i]) for i in pending]
        if chat is not None:
            texts = [chat(t) for t in texts]
        conts_of = [() if reserve is not None else prompts[i].continuations for i in pending]
        encoded = encode(texts, conts_of, rule)
        retry = []
        for i, text, scored, (ctx, conts) in zip(pending, texts, conts_of, encoded):
            after = [len(c) - slack for c in conts] or [reserve or 0]  # tokens the model reads after the context
            cuts = [max(0, len(ctx) + n - limit) for n in after]
            if max(cuts) and policy == "drop-shots" and shots[i] > 0:
                shots[i] -= 1
                retry.append(i)
                continue
            by_cut: dict[int, list[int]] = {cuts[0]: []} if not conts else {}
            for j, cut in enumerate(cuts[:len(conts)]):
                by_cut.setdefault(cut, []).append(j)
            parts = tuple(Part(tuple(ctx[cut:]), tuple(js), cut) for cut, js in sorted(by_cut.items()))
            done[i] = Fitted(tuple(tuple(c) for c in conts), parts, shots[i], max(cuts), prompt_hash(text, scored))
        pending = retry
    return [done[i] for i in range(len(prompts))]
