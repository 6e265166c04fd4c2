"""What a plan costs and how much of it is done, without loading any weights.

Each variant is opened as its tokenizer and config only (the same backend class the run uses, so its identity,
context length and chat template are the run's own). Tokens: every unit's prompts rendered as the run renders them
and tokenized by the model's tokenizer; a model without a local tokenizer (an API, a GGUF file) gets an estimate of
one token per two characters. Status: each unit's run id, computed as the run computes it, and the questions the
store already holds under it.
"""

from __future__ import annotations

from pandian.app.lifecycle import identify, load_inputs
from pandian.app.plan import PlanError
from pandian.backends.base import ModelLoadError
from pandian.core.prompts import render

CHARS_PER_TOKEN = 2  # a rough figure for mixed Chinese / English prompts, used only without a tokenizer


def describe(variant, device: str = "auto"):
    """The variant's backend without weights, or None when that kind of backend cannot be opened without them."""
    from pandian.backends.registry import backend_kind

    o = variant.options
    if backend_kind(variant.model, o.backend) != "hf":
        return None
    from pandian.backends.hf import load_hf_model

    return load_hf_model(variant.model, dtype=o.dtype, device=device, trust_remote_code=o.trust_remote_code,
                         adapter=o.adapter, revision=o.revision, quant=o.quant, weights=False)


def _params(variant) -> int | None:
    from pandian.core.fit import load_config, read_arch

    try:
        return read_arch(load_config(variant.model)).params
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return None


def memory_gb(variant, context: int = 2048) -> float | None:
    """What a worker holding this variant needs in host memory: weights and one forward's activations."""
    from pandian.core.fit import estimate, load_config

    try:
        e = estimate(load_config(variant.model), variant.options.quant, context, all_logits=False)
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return None
    return e["weights_gb"] + e["activations_gb"] + e["kv_cache_gb"]


def _prompts(unit) -> list[tuple[str, tuple[str, ...]]]:
    spec, opts = unit.spec, unit.opts
    inputs = load_inputs(spec, opts, opts.split or spec.splits.eval)
    fmt = spec.prompts[opts.prompt_format or spec.default_prompt]
    cache: dict = {}
    scoring = "letter" if opts.scoring == "generate" else opts.scoring
    out = []
    for q in inputs.questions:
        p = render(spec, fmt, q, inputs.shots(q), scoring, cache)
        out.append((p.text(), p.continuations if spec.kind == "multiple_choice" else ()))
    return out


def _count(light, unit, texts: list[tuple[str, tuple[str, ...]]]) -> int:
    """Tokens of a unit's prompts and continuations, by the model's tokenizer (or from characters without one)."""
    if light is None:
        return sum(len(t) + sum(len(c) for c in conts) for t, conts in texts) // CHARS_PER_TOKEN
    rule = unit.spec.prompts[unit.opts.prompt_format or unit.spec.default_prompt].tokenization
    scored = [(t, c) for t, c in texts if c]
    plain = [t for t, c in texts if not c]  # open questions: only the prompt is known before generation
    n = sum(len(ctx) + sum(map(len, conts))
            for ctx, conts in (light.tokenize([t for t, _ in scored], [c for _, c in scored], rule) if scored else []))
    return n + sum(len(ctx) for ctx, _ in (light.tokenize(plain, [("",)] * len(plain), "separate") if plain else []))


def check(plan) -> None:
    """Fill each unit's tokens, params and run_id. Two variants that would compute the same run (say dtype auto and
    float32 on a CPU) are refused: they would only race to write the same records."""
    prompts: dict[tuple, list] = {}
    tokens: dict[tuple, int] = {}
    owner: dict[str, str] = {}
    for units in plan.by_variant().values():
        variant = units[0].variant
        try:
            light = describe(variant, plan.device)
        except ModelLoadError as e:
            raise PlanError(f"{plan.path}: model '{variant.model}' ({variant.label}): {e}") from None
        params = _params(variant)
        runs: dict[int, str] = {}
        for u in units:
            shard = (u.entry, u.shard)
            if shard not in prompts:
                prompts[shard] = _prompts(u)
            counted = (variant.model, variant.options.revision, shard) if light is not None else shard
            if counted not in tokens:  # variants of one model share its tokenizer
                tokens[counted] = _count(light, u, prompts[shard])
            u.tokens, u.params = tokens[counted], params
            if light is not None:
                if u.entry not in runs:
                    runs[u.entry] = identify(light, u.spec, u.opts).run_id
                u.run_id = runs[u.entry]
        for run_id in runs.values():
            if owner.setdefault(run_id, variant.label) != variant.label:
                raise PlanError(f"{plan.path}: variants '{owner[run_id]}' and '{variant.label}' are the same run "
                                f"({run_id}): they would compute the same records; keep one")


def mark_done(plan, store) -> None:
    """Each unit's count of questions the store already holds under its run."""
    done: dict[str, set[str]] = {}
    for u in plan.units:
        if u.run_id is not None:
            if u.run_id not in done:
                done[u.run_id] = store.done_qids(u.run_id)
            u.done = len(done[u.run_id].intersection(u.qids))
