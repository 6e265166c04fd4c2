"""A spec's prompt templates tried before a run: each template of the chosen format is rendered on its own on the
first question of every subject (and on that question's few-shot examples), so that a mistake in a spec is an
error naming the spec's file, line and field before any model loads, not a traceback halfway through a run."""

from __future__ import annotations

import jinja2

from pandian.core.data import Question
from pandian.core.prompts import _template, _vars, render
from pandian.core.spec import BenchmarkSpec, SpecError


def _message(e: Exception) -> str:
    if isinstance(e, jinja2.TemplateSyntaxError):
        return f"template line {e.lineno}: {e.message}"
    if isinstance(e, jinja2.exceptions.SecurityError):
        return f"{e} (templates run sandboxed: they read the question's variables, not Python's internals)"
    return f"{type(e).__name__}: {e}" if not isinstance(e, jinja2.UndefinedError) else str(e)


def _try(spec: BenchmarkSpec, fmt_name: str, part: str, q: Question, **extra) -> None:
    source = getattr(spec.prompts[fmt_name], part)
    try:
        _template(source).render(**_vars(q, spec), **extra)
    except Exception as e:  # a spec is the user's code: whatever it raises is the spec's mistake
        raise SpecError(f"{spec.where(('prompts', fmt_name, part))}: {_message(e)} (rendering {q.origin})") from None


def first_of_each_subject(questions: list[Question]) -> list[Question]:
    seen: dict[str, Question] = {}
    for q in questions:
        seen.setdefault(q.subject, q)
    return list(seen.values())


def check_prompts(spec: BenchmarkSpec, fmt_name: str, questions: list[Question], shots, scoring: str) -> None:
    """Render the format's templates on the first question of each subject and on its shots; SpecError naming
    the template's field and line on the first failure. shots(q): the question's few-shot examples."""
    fmt = spec.prompts[fmt_name]
    for q in first_of_each_subject(questions):
        examples = shots(q)
        for s in [q, *examples]:
            _try(spec, fmt_name, "description", s)
            _try(spec, fmt_name, "question", s)
        fills = q.labels if scoring == "letter" or not q.choices else q.choices
        for fill in fills or [None]:
            _try(spec, fmt_name, "answer", q, label=fill)
        for s in examples:
            _try(spec, fmt_name, "answer", s, label=s.labels[s.answer] if s.choices else None)
        try:
            render(spec, fmt, q, examples, scoring)
        except Exception as e:  # the parts rendered alone; what fails only together is named as the format
            raise SpecError(f"{spec.where(('prompts', fmt_name))}: {_message(e)} (rendering {q.origin})") from None
