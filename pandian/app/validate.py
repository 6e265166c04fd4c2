"""Everything an evaluation takes, checked before a model loads or anything is written: the options (ranges, names,
flags that do not apply to the chosen backend), the model reference's files, the spec's prompt templates, the data,
the few-shot examples and the output folder. A mistake raises an InputError naming the flag, or the file, line and
field; a flag that is merely ignored by the chosen backend comes back as a one-line warning.

`check_eval` is what an entry point calls before loading a model; `check_inputs` (the part that needs no model) is
also run by `lifecycle.evaluate` itself, so that no caller can write a run that fails half-way on its own inputs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from pandian.app.lifecycle import EvalOptions, Inputs, load_inputs, resolve_options
from pandian.backends.registry import ModelOptions, check_model
from pandian.core.errors import InputError
from pandian.core.prompts import check_prompts
from pandian.core.spec import BenchmarkSpec

SCORINGS = ("letter", "choice", "generate")


@dataclass
class Checked:
    inputs: Inputs
    warnings: list[str] = field(default_factory=list)


def check_eval(ref: str, model_opts: ModelOptions, spec: BenchmarkSpec, opts: EvalOptions,
               out: Path | None = None) -> Checked:
    opts = resolved(spec, opts)
    check_options(spec, opts)
    kind = check_model(ref, model_opts, opts.chat_template)
    warnings = check_flags(ref, kind, model_opts, opts, spec)
    check_out(out)
    return Checked(check_inputs(spec, opts), warnings)


def resolved(spec: BenchmarkSpec, opts: EvalOptions) -> EvalOptions:
    """The scoring and overflow policy the run will use (the prompt format's defaults filled in)."""
    fmt = opts.prompt_format or spec.default_prompt
    return resolve_options(spec, fmt, opts) if fmt in spec.prompts else opts


def check_options(spec: BenchmarkSpec, opts: EvalOptions) -> None:
    def need(ok: bool, message: str):
        if not ok:
            raise InputError(message)

    need(opts.shots >= 0, f"--shots {opts.shots}: the number of few-shot examples is 0 or more")
    need(opts.limit is None or opts.limit >= 1,
         f"--limit {opts.limit}: at least 1 question per subject (leave --limit out to evaluate all)")
    need(opts.batch_size is None or opts.batch_size >= 1,
         f"--batch-size {opts.batch_size}: at least 1 row per forward (leave it out for the token budget)")
    need(opts.scoring is None or opts.scoring in SCORINGS, f"--scoring {opts.scoring}: use {', '.join(SCORINGS)}")
    fmt = opts.prompt_format or spec.default_prompt
    need(fmt in spec.prompts, f"--prompt-format {fmt}: {spec.name} has {', '.join(spec.prompts)}")
    need(opts.subjects is None or all(s.strip() for s in opts.subjects),
         f"--subjects {','.join(opts.subjects or [])}: an empty subject name")
    need(opts.scoring != "choice" or spec.kind == "multiple_choice",
         f"--scoring choice scores each choice's text; {spec.name} is {spec.kind.replace('_', ' ')} (no choices)")
    need(opts.max_tokens is None or opts.max_tokens >= 1, f"--max-tokens {opts.max_tokens}: at least 1")
    need(opts.temperature >= 0, f"--temperature {opts.temperature}: 0 (greedy) or more")
    need(opts.top_p is None or 0 < opts.top_p <= 1, f"--top-p {opts.top_p}: between 0 (excluded) and 1")


def _given(opts, name: str) -> bool:
    """The option differs from its default (the command line passes every option, so this is 'the user set it')."""
    f = next(f for f in dataclasses.fields(opts) if f.name == name)
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return getattr(opts, name) != default


def check_flags(ref: str, kind: str, m: ModelOptions, opts: EvalOptions, spec: BenchmarkSpec) -> list[str]:
    """InputError for a flag whose effect the user would count on and cannot have with this backend; a warning for
    one that is only ignored."""
    local, api = kind != "api", kind == "api"
    what = {"hf": "a transformers model", "vllm": "the vLLM backend", "llamacpp": "a GGUF file (llama.cpp)",
            "api": "an API model"}[kind]
    if m.base_url and local:
        raise InputError(f"--base-url is for API models (--model PRESET:MODEL or openai:MODEL); --model names "
                         f"{what}")
    if m.adapter and kind != "hf":
        raise InputError(f"--adapter merges a PEFT adapter into a transformers model; {what} cannot take one")
    if m.quant and kind not in ("hf", "vllm"):
        raise InputError(f"--quant {m.quant} quantizes transformers or vLLM weights; {what} cannot be quantized here"
                         + (" (make a quantized GGUF with `pandian gguf --type q4_k_m`)" if kind == "llamacpp" else ""))
    if opts.system_prompt and not (opts.chat_template or (api and not opts.completions)):
        raise InputError("--system-prompt is sent as a chat message: add --chat-template"
                         + (" (or leave out --completions)" if api else ""))
    if opts.scoring == "choice" and api:
        raise InputError("--scoring choice needs each choice's log-likelihood, which an API does not give; use "
                         "--scoring letter (log-probs of the first token where offered, else the answer's text) "
                         "or generate")
    ignored = []
    if local:
        ignored += [f for f in ("concurrency", "rpm", "max_retries", "timeout", "price_in", "price_out")
                    if _given(m, f)] + (["completions"] if opts.completions else [])
    if kind in ("api", "llamacpp"):
        ignored += [f for f in ("dtype", "device", "trust_remote_code", "revision") if _given(m, f)]
    if api:
        ignored += ["batch_size"] if _given(opts, "batch_size") else []
        ignored += ["no_prefix_reuse"] if not opts.reuse_prefix else []
        ignored += ["chat_template"] if opts.chat_template and not opts.completions else []
    if kind == "vllm":
        ignored += ["device"] if _given(m, "device") else []
    warnings = [f"--{name.replace('_', '-')} does not apply to {what}; ignored" for name in ignored]
    if kind == "hf" and m.revision and Path(ref).expanduser().is_dir():
        warnings.append(f"--revision picks a hub revision; --model {ref} is a local directory; ignored")
    likelihood = local and spec.kind == "multiple_choice" and opts.scoring != "generate"
    generation = [f for f in ("max_tokens", "temperature", "top_p", "seed") if _given(opts, f)]
    if likelihood and generation:
        warnings.append(f"{', '.join('--' + g.replace('_', '-') for g in generation)}: this run scores "
                        "log-likelihoods and generates nothing (add --scoring generate to generate); ignored")
    return warnings


def check_out(out: Path | None) -> None:
    """--out names a folder that can be made and written (it is written after all the scoring)."""
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: a file is there; --out names a folder, to hold summary.json and "
                         "records.jsonl")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"--out {out}: {parent} is a file, so the folder cannot be made")
    if not os.access(parent, os.W_OK):
        raise InputError(f"--out {out}: {parent} is not writable")


def check_inputs(spec: BenchmarkSpec, opts: EvalOptions) -> Inputs:
    """The options, the data (every row validated), enough few-shot examples for every question, and the prompt
    templates rendered on the first question of each subject."""
    opts = resolved(spec, opts)
    check_options(spec, opts)
    split = opts.split or spec.splits.eval
    inputs = load_inputs(spec, opts, split)
    for q in inputs.questions:
        inputs.shots(q)  # raises when a subject has fewer examples than --shots
    check_prompts(spec, opts.prompt_format or spec.default_prompt, inputs.questions, inputs.shots, opts.scoring)
    return inputs

