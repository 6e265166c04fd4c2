"""Raw rows -> questions: group expansion, the choices (columns, a list, a dict, one cell split, or options written
inside the question's text), and the answer (a letter, index, text, column, number, reference; a JSON list or a
string of several letters for multi-answer questions). Errors name the file, the row and the field."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pandian.core.readers import DataError
from pandian.core.spec import BenchmarkSpec, Choices, Fields, Group

LABELS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Question:
    qid: str  # unique within the benchmark: "{subject}/{id}"
    subject: str
    question: str
    choices: tuple[str, ...]  # empty for short-answer and open tasks
    # multiple choice: the index of the right choice, or a tuple of indices for a multi-select question (sorted);
    # short answer: the canonical number; None: no answer (unlabelled / open)
    answer: int | tuple[int, ...] | str | None
    origin: str  # "file:row", for drill-down and error messages
    target: str | None = None  # the full reference text (a worked solution for shots, a reference for a judge)
    extra: dict = field(default_factory=dict, compare=False)  # the spec's extra row fields
    group: str | None = None  # the release item this question was expanded from (see the spec's group)
    part: int | None = None  # its place in that item, from 1
    stem: str = ""  # the text the group's questions share (group.split)

    @property
    def labels(self) -> str:
        return LABELS[: len(self.choices)]

    @property
    def content_hash(self) -> str:
        """What the question says (text, choices, answer, reference, shared stem, extra fields), not where it sits:
        two runs pair a question id only when its content hash agrees."""
        content = [self.question, list(self.choices), self.answer, self.target, self.stem, self.extra]
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()
                              ).hexdigest()[:16]

    @property
    def multi(self) -> bool:
        """A multi-select question: the answer is a set of labels, scored as a set."""
        return isinstance(self.answer, tuple)

    @property
    def answer_label(self) -> str | None:
        """The gold as letters: "C", or "ACD" for a multi-select question."""
        if self.answer is None or not self.choices:
            return None
        return "".join(self.labels[i] for i in self.answer) if self.multi else self.labels[self.answer]


# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class Part:
    """One question's row: the raw row, or a part of a group row."""

    rownum: int
    row: dict
    group: str | None = None
    part: int | None = None
    stem: str = ""


def expand(group: Group | None, f: Fields, rownum: int, row: dict, rid: str, path: Path) -> list[Part]:
    if group is None:
        return [Part(rownum, row)]
    where = {"path": path, "row": rownum}
    if group.items is not None:
        subs = _field(row, group.items, path, rownum)
        if not isinstance(subs, list) or not all(isinstance(s, dict) for s in subs):
            raise DataError(message="group.items: expected a list of objects", field=group.items, **where)
        base = {k: v for k, v in row.items() if k != group.items}
        return [Part(rownum, {**base, **s}, rid, k) for k, s in enumerate(subs, start=1)]
    answers = _field(row, f.answer, path, rownum) if f.answer else None
    if group.per_answer:
        if not isinstance(answers, list) or not answers:
            raise DataError(message="group.per_answer needs a non-empty list answer", field=f.answer, **where)
        return [Part(rownum, {**row, f.answer: a}, rid, k) for k, a in enumerate(answers, start=1)]
    text = str(_field(row, f.question, path, rownum))
    # a row the pattern does not cut is one question (releases mix single items with groups)
    starts = [m.start() for m in re.finditer(group.split, text) if m.end() > m.start()] or [0]
    pieces = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]
    if isinstance(answers, list) and len(answers) != len(pieces):
        raise DataError(message=f"the question splits into {len(pieces)} part(s) by group.split but the answer "
                                f"lists {len(answers)}", field=f.answer, **where)
    stem = text[: starts[0]].strip()
    return [Part(rownum, {**row, f.question: p, **({f.answer: answers[k]} if isinstance(answers, list) else {})},
                 rid, k + 1, stem) for k, p in enumerate(pieces)]


# ---------------------------------------------------------------- fields


def _field(row: dict, name: str, path: Path, rownum: int):
    if name not in row:
        raise DataError(path, f"missing (fields present: {', '.join(map(str, row))})", row=rownum, field=name)
    return row[name]


def embedded_options(text: str, pattern: str) -> tuple[str, list[str], list[str]] | None:
    """(stem, labels, texts) of options written inside `text`, or None when there are not at least two.

    The options are the chain A, B, C, … of label matches in order. A stray "A." in the stem starts a chain too:
    of the longest chains the last one is taken, since the options follow the stem."""
    marks = [(m.start(), m.end(), m["label"]) for m in re.finditer(pattern, text)]
    best: list = []
    for i, (_, _, label) in enumerate(marks):
        if label != "A":
            continue
        chain, want = [marks[i]], 1
        for m in marks[i + 1:]:
            if want < len(LABELS) and m[2] == LABELS[want]:
                chain.append(m)
                want += 1
        if len(chain) >= max(2, len(best)):
            best = chain
    if not best:
        return None
    ends = [m[0] for m in best[1:]] + [len(text)]
    texts = [text[m[1]:end].strip().rstrip(";；").strip() for m, end in zip(best, ends)]
    return text[: best[0][0]].strip(), [m[2] for m in best], texts


def _strip_own_label(label: str, text: str) -> str:
    m = re.match(rf"\s*(?:[(（]{label}[)）]|{label}\s*[.．:：、)）])\s*", text)
    return text[m.end():] if m else text


def choices_of(f: Fields, row: dict, path: Path, rownum: int) -> tuple[list[str], list[str], str | None]:
    """(labels, texts, stem): stem is the question without its options when they were embedded in it."""
    spec_choices = f.choices
    stem = None
    if isinstance(spec_choices, list):
        texts = [str(_field(row, c, path, rownum)) for c in spec_choices]
        labels = list(LABELS[: len(texts)])
    else:
        labels, texts, stem = _one_field(spec_choices, f, row, path, rownum)
    if f.strip_labels:
        texts = [_strip_own_label(lab, t) for lab, t in zip(labels, texts)]
    return labels, texts, stem


def _one_field(ch: Choices, f: Fields, row: dict, path: Path, rownum: int):
    value = _field(row, ch.field, path, rownum)
    if ch.style == "dict":
        if not isinstance(value, dict):
            raise DataError(path, "expected a {label: text} object", row=rownum, field=ch.field)
        return [str(k) for k in value], [str(v) for v in value.values()], None
    if ch.style == "list":
        if not isinstance(value, list):
            raise DataError(path, "expected a list of choices", row=rownum, field=ch.field)
        return list(LABELS[: len(value)]), [str(v) for v in value], None
    if ch.style == "embedded":
        found = embedded_options(str(value), ch.pattern)
        if found is None:
            raise DataError(path, f"no options found in the text by the pattern {ch.pattern!r} (labels A, B, … in "
                                  f"order): {str(value)[-60:]!r}", row=rownum, field=ch.field)
        stem, labels, texts = found
        if ch.field != f.question and stem:
            raise DataError(path, f"text before the options {stem[:30]!r}… would be lost: embed the options in the "
                                  "question field, or keep that text in a field of its own", row=rownum, field=ch.field)
        return labels, texts, stem if ch.field == f.question else None
    pieces = [p for p in str(value).split(ch.separator) if p.strip()]
    labels, texts = [], []
    for i, p in enumerate(pieces):
        text = p.strip()
        if ch.label_prefix:
            m = re.match(ch.label_prefix, text)
            if not m:
                raise DataError(path, f"choice {i + 1} does not start with a label: {text[:30]!r}",
                                row=rownum, field=ch.field)
            labels.append(m.group(1) if m.groups() else LABELS[i])
            text = text[m.end():]
        else:
            labels.append(LABELS[i])
        texts.append(text)
    return labels, texts, None


def pattern_answer(pattern: str | None, value, path: Path, rownum: int, name: str):
    """The answer inside a wrapped value ("正确答案：B。" -> "B"), element-wise for lists."""
    if pattern is None:
        return value
    if isinstance(value, list):
        return [pattern_answer(pattern, v, path, rownum, name) for v in value]
    m = re.search(pattern, str(value))
    if not m:
        raise DataError(path, f"answer_pattern {pattern!r} does not match {str(value)[:40]!r}", row=rownum,
                        field=name)
    return m["answer"] if "answer" in m.re.groupindex else m[1] if m.re.groups else m[0]


_LETTER_SEPARATORS = re.compile(r"[\s,，、;；/|和与]+")


def answer_indices(fmt: str, value, labels: list[str], texts: list[str], columns: list[str] | None,
                   path: Path, rownum: int, name: str) -> list[int] | None:
    """The gold choices' indices, in label order: one for a single answer, several for a multi-answer one. None
    when a text answer is the text of two identical choices (a release defect: no label is right)."""
    where = {"path": path, "row": rownum, "field": name}
    values = value if isinstance(value, list) else [value]
    if not values:
        raise DataError(message="the answer is an empty list", **where)
    out: list[int] = []
    for v in values:
        raw = str(v).strip()
        if fmt == "letter":
            # "B", or several: "AD", "A,D", "A、D"
            letters = [raw] if raw in labels or not raw else list(_LETTER_SEPARATORS.sub("", raw))
            if not all(c in labels for c in letters):
                raise DataError(message=f"answer {raw!r} is not one of the labels {''.join(labels)}", **where)
            out += [labels.index(c) for c in letters]
        elif fmt == "index":
            if not raw.lstrip("-").isdigit() or not 0 <= int(raw) < len(texts):
                raise DataError(message=f"answer {raw!r} is not a choice index 0..{len(texts) - 1}", **where)
            out.append(int(raw))
        elif fmt == "column":
            if not columns or raw not in columns:
                raise DataError(message=f"answer {raw!r} names none of the choice columns {columns}", **where)
            out.append(columns.index(raw))
        else:
            matches = [i for i, t in enumerate(texts) if t.strip() == raw]
            if len(matches) > 1:
                return None
            if not matches:
                raise DataError(message=f"answer {raw[:40]!r} matches no choice's text", **where)
            out.append(matches[0])
    return sorted(set(out))


def gold(spec: BenchmarkSpec, f: Fields, value, labels, texts, path: Path, rownum: int):
    """The Question.answer of a multiple-choice row, or why the row is skipped: "multi_answer" when the spec skips
    multi-answer items, "duplicate_choices" when the answer is the text of two identical choices."""
    columns = f.choices if isinstance(f.choices, list) else None
    value = pattern_answer(f.answer_pattern, value, path, rownum, f.answer)
    idx = answer_indices(f.answer_format, value, labels, texts, columns, path, rownum, f.answer)
    if idx is None:
        return "duplicate_choices"
    if len(idx) > 1 and spec.multi_answer != "score":
        if spec.multi_answer == "skip":
            return "multi_answer"
        shown = "".join(labels[i] for i in idx)
        raise DataError(path, f"answer {shown!r} has several labels: set the spec's multi_answer to score (or skip)",
                        row=rownum, field=f.answer)
    if len(idx) > 1 or spec.multi_select == "all":
        return tuple(idx)
    return idx[0]
