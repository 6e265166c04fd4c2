"""Fitting prompts into the context under each overflow policy, with the tiny model's real tokenizer on real CMMLU
5-shot prompts and a context made small enough that they overflow."""

from __future__ import annotations

import pytest

from pandian.core.data import load_split
from pandian.core.overflow import fit_prompts
from pandian.core.prompts import render
from pandian.core.spec import load_spec


@pytest.fixture(scope="module")
def prompts(data_dir):
    spec = load_spec("cmmlu")
    qs = load_split(spec, data_dir, "test", ["agronomy"]).questions[:12]
    pool = load_split(spec, data_dir, "dev", ["agronomy"]).questions
    return {scoring: [render(spec, spec.prompts["lm-eval"], q, pool[:5], scoring) for q in qs]
            for scoring in ("letter", "choice")}


@pytest.fixture(scope="module")
def limit(tiny_model, prompts) -> int:
    """A context every 5-shot prompt overflows and every question alone fits."""
    return min(len(full_ids(tiny_model, p)[0]) for p in prompts["letter"]) - 10


def full_ids(tiny_model, p, n_shots=5):
    [(ctx, conts)] = tiny_model.tokenize([p.text(n_shots)], [p.continuations], "lm-eval")
    return ctx, conts


def test_drop_shots_keeps_whole_examples_until_the_prompt_fits(tiny_model, prompts, limit):
    fits = fit_prompts(tiny_model.tokenize, limit, prompts["letter"], 5, "lm-eval", "drop-shots")
    assert all(f.n_shots < 5 for f in fits) and all(f.cut == 0 for f in fits)
    for p, f in zip(prompts["letter"], fits):
        ctx, conts = full_ids(tiny_model, p, f.n_shots)
        [part] = f.parts
        assert part.ctx == tuple(ctx) and len(ctx) + max(len(c) for c in conts) - 1 <= limit
        if f.n_shots < 5:  # one example more would not have fitted
            bigger, bconts = full_ids(tiny_model, p, f.n_shots + 1)
            assert len(bigger) + max(len(c) for c in bconts) - 1 > limit


def test_truncate_left_keeps_every_example_and_cuts_the_start(tiny_model, prompts, limit):
    fits = fit_prompts(tiny_model.tokenize, limit, prompts["letter"], 5, "lm-eval", "truncate-left")
    assert all(f.n_shots == 5 and f.cut for f in fits)
    for p, f in zip(prompts["letter"], fits):
        ctx, conts = full_ids(tiny_model, p)
        for part in f.parts:  # " D" is two tokens in the tiny model's vocabulary: its context is cut by one more
            for j in part.conts:
                # lm-eval: the last max_length + 1 tokens of context + continuation, all but the last fed to the model
                assert part.ctx + tuple(conts[j][:-1]) == tuple((ctx + conts[j])[-(limit + 1):][:-1])
        assert f.cut == len(ctx) - min(len(part.ctx) for part in f.parts)


def test_continuations_of_different_lengths_get_their_own_cut(tiny_model, prompts, limit):
    """lm-eval truncates each (context, continuation) request by itself: a longer choice text leaves less context."""
    fits = fit_prompts(tiny_model.tokenize, limit, prompts["choice"], 5, "lm-eval", "truncate-left")
    split = [f for f in fits if len(f.parts) > 1]
    assert split
    for f in split:
        for part in f.parts:
            for j in part.conts:
                assert len(part.ctx) + len(f.ids[j]) - 1 == limit
        assert sorted(j for part in f.parts for j in part.conts) == list(range(len(f.ids)))


def test_opencompass_counts_the_whole_text_and_generation_keeps_room(tiny_model, prompts, limit, data_dir):
    spec = load_spec("cmmlu")
    qs = load_split(spec, data_dir, "test", ["agronomy"]).questions[:12]
    pool = load_split(spec, data_dir, "dev", ["agronomy"]).questions[:5]
    oc = [render(spec, spec.prompts["opencompass"], q, pool) for q in qs]
    for f in fit_prompts(tiny_model.tokenize, limit, oc, 5, "opencompass", "drop-shots"):
        assert all(len(f.parts[0].ctx) + len(c) <= limit for c in f.ids)  # OpenCompass: n <= max_seq_len
    gen = fit_prompts(tiny_model.tokenize, limit, prompts["letter"], 5, "separate", "truncate-left", reserve=64)
    assert any(f.cut for f in gen)
    for f in gen:
        assert len(f.parts[0].ctx) + 64 <= limit and f.parts[0].conts == ()
