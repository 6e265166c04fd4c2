"""Rendering a question (and its few-shot examples) into a prompt and the continuations to score; checking a spec's
templates when it loads, so that a typo is an error naming the format and field rather than a traceback mid-run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pandian.core.data import Question
from pandian.core.spec import BenchmarkSpec, PromptFormat, SpecError

# Specs are shared files: their templates run sandboxed (no attribute of Python internals, no mutation), and a
# missing variable or row field is an error, not an empty string.
_env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)

# Every variable a template sees (docs/specs.md lists them); the answer template sees `label` too.
VARIABLES = ("question", "target", "row", "choices", "labels", "options", "subject", "subject_name", "multi",
             "group", "part", "stem", "shot", "after_shots")
# Letter scoring of a multi-select question scores every non-empty set of labels: 2^n - 1 continuations.
MAX_MULTI_OPTIONS = 6


@lru_cache(maxsize=256)
def _template(source: str) -> jinja2.Template:
    return _env.from_string(source)


def _vars(q: Question, spec: BenchmarkSpec, shot: bool, after_shots: bool = False) -> dict:
    """shot: the question is rendered as a few-shot example. after_shots: the evaluated question follows at least one
    example (OpenCompass's joins differ with and without examples, and its formats reproduce that)."""
    return {
        "shot": shot,
        "after_shots": after_shots,
        "question": q.question,
        "target": q.target,
        "row": q.extra,
        "choices": list(q.choices),
        "labels": list(q.labels),
        "options": [{"label": lab, "text": text} for lab, text in zip(q.labels, q.choices)],
        "subject": q.subject,
        "subject_name": spec.subject_name(q.subject),
        "multi": q.multi,
        "group": q.group,
        "part": q.part,
        "stem": q.stem,
    }


def check_templates(spec: BenchmarkSpec) -> list[tuple[tuple, str]]:
    """Problems in the spec's templates as (field path, message): syntax errors, unknown variables, and row.NAME
    where NAME is not among fields.extra."""
    problems = []
    row_fields = set(spec.fields.extra) | {"turns"}
    for name, fmt in spec.prompts.items():
        for part in ("description", "question", "answer"):
            loc = ("prompts", name, part)
            try:
                ast = _env.parse(getattr(fmt, part))
                _template(getattr(fmt, part))  # compiling finds what parsing does not: unknown filters and tests
            except jinja2.TemplateSyntaxError as e:
                problems.append((loc, f"template line {e.lineno}: {e.message}"))
                continue
            known = set(VARIABLES) | ({"label"} if part == "answer" else set())
            for var in sorted(meta.find_undeclared_variables(ast) - known):
                problems.append((loc, f"unknown variable '{var}'; templates know {', '.join(sorted(known))}"))
            for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
                if isinstance(node.node, nodes.Name) and node.node.name == "row":
                    key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
                    if isinstance(key, str) and key not in row_fields:
                        problems.append((loc, f"row.{key} is not a field the spec keeps: add it to fields.extra "
                                              f"(now: {', '.join(spec.fields.extra) or 'none'})"))
    return problems


@dataclass(frozen=True)
class Prompt:
    description: str
    shots: tuple[str, ...]  # each shot rendered with its answer and separator
    question: str
    continuations: tuple[str, ...]  # one per answer scored
    answers: tuple[str, ...] = ()  # what each continuation answers: a label, or a set of labels ("AC")
    question_alone: str | None = None  # the question as rendered with no example before it, where that differs

    def text(self, n_shots: int | None = None) -> str:
        shots = self.shots if n_shots is None else self.shots[:n_shots]
        question = self.question if shots or self.question_alone is None else self.question_alone
        return self.description + "".join(shots) + question


def prompt_hash(text: str, continuations) -> str:
    """Identifies exactly what a model was shown and asked to score, per record."""
    return hashlib.sha256((text + "\x00" + "\x00".join(continuations)).encode()).hexdigest()[:16]


def label_sets(labels: str) -> list[str]:
    """Every non-empty set of labels, smallest first: A, B, …, AB, AC, …, ABCD."""
    return ["".join(c) for n in range(1, len(labels) + 1) for c in combinations(labels, n)]


def _render(t: jinja2.Template, q: Question, **v) -> str:
    try:
        return t.render(**v)
    except jinja2.TemplateError as e:
        raise SpecError(f"rendering {q.origin}: {type(e).__name__}: {e}") from None


def render(spec: BenchmarkSpec, fmt: PromptFormat, q: Question, shots: list[Question],
           scoring: str = "letter", shot_cache: dict | None = None) -> Prompt:
    """scoring "letter": the continuations are the answer template for each label, or for a multi-select question
    for each set of labels. "choice": the answer template with each choice's text in place of the label
    (cloze-style choice-text scoring). shot_cache: rendered shots by origin, shared across the questions of a run
    (each shot is rendered once, not once per question)."""
    v = _vars(q, spec, shot=False, after_shots=bool(shots))
    description = _render(_template(fmt.description), q, **v)
    question_t, answer_t = _template(fmt.question), _template(fmt.answer)
    rendered_shots = []
    cache = shot_cache if shot_cache is not None else {}
    for s in shots:
        if s.origin not in cache:
            sv = _vars(s, spec, shot=True)
            cache[s.origin] = _render(question_t, s, **sv) + _render(answer_t, s, **sv, label=s.answer_label) + \
                fmt.shot_separator
        rendered_shots.append(cache[s.origin])
    if q.multi and scoring == "choice":
        raise SpecError(f"{q.origin}: a multi-select question cannot be scored by its choices' text; use --scoring "
                        "letter (every set of labels) or generate")
    if q.multi and len(q.choices) > MAX_MULTI_OPTIONS:
        raise SpecError(f"{q.origin}: a multi-select question with {len(q.choices)} options has "
                        f"{2 ** len(q.choices) - 1} label sets to score; use --scoring generate")
    answers = tuple(label_sets(q.labels)) if q.multi else tuple(q.labels)
    fills = answers if scoring == "letter" or q.multi else q.choices
    question = _render(question_t, q, **v)
    alone = _render(question_t, q, **{**v, "after_shots": False}) if shots else None
    return Prompt(
        description=description,
        shots=tuple(rendered_shots),
        question=question,
        continuations=tuple(_render(answer_t, q, **v, label=x) for x in fills),
        answers=answers,
        question_alone=alone if alone != question else None,
    )


# ---------------------------------------------------------------- tried before a run


def _message(e: Exception) -> str:
    if isinstance(e, jinja2.TemplateSyntaxError):
        return f"template line {e.lineno}: {e.message}"
    if isinstance(e, jinja2.exceptions.SecurityError):
        return f"{str(e).rstrip('.')}: templates run sandboxed, they read the question's variables, not Python's " \
               "internals"
    return str(e) if isinstance(e, jinja2.UndefinedError) else f"{type(e).__name__}: {e}"


def _try(spec: BenchmarkSpec, fmt_name: str, part: str, q: Question, **extra) -> None:
    try:
        _template(getattr(spec.prompts[fmt_name], part)).render(**_vars(q, spec, shot=False), **extra)
    except Exception as e:  # a spec is the user's code: whatever it raises is the spec's mistake
        raise SpecError(f"{spec.where(('prompts', fmt_name, part))}: {_message(e)} (rendering {q.origin})") from None


def check_prompts(spec: BenchmarkSpec, fmt_name: str, questions: list[Question], shots, scoring: str) -> None:
    """Render each template of the format on its own on the first question of each subject and on its few-shot
    examples (shots(q)), so that a mistake is a SpecError naming the spec's file, line and field before a model
    loads rather than a traceback halfway through a run."""
    firsts: dict[str, Question] = {}
    for q in questions:
        firsts.setdefault(q.subject, q)
    for q in firsts.values():
        examples = shots(q)
        for s in [q, *examples]:
            _try(spec, fmt_name, "description", s)
            _try(spec, fmt_name, "question", s)
        for fill in (q.labels if scoring == "letter" or not q.choices else q.choices) or [None]:
            _try(spec, fmt_name, "answer", q, label=fill)
        for s in examples:
            _try(spec, fmt_name, "answer", s, label=s.answer_label)
        try:
            render(spec, spec.prompts[fmt_name], q, examples, scoring)
        except SpecError:
            raise
        except Exception as e:  # the parts rendered alone: what fails only together is named as the format
            raise SpecError(f"{spec.where(('prompts', fmt_name))}: {_message(e)} (rendering {q.origin})") from None
