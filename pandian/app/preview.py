"""Prompt preview: the exact prompts and continuations a run would use, rendered from the spec and the data without
loading a model; with a tokenizer, their token counts as the model would see them."""

from __future__ import annotations

from dataclasses import dataclass

from pandian.app.lifecycle import EvalOptions, load_inputs
from pandian.app.validate import check_options
from pandian.backends.tokenize import encode_pairs
from pandian.core.prompts import render
from pandian.core.spec import BenchmarkSpec, SpecError


@dataclass
class PreviewItem:
    qid: str
    origin: str
    text: str                    # the prompt, exactly
    continuations: tuple[str, ...]  # scored continuations; empty when the model generates its answer
    answers: tuple[str, ...]     # what each continuation stands for (labels, or sets of labels)
    gold: str | None
    multi: bool
    n_shots: int
    prompt_tokens: int | None = None
    continuation_tokens: tuple[int, ...] = ()


def preview(spec: BenchmarkSpec, opts: EvalOptions, n: int, tokenizer=None,
            qids: list[str] | None = None) -> tuple[str, list[PreviewItem]]:
    """(the prompt format's name, the first n selected questions, or those named by qids, as they would be
    sent)."""
    split = opts.split or spec.splits.eval
    fmt_name = opts.prompt_format or spec.default_prompt
    check_options(spec, opts)  # the ranges eval checks (--shots -2 was a traceback here)
    fmt = spec.prompts[fmt_name]
    inputs = load_inputs(spec, opts, split)
    generative = opts.scoring == "generate" or spec.kind != "multiple_choice"
    chosen = inputs.questions[:n]
    if qids:
        by_id = {q.qid: q for q in inputs.questions}
        unknown = [x for x in qids if x not in by_id]
        if unknown:
            raise SpecError(f"{spec.name}: no question {unknown[0]!r} in the selection (ids look like "
                            f"{inputs.questions[0].qid!r})")
        chosen = [by_id[x] for x in qids]
    items = []
    for q in chosen:
        shots = inputs.shots(q)
        p = render(spec, fmt, q, shots, "letter" if generative else opts.scoring)
        conts = () if generative else p.continuations
        gold = q.answer_label if q.choices else (q.answer if q.answer is not None else q.target)
        item = PreviewItem(q.qid, q.origin, p.text(), conts, p.answers if conts else (), gold, q.multi, len(shots))
        if tokenizer is not None:
            [(ctx, cont_ids)] = encode_pairs(tokenizer, [item.text], [conts], fmt.tokenization)
            item.prompt_tokens, item.continuation_tokens = len(ctx), tuple(len(c) for c in cont_ids)
        items.append(item)
    return fmt_name, items
