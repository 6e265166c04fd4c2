"""Tokenization shared by the backends that score text (transformers, llama.cpp, vLLM): a helper, not a base class.

A tokenizer here is anything with `encode(text, add_special_tokens=...)`, `bos_token`, and optionally the fast
(Rust) `backend_tokenizer` of transformers, which encodes a batch in parallel.
"""

from __future__ import annotations

CHUNK = 1024  # texts per batch call: a fast tokenizer's Encoding objects are large


def encode_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text with the tokenizer's special tokens. A text that already starts with the BOS token,
    as a chat template's output may, gets no second one."""
    bos = getattr(tokenizer, "bos_token", None)
    # The Rust tokenizer directly: transformers' per-encoding Python wrapping costs more than the tokenizing.
    fast = getattr(tokenizer, "backend_tokenizer", None)
    out: list = [None] * len(texts)
    for special in (True, False):
        idx = [i for i, t in enumerate(texts) if (not (bos and t.startswith(bos))) == special]
        for start in range(0, len(idx), CHUNK):
            chunk = idx[start:start + CHUNK]
            batch = [texts[i] for i in chunk]
            if fast is not None:
                ids = [e.ids for e in fast.encode_batch(batch, add_special_tokens=special)]
            else:
                ids = [tokenizer.encode(t, add_special_tokens=special) for t in batch]
            for i, x in zip(chunk, ids):
                out[i] = x
    return out


def encode_pairs(tokenizer, contexts: list[str], continuations: list[tuple[str, ...]],
                 rule: str) -> list[tuple[list[int], list[list[int]]]]:
    """Token ids of each context and its continuations. rule "separate": tokenized apart, the continuation
    without special tokens. rule "lm-eval": as lm-evaluation-harness does it: trailing spaces move from the
    context to the continuation, context+continuation is encoded whole, and the continuation is what follows
    the context's own encoding. rule "opencompass": as OpenCompass's perplexity inferencer does it: each
    context+continuation is encoded whole, and the context is the longest token prefix common to all of a question's
    encodings (so the split never depends on how the context alone would tokenize)."""
    if rule == "opencompass":
        return _common_prefix_split(tokenizer, contexts, continuations)
    if rule == "separate":
        cache: dict[str, list[int]] = {}
        for conts in continuations:
            for c in conts:
                if c not in cache:
                    cache[c] = tokenizer.encode(c, add_special_tokens=False)
        ctx_ids = encode_texts(tokenizer, contexts)
        return [(ctx, [cache[c] for c in conts]) for ctx, conts in zip(ctx_ids, continuations)]
    moved_ctx, moved_conts = [], []
    for ctx, conts in zip(contexts, continuations):
        n = len(ctx) - len(ctx.rstrip())
        moved_ctx.append(ctx[: len(ctx) - n])
        moved_conts.append([ctx[len(ctx) - n:] + c for c in conts])
    ctx_ids = encode_texts(tokenizer, moved_ctx)
    whole = iter(encode_texts(tokenizer, [ctx + c for ctx, conts in zip(moved_ctx, moved_conts) for c in conts]))
    return [(ids, [next(whole)[len(ids):] for _ in conts]) for ids, conts in zip(ctx_ids, moved_conts)]


def _common_prefix_split(tokenizer, contexts, continuations):
    whole = iter(encode_texts(tokenizer, [ctx + c for ctx, conts in zip(contexts, continuations) for c in conts]))
    out = []
    for conts in continuations:
        ids = [next(whole) for _ in conts]
        n = min(len(x) for x in ids) - 1  # every continuation keeps at least its last token
        first = ids[0]
        for x in ids[1:]:
            n = next((i for i in range(n) if x[i] != first[i]), n)
        out.append((first[:n], [x[n:] for x in ids]))
    return out


def apply_chat_template(tokenizer, messages) -> str:
    """The prompt text of chat messages through the tokenizer's own template, ready for generation."""
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
