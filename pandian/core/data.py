"""Reading benchmark files into questions, with errors that name the file, row and field.

Everything is validated before a run starts, so bad input never leaves a half-written run behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pandian.core.spec import BenchmarkSpec, Choices, Fields, SpecError

LABELS = "ABCDEFGHIJ"


class DataError(ValueError):
    def __init__(self, path: Path | str, message: str, row: int | None = None, field: str | None = None):
        self.path, self.row, self.field = str(path), row, field
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Question:
    qid: str  # unique within the benchmark: "{subject}/{id}"
    subject: str
    question: str
    choices: tuple[str, ...]  # empty for short-answer and open tasks
    # multiple choice: index into choices; short answer: the canonical number; None: no answer (unlabelled / open)
    answer: int | str | None
    origin: str  # "file:row", for drill-down and error messages
    target: str | None = None  # the full reference text (a worked solution for shots, a reference for a judge)
    extra: dict = field(default_factory=dict, compare=False)  # the spec's extra row fields

    @property
    def labels(self) -> str:
        return LABELS[: len(self.choices)]


# ---------------------------------------------------------------- raw rows


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"not UTF-8 (byte {e.start}, line {line}); re-save the file as UTF-8") from None


def read_rows(path: Path, fmt: str, header: bool = True, columns: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (row number as a person counts it in the file, row dict)."""
    if not path.exists():
        raise DataError(path, "file not found")
    n = 0
    if fmt == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = wb.active.iter_rows(values_only=True)
        head = [str(h) if h is not None else "" for h in next(rows, ())]
        for i, values in enumerate(rows, start=2):
            if all(v is None for v in values):
                continue
            n += 1
            yield i, {h: ("" if v is None else str(v)) for h, v in zip(head, values)}
    elif fmt == "csv":
        text = _decode(path)
        reader = csv.reader(io.StringIO(text, newline=""))
        if header:
            head = next(reader, None) or []
        else:
            head = columns or []
        for values in reader:
            if not values:
                continue
            n += 1
            if len(values) != len(head):
                raise DataError(path, f"{len(values)} values but {len(head)} columns", row=reader.line_num)
            yield reader.line_num, dict(zip(head, values))
    elif fmt == "jsonl":
        for i, line in enumerate(_decode(path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(path, f"invalid JSON: {e.msg}", row=i) from None
            if not isinstance(obj, dict):
                raise DataError(path, "each line must be a JSON object", row=i)
            n += 1
            yield i, obj
    elif fmt == "json":
        try:
            obj = json.loads(_decode(path))
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON: {e.msg} (line {e.lineno})") from None
        if isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), list):
            obj = next(iter(obj.values()))
        if not isinstance(obj, list):
            raise DataError(path, "expected a JSON array of objects")
        for i, item in enumerate(obj, start=1):
            if not isinstance(item, dict):
                raise DataError(path, "each item must be a JSON object", row=i)
            n += 1
            yield i, item
    else:
        raise DataError(path, f"unsupported format '{fmt}'")
    if n == 0:
        raise DataError(path, "no rows: the file is empty")


# ---------------------------------------------------------------- rows -> questions


def _field(row: dict, name: str, path: Path, rownum: int):
    if name not in row:
        raise DataError(path, f"missing (columns present: {', '.join(map(str, row))})", row=rownum, field=name)
    return row[name]


def _choices(spec_choices, row: dict, path: Path, rownum: int) -> tuple[list[str], list[str]]:
    """Return (labels, texts)."""
    if isinstance(spec_choices, list):
        texts = [str(_field(row, c, path, rownum)) for c in spec_choices]
        return list(LABELS[: len(texts)]), texts
    ch: Choices = spec_choices
    value = _field(row, ch.field, path, rownum)
    if ch.style == "dict":
        if not isinstance(value, dict):
            raise DataError(path, "expected a {label: text} object", row=rownum, field=ch.field)
        return [str(k) for k in value], [str(v) for v in value.values()]
    if ch.style == "list":
        if not isinstance(value, list):
            raise DataError(path, "expected a list of choices", row=rownum, field=ch.field)
        return list(LABELS[: len(value)]), [str(v) for v in value]
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
    return labels, texts


def _answer(fmt: str, value, labels: list[str], texts: list[str], columns: list[str] | None,
            path: Path, rownum: int, field: str, multi: str) -> int | None | str:
    """Index of the gold choice; "multi" for a multi-answer item the spec skips."""
    raw = str(value).strip()
    if fmt == "letter":
        if len(raw) > 1 and all(c in labels for c in raw) and multi == "skip":
            return "multi"
        if raw not in labels:
            raise DataError(path, f"answer {raw!r} is not one of the labels {''.join(labels)}", row=rownum,
                            field=field)
        return labels.index(raw)
    if fmt == "index":
        if not raw.lstrip("-").isdigit() or not 0 <= int(raw) < len(texts):
            raise DataError(path, f"answer {raw!r} is not a choice index 0..{len(texts) - 1}", row=rownum,
                            field=field)
        return int(raw)
    if fmt == "column":
        if not columns or raw not in columns:
            raise DataError(path, f"answer {raw!r} names none of the choice columns {columns}", row=rownum,
                            field=field)
        return columns.index(raw)
    matches = [i for i, t in enumerate(texts) if t.strip() == raw]
    if len(matches) != 1:
        why = "matches no choice's text" if not matches else "matches several choices' text"
        raise DataError(path, f"answer {raw[:40]!r} {why}", row=rownum, field=field)
    return matches[0]


def rows_to_questions(spec: BenchmarkSpec, rows, path: Path, subject: str | None,
                      field_names: dict | None = None, labelled: bool = True) -> tuple[list[Question], dict]:
    """Map raw rows to questions; returns (questions, {reason: number of items skipped})."""
    f = Fields.model_validate({**spec.fields.model_dump(), **(field_names or {})}) if field_names else spec.fields
    out, seen, skipped = [], {}, {}
    columns = f.choices if isinstance(f.choices, list) else None
    for rownum, row in rows:
        subj = subject or (str(_field(row, f.subject, path, rownum)).strip() if f.subject else spec.name)
        rid = str(_field(row, f.id, path, rownum)).strip() if f.id is not None else str(rownum)
        key = f"{subj}/{rid}"
        if key in seen:
            raise DataError(path, f"duplicate id {rid!r} (first at row {seen[key]})", row=rownum,
                            field=f.id if f.id is not None else "id")
        seen[key] = rownum
        question = _field(row, f.question, path, rownum)
        extra = {name: _field(row, name, path, rownum) for name in f.extra}
        if isinstance(question, list):  # a multi-turn conversation (MT-Bench): the user's turns in order
            extra["turns"] = [str(t) for t in question]
            question = extra["turns"][0] if question else ""
        question = str(question)
        if not question.strip():
            raise DataError(path, "empty question", row=rownum, field=f.question)
        if f.choices is None:
            out.append(_open_question(f, row, path, rownum, key, subj, question, extra, labelled))
            continue
        labels, texts = _choices(f.choices, row, path, rownum)
        if len(texts) < 2:
            raise DataError(path, f"{len(texts)} choice(s); multiple choice needs at least 2", row=rownum,
                            field=f.choices if isinstance(f.choices, str) else str(columns or f.choices.field))
        answer = None
        if labelled:
            value = _field(row, f.answer, path, rownum)
            if str(value).strip() in spec.no_answer_values:
                skipped["no_answer"] = skipped.get("no_answer", 0) + 1
                continue
            answer = _answer(f.answer_format, value, labels, texts, columns, path, rownum, f.answer,
                             spec.multi_answer)
            if answer == "multi":
                skipped["multi_answer"] = skipped.get("multi_answer", 0) + 1
                continue
        out.append(Question(key, subj, question, tuple(texts), answer, f"{path}:{rownum}", extra=extra))
    return out, skipped


def _open_question(f: Fields, row: dict, path: Path, rownum: int, key: str, subj: str, question: str, extra: dict,
                   labelled: bool) -> Question:
    """A short-answer question (numeric gold) or an open one (optional reference for a judge)."""
    from pandian.core.extract import extract_number

    target = str(_field(row, f.answer, path, rownum)) if f.answer and labelled else None
    answer = None
    if f.answer_format == "number" and target is not None:
        answer = extract_number(target)
        if answer is None:
            raise DataError(path, f"no number in the answer {target[-40:]!r}", row=rownum, field=f.answer)
    return Question(key, subj, question, (), answer, f"{path}:{rownum}", target=target, extra=extra)


# ---------------------------------------------------------------- a benchmark's splits


@dataclass
class Split:
    questions: list[Question]
    files: list[Path]
    skipped: dict = field(default_factory=dict)  # reason -> items left out of the evaluation


def subjects_of(spec: BenchmarkSpec) -> list[str] | None:
    """Subjects when files are per subject ({subject} in the path); None otherwise."""
    if "{subject}" not in spec.data.local.path:
        return None
    if not spec.subjects:
        raise SpecError(f"{spec.name}: the data path has {{subject}} but the spec lists no subjects")
    return list(spec.subjects)


def split_files(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list[str] | None) -> list[tuple[str | None, Path]]:
    local = spec.data.local
    if subjects is None:
        return [(None, data_dir / local.path.format(split=split))]
    return [(s, data_dir / local.path.format(split=split, subject=s)) for s in subjects]


def load_split(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list[str] | None = None) -> Split:
    if split in spec.splits.unlabelled:
        raise SpecError(f"{spec.name}: the '{split}' split {spec.splits.unlabelled[split]}")
    all_subjects = subjects_of(spec)
    if subjects is not None and all_subjects is not None:
        unknown = [s for s in subjects if s not in all_subjects]
        if unknown:
            raise SpecError(f"{spec.name}: unknown subject(s) {', '.join(unknown)}; "
                            f"known: {', '.join(all_subjects)}")
    files = split_files(spec, data_dir, split, None if all_subjects is None else (subjects or all_subjects))
    if not all(p.exists() for _, p in files):
        return _load_from_hub(spec, data_dir, split, [s for s, _ in files], files)
    local = spec.data.local
    questions, skipped = [], {}
    for subj, path in files:
        rows = read_rows(path, local.format, local.header, local.columns)
        qs, k = rows_to_questions(spec, rows, path, subj)
        questions += qs
        for reason, n in k.items():
            skipped[reason] = skipped.get(reason, 0) + n
    if subjects is not None and all_subjects is None:
        questions = [q for q in questions if q.subject in subjects]
        if not questions:
            raise SpecError(f"{spec.name}: no questions with subject(s) {', '.join(subjects)}")
    return Split(questions, [p for _, p in files], skipped)


def _load_from_hub(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list, files) -> Split:
    missing = next(p for _, p in files if not p.exists())
    local_hint = (f"no local copy of {spec.title} ({missing} is missing): download {spec.data.release} and pass "
                  f"--data-dir (or set PANDIAN_DATA_DIR) to the folder that holds "
                  f"'{spec.data.local.path.split('{')[0]}'")
    if spec.data.hub is None or os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise SpecError(local_hint)
    try:
        import datasets
    except ImportError:
        raise SpecError(local_hint + "; or install pandian[hub] to read it from the Hugging Face hub") from None
    hub = spec.data.hub
    questions = []
    for subj in subjects:
        config = hub.config.format(subject=subj) if hub.config else None
        try:
            ds = datasets.load_dataset(hub.id, config, split=split)
        except Exception as e:  # offline, gated, renamed: the local route is the answer in every case
            raise SpecError(f"{local_hint}; reading {hub.id} from the hub failed too: {type(e).__name__}: {e}") from None
        qs, _ = rows_to_questions(spec, enumerate(ds, start=1), Path(f"hf://{hub.id}/{config}/{split}"), subj,
                                  field_names=hub.fields)
        questions += qs
    return Split(questions, [])


def fingerprint_files(paths: list[Path]) -> str:
    """Content hash of the data files a run reads: changed data is a different result."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]
