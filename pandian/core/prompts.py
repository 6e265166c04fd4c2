"""Rendering a question (and its few-shot examples) into a prompt and the continuations to score."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from pandian.core.data import Question
from pandian.core.spec import BenchmarkSpec, PromptFormat

_env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=256)
def _template(source: str) -> jinja2.Template:
    return _env.from_string(source)


def _vars(q: Question, spec: BenchmarkSpec) -> dict:
    return {
        "question": q.question,
        "target": q.target,
        "row": q.extra,
        "choices": list(q.choices),
        "labels": list(q.labels),
        "options": [{"label": lab, "text": text} for lab, text in zip(q.labels, q.choices)],
        "subject": q.subject,
        "subject_name": spec.subject_name(q.subject),
    }


@dataclass(frozen=True)
class Prompt:
    description: str
    shots: tuple[str, ...]  # each shot rendered with its answer and separator
    question: str
    continuations: tuple[str, ...]  # one per choice, in label order

    def text(self, n_shots: int | None = None) -> str:
        shots = self.shots if n_shots is None else self.shots[:n_shots]
        return self.description + "".join(shots) + self.question



def prompt_hash(text: str, continuations) -> str:
    """Identifies exactly what a model was shown and asked to score, per record."""
    return hashlib.sha256((text + "\x00" + "\x00".join(continuations)).encode()).hexdigest()[:16]


def render(spec: BenchmarkSpec, fmt: PromptFormat, q: Question, shots: list[Question],
           scoring: str = "letter", shot_cache: dict | None = None) -> Prompt:
    """scoring "letter": the continuations are the answer template for each label. "choice": the answer template
    with each choice's text in place of the label (cloze-style choice-text scoring). shot_cache: rendered shots
    by origin, shared across the questions of a run (each shot is rendered once, not once per question)."""
    v = _vars(q, spec)
    description = _template(fmt.description).render(**v)
    question_t, answer_t = _template(fmt.question), _template(fmt.answer)
    rendered_shots = []
    cache = shot_cache if shot_cache is not None else {}
    for s in shots:
        if s.origin not in cache:
            sv = _vars(s, spec)
            label = s.labels[s.answer] if s.choices else None
            cache[s.origin] = question_t.render(**sv) + answer_t.render(**sv, label=label) + fmt.shot_separator
        rendered_shots.append(cache[s.origin])
    return Prompt(
        description=description,
        shots=tuple(rendered_shots),
        question=question_t.render(**v),
        continuations=tuple(answer_t.render(**v, label=lab if scoring == "letter" else text)
                            for lab, text in zip(q.labels, q.choices)),
    )
