"""Per-question records: the source of truth that summaries, resumes, paired comparisons and drill-downs read.

Every field that a scoring strategy produces is named here; nothing rides in an untyped bag. The exact prompt text is
not stored: it is re-rendered from the spec, the data and the run's configuration, and checked against
`prompt_hash` (see pandian.app.prompts), which keeps a 10k-question run small while a drill-down still shows exactly
what the model saw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class Record:
    qid: str
    subject: str
    prompt_hash: str
    n_shots: int
    pred: str                       # the predicted label or answer; '' when none could be extracted
    gold: str | None
    correct: int | None             # None: no gold answer (an open task, or a hidden test split)
    # per choice, in label order: the continuation's log-likelihood (OpenCompass perplexity formats: the mean
    # log-likelihood per token of the choice's whole text, i.e. minus what OpenCompass reports as PPL), or API
    # log-probs
    logprobs: list[float] = field(default_factory=list)
    truncated_tokens: int = 0       # tokens cut from the start of the prompt to fit the context (see --overflow)
    pred_norm: str | None = None    # choice scoring: prediction by length-normalised log-likelihood (acc_norm)
    correct_norm: int | None = None
    response: str | None = None     # generation: the model's whole text
    method: str | None = None       # multiple choice through generation: 'logprobs' or 'generate'
    extraction_failed: bool | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reference: str | None = None    # open tasks: the reference answer a judge grades against
    turns: list[str] | None = None  # multi-turn tasks: the model's answer at each turn
    question_hash: str | None = None  # the question's content (Question.content_hash): what comparisons pair on

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Record:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


RECORD_FIELDS = tuple(f.name for f in fields(Record))
JSON_FIELDS = ("logprobs", "turns")  # stored as JSON text
