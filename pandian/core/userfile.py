"""A user's own multiple-choice file (CSV, TSV, JSONL, JSON or XLSX) as a benchmark, columns detected or named.

The spec built here is private: its questions are never sent to a remote API without --allow-remote-data."""

from __future__ import annotations

import re
from pathlib import Path

from pandian.core.data import LABELS, DataError, read_rows
from pandian.core.spec import BenchmarkSpec

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".xlsx": "xlsx"}
QUESTION_KEYS = ("question", "问题", "题目", "stem", "query", "input", "prompt")
ANSWER_KEYS = ("answer", "答案", "answer_idx", "label", "gold", "target", "correct")
CHOICE_KEYS = ("choices", "options", "选项")
SUBJECT_KEYS = ("subject", "科目", "学科")
CATEGORY_KEYS = ("category", "类别", "分类")
ID_KEYS = ("id", "qid", "question_id", "编号")
PASSAGE_KEYS = ("passage", "context", "材料", "阅读材料", "文章", "背景")
# What --field may name. A passage (reading material) is shown before the question.
FIELD_NAMES = ("question", "choices", "answer", "answer_format", "subject", "category", "id", "passage")

WORDING = {
    "zh": ("以下是{{ '多项' if multi else '单项' }}选择题，请直接给出正确答案的选项。\n\n", "答案：", ""),
    "en": ("The following are multiple choice questions (with answers).\n\n", "Answer:", " "),
}


def _prompts(passage: str | None) -> dict:
    lead = f"{{{{ row[{passage!r}] }}}}\n" if passage else ""
    return {lang: {"description": desc,
                   "question": lead + "{{ question }}\n{% for o in options %}{{ o.label }}. {{ o.text }}\n{% endfor %}"
                               + cue,
                   "answer": space + "{{ label }}"}
            for lang, (desc, cue, space) in WORDING.items()}


def _find(keys_present: list[str], candidates: tuple[str, ...]) -> str | None:
    lower = {k.lower(): k for k in keys_present}
    for c in candidates:
        if c.lower() in lower:
            return lower[c.lower()]
    return None


def _answer_format(values: list[str], choices) -> str:
    """The format that explains most answers; the rows it does not explain then fail validation by name."""
    n_choices = len(choices) if isinstance(choices, list) else None
    labels = LABELS[: n_choices or len(LABELS)]
    letters = sum(bool(v) and all(c in labels for c in re.sub(r"[\s,，、]", "", v)) for v in values)
    indices = sum(v.isdigit() and int(v) < (n_choices or 10) for v in values)
    if max(letters, indices) * 2 <= len(values):
        return "text"
    return "letter" if letters >= indices else "index"


def _labelled_choices(rows: list[dict], choices) -> bool:
    """Whether every choice already starts with its own label ("A. 北京", "(B)上海"): then it is stripped once."""
    texts = []
    for r in rows:
        if isinstance(choices, list):
            texts.append([str(r.get(c, "")) for c in choices])
        elif isinstance(r.get(choices["field"]), list):
            texts.append([str(t) for t in r[choices["field"]]])
    own = [re.match(rf"\s*(?:[(（]{lab}[)）]|{lab}\s*[.．:：、)）])", t) for ts in texts for lab, t in zip(LABELS, ts)]
    return bool(own) and all(own)


def user_spec(path: Path, overrides: dict[str, str]) -> BenchmarkSpec:
    """Build a spec for the file at `path`. overrides: {NAME: COLUMN} for NAME in FIELD_NAMES; choices as 'A|B|C|D'
    (columns) or one column holding a list / dict."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(path, f"unsupported file type '{path.suffix}': use one of {', '.join(FORMATS)}")
    if "{" in path.name or "}" in path.name:  # a spec path's braces are placeholders: this name cannot be one
        raise DataError(path, "a file name with { or } cannot be read as a benchmark of your own; rename the file")
    unknown = [k for k in overrides if k not in FIELD_NAMES]
    if unknown:
        raise DataError(path, f"--field {unknown[0]}=…: not a field name; use one of {', '.join(FIELD_NAMES)} "
                              "(or write a spec: docs/specs.md)")
    rows = [row for _, row in zip(range(200), (r for _, r in read_rows(path, fmt)))]
    keys = list(rows[0].keys())

    def column(name: str, value: str) -> str:
        if value not in keys:
            raise DataError(path, f"--field {name}={value}: no such column; columns: {', '.join(map(str, keys))}",
                            field=value)
        return value

    def pick(name, candidates):
        if name in overrides:
            return column(name, overrides[name])
        return _find(keys, candidates)

    question = pick("question", QUESTION_KEYS)
    # an answer-like column that is empty in every row (an unlabelled export) is never taken for the answer
    named = [k for c in ANSWER_KEYS for k in keys if k.lower() == c.lower()]
    filled = [k for k in named if any(str(r.get(k, "")).strip() for r in rows)]
    answer = column("answer", overrides["answer"]) if "answer" in overrides else (filled or [None])[0]
    for name, value in (("question", question), ("answer", answer)):
        if value is None:
            why = f" ({', '.join(named)}: empty in every row)" if name == "answer" and named else ""
            raise DataError(path, f"cannot tell which column is the {name}{why}; columns: {', '.join(keys)}; "
                                  f"name it with --field {name}=COLUMN", field=name)
    if "choices" in overrides:
        parts = overrides["choices"].split("|")
        choices = [column("choices", p) for p in parts] if len(parts) > 1 else \
            {"field": column("choices", parts[0]), "style": "list"}
    else:
        letters = [c for c in LABELS if c in keys]
        if len(letters) >= 2 and letters == list(LABELS[: len(letters)]):
            choices = letters
        else:
            field = _find(keys, CHOICE_KEYS)
            if field is None:
                raise DataError(path, "cannot find the choices: expected columns A, B, C, ... or a list/dict field "
                                      f"named one of {', '.join(CHOICE_KEYS)}; columns: {', '.join(keys)}; "
                                      "name them with --field choices=A|B|C|D or --field choices=COLUMN",
                                field="choices")
            choices = {"field": field, "style": "dict" if isinstance(rows[0][field], dict) else "list"}
    answer_format = overrides.get("answer_format") or _answer_format(
        [str(r.get(answer, "")).strip() for r in rows], choices)
    text = " ".join(str(r.get(question, "")) for r in rows[:50])
    lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
    subject = pick("subject", SUBJECT_KEYS)
    category = pick("category", CATEGORY_KEYS)
    passage = pick("passage", PASSAGE_KEYS)
    subjects = None
    if subject and category:  # a category column gives the per-category table
        subjects = {}
        for _, r in read_rows(path, fmt):
            s = str(r.get(subject, "")).strip()
            subjects.setdefault(s, {"name": s, "categories": []})
            c = str(r.get(category, "")).strip()
            if c and c not in subjects[s]["categories"]:
                subjects[s]["categories"].append(c)
    return BenchmarkSpec.model_validate({
        "name": path.stem,
        "title": path.name,
        "language": lang,
        "private": True,
        "data": {"release": path.name, "local": {"path": path.name, "format": fmt}},
        "splits": {"eval": "all"},
        "multi_answer": "score",
        "fields": {"id": pick("id", ID_KEYS), "question": question, "choices": choices, "answer": answer,
                   "answer_format": answer_format, "subject": subject,
                   "extra": [passage] if passage else [],
                   "strip_labels": _labelled_choices(rows, choices)},
        "subjects": subjects,
        "prompts": _prompts(passage),
        "default_prompt": lang,
    })

