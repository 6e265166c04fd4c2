"""What the model saw, for one stored record: the prompt re-rendered from the run's own spec and data, checked
against the record's prompt hash. Prompts are not stored (10k-question runs stay small); the spec travels with the
run's configuration, so a spec edited since still renders as it was."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pandian.app.lifecycle import EvalOptions, load_inputs
from pandian.core.prompts import prompt_hash, render
from pandian.core.spec import BenchmarkSpec, SpecError
from pandian.store import ResultStore


@dataclass
class RecordedPrompt:
    text: str
    continuations: tuple[str, ...]
    verified: bool   # the re-rendered text hashes to the record's prompt_hash
    note: str = ""


def recorded_prompt(store: ResultStore, run_id: str, qid: str, data_dir: Path | None = None) -> RecordedPrompt:
    run = store.run(run_id)
    if run is None:
        raise SpecError(f"no run {run_id}")
    cfg = run["config"]
    rec = store.record(run_id, qid)  # one indexed row, not the run's records
    if rec is None:
        raise SpecError(f"run {run_id} has no record for {qid}")
    spec = BenchmarkSpec.model_validate(cfg["spec"])
    generative = "generation" in cfg
    opts = EvalOptions(data_dir=Path(data_dir or cfg["data_dir"]), shots=cfg["shots"], subjects=[rec.subject],
                       split=cfg["split"], prompt_format=cfg["prompt_format"], scoring=cfg["scoring"])
    inputs = load_inputs(spec, opts, cfg["split"])
    q = next((q for q in inputs.questions if q.qid == qid), None)
    if q is None:
        raise SpecError(f"{qid} is no longer in the data under {opts.data_dir}")
    prompt = render(spec, spec.prompts[cfg["prompt_format"]], q, inputs.shots(q),
                    "letter" if generative else cfg["scoring"])
    text = prompt.text(rec.n_shots)
    conts = () if generative else prompt.continuations
    note = ""
    if cfg.get("chat_template") or (generative and cfg["generation"].get("messages")):
        note = "sent as chat messages / through the chat template; the text above is the user message"
    verified = prompt_hash(text, conts) == rec.prompt_hash
    return RecordedPrompt(text, conts, verified, note)
