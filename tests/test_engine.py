"""The fast path is exact: prefix reuse, batching and LM-head-at-answer-only give the same letters and
log-probabilities (within 1e-4, fp32) as a plain forward over each question's full prompt, on real CMMLU questions."""

from __future__ import annotations

import pytest
import torch

from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.spec import load_spec
from pandian.store import ResultStore

SUBJECTS = ["agronomy", "college_law", "elementary_mathematics"]


def run(model, data_dir, db, **kw):
    opts = EvalOptions(data_dir=data_dir, shots=5, subjects=SUBJECTS, limit=25, prompt_format="lm-eval", **kw)
    return {r.qid: r for r in evaluate(model, load_spec("cmmlu"), opts, ResultStore(db)).records}


def assert_same(a, b, tol=1e-4):
    assert a.keys() == b.keys() and len(a) == 75
    for qid in a:
        assert a[qid].pred == b[qid].pred, qid
        assert max(abs(x - y) for x, y in zip(a[qid].logprobs, b[qid].logprobs)) < tol, qid


def reference_logprobs(model, ctx, conts):
    """Summed log-prob of each continuation from one plain forward over context + continuation."""
    out = []
    for cont in conts:
        with torch.no_grad():
            lp = torch.log_softmax(model.model(torch.tensor([ctx + cont])).logits[0].float(), -1)
        out.append(sum(lp[len(ctx) - 1 + t, tok].item() for t, tok in enumerate(cont)))
    return out


def test_prefix_reuse_matches_plain_forward(tiny_model, data_dir, tmp_path):
    fast = run(tiny_model, data_dir, tmp_path / "a.db")
    plain = run(tiny_model, data_dir, tmp_path / "b.db", reuse_prefix=False)
    assert_same(fast, plain)


def test_batch_size_does_not_change_results(tiny_model, data_dir, tmp_path):
    assert_same(run(tiny_model, data_dir, tmp_path / "a.db", batch_size=1),
                run(tiny_model, data_dir, tmp_path / "b.db", batch_size=64))


def test_engine_matches_an_independent_full_forward(tiny_model, data_dir, tmp_path):
    """Reference computed here without the engine: one forward per question over its whole prompt."""
    from pandian.core.data import load_split
    from pandian.core.prompts import render

    spec = load_spec("cmmlu")
    fast = run(tiny_model, data_dir, tmp_path / "a.db")
    pool = {}
    for s in load_split(spec, data_dir, "dev", SUBJECTS).questions:
        pool.setdefault(s.subject, []).append(s)
    questions = load_split(spec, data_dir, "test", SUBJECTS).questions
    checked = 0
    for q in questions[::7]:
        if q.qid not in fast:
            continue
        p = render(spec, spec.prompts["lm-eval"], q, pool[q.subject][:5])
        (ctx, conts), = tiny_model.tokenize([p.text()], [p.continuations], "lm-eval")
        ref = reference_logprobs(tiny_model, ctx, conts)
        assert max(abs(x - y) for x, y in zip(ref, fast[q.qid].logprobs)) < 1e-4
        checked += 1
    assert checked >= 8


def test_choice_text_scoring_matches_full_forward(tiny_model, data_dir, tmp_path):
    """Multi-token continuations (each choice's text): summed log-probs equal a full forward per choice."""
    from pandian.core.data import load_split
    from pandian.core.prompts import render

    spec = load_spec("cmmlu")
    opts = EvalOptions(data_dir=data_dir, shots=2, subjects=["agronomy"], limit=6, prompt_format="lm-eval",
                       scoring="choice")
    res = evaluate(tiny_model, spec, opts, ResultStore(tmp_path / "c.db"))
    assert "accuracy_norm" in res.summary
    pool = load_split(spec, data_dir, "dev", ["agronomy"]).questions[:2]
    recs = {r.qid: r for r in res.records}
    for q in load_split(spec, data_dir, "test", ["agronomy"]).questions[:6]:
        p = render(spec, spec.prompts["lm-eval"], q, pool, scoring="choice")
        (ctx, conts), = tiny_model.tokenize([p.text()], [p.continuations], "lm-eval")
        ref = reference_logprobs(tiny_model, ctx, conts)
        assert len(max(conts, key=len)) > 1
        assert max(abs(x - y) for x, y in zip(ref, recs[q.qid].logprobs)) < 1e-4


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_on_cpu_through_the_shared_prefix(tiny_model_dir, data_dir, tmp_path, dtype):
    """bf16/fp16 on CPU take the shared-prefix attention path (fp32 log-sum-exps merged, then cast back) and give
    the letters of a plain forward, within half precision's rounding."""
    from pandian.backends import prefix_attention
    from pandian.backends.hf import load_hf_model

    model = load_hf_model(str(tiny_model_dir), dtype=dtype, device="cpu")
    assert prefix_attention.supported(model.model) and next(model.model.parameters()).dtype == getattr(torch, dtype)
    spec = load_spec("cmmlu")
    fast, plain = ({r.qid: r for r in evaluate(model, spec, EvalOptions(
        data_dir=data_dir, shots=5, subjects=["agronomy"], limit=8, reuse_prefix=reuse), ResultStore(db)).records}
        for reuse, db in ((True, tmp_path / "a.db"), (False, tmp_path / "b.db")))
    assert len(fast) == 8 and fast.keys() == plain.keys()
    for qid in fast:
        assert fast[qid].pred == plain[qid].pred, qid
        assert max(abs(x - y) for x, y in zip(fast[qid].logprobs, plain[qid].logprobs)) < 0.02, qid


def test_a_context_that_starts_elsewhere_does_not_cost_the_group_its_prefix(tiny_model):
    """One context of a group cut from the left (it starts mid-text): the others still share their prefix, and
    every score equals a plain forward."""
    from pandian.backends.base import TokenRequest

    g = torch.Generator().manual_seed(0)
    shared = tuple(torch.randint(5, 4000, (300,), generator=g).tolist())
    conts = ((30,), (31,), (32,), (33,))
    reqs = [TokenRequest(shared + tuple(torch.randint(5, 4000, (20,), generator=g).tolist()), conts, "s")
            for _ in range(6)]
    reqs.append(TokenRequest(shared[150:] + (7,) * 20, conts, "s"))  # the cut one
    scorer = tiny_model.scorer()
    got = dict(pair for batch in scorer.score(reqs) for pair in batch)
    assert scorer.stats.prefix_tokens >= 299  # the six kept their prefix
    for i, r in enumerate(reqs):
        ref = reference_logprobs(tiny_model, list(r.ctx), [list(c) for c in conts])
        assert max(abs(a - b) for a, b in zip(got[i], ref)) < 1e-4
