"""A user's own multiple-choice file (CSV, JSONL, JSON or XLSX) as a benchmark, columns detected or named."""

from __future__ import annotations

import re
from pathlib import Path

from pandian.core.data import LABELS, DataError, read_rows
from pandian.core.spec import BenchmarkSpec

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".xlsx": "xlsx"}
QUESTION_KEYS = ("question", "问题", "题目", "stem", "query", "input", "prompt")
ANSWER_KEYS = ("answer", "答案", "answer_idx", "label", "gold", "target", "correct")
CHOICE_KEYS = ("choices", "options", "选项")
SUBJECT_KEYS = ("subject", "科目", "学科")
CATEGORY_KEYS = ("category", "类别", "分类")
ID_KEYS = ("id", "qid", "question_id", "编号")

PROMPTS = {
    "zh": {
        "description": "以下是单项选择题，请直接给出正确答案的选项。\n\n",
        "question": "{{ question }}\n{% for o in options %}{{ o.label }}. {{ o.text }}\n{% endfor %}答案：",
        "answer": "{{ label }}",
    },
    "en": {
        "description": "The following are multiple choice questions (with answers).\n\n",
        "question": "{{ question }}\n{% for o in options %}{{ o.label }}. {{ o.text }}\n{% endfor %}Answer:",
        "answer": " {{ label }}",
    },
}


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
    letters = sum(v in labels for v in values)
    indices = sum(v.isdigit() and int(v) < (n_choices or 10) for v in values)
    if max(letters, indices) * 2 <= len(values):
        return "text"
    return "letter" if letters >= indices else "index"


def user_spec(path: Path, overrides: dict[str, str]) -> BenchmarkSpec:
    """Build a spec for the file at `path`. overrides: {question|choices|answer|answer_format|subject|category|id:
    value},
    choices as 'A|B|C|D' (columns) or one column name holding a list / dict."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(path, f"unsupported file type '{path.suffix}': use one of {', '.join(FORMATS)}")
    rows = [row for _, row in zip(range(200), (r for _, r in read_rows(path, fmt)))]
    keys = list(rows[0].keys())

    def pick(name, candidates):
        if name in overrides:
            if overrides[name] not in keys and name != "choices":
                raise DataError(path, f"--field {name}={overrides[name]}: no such column; columns: {', '.join(keys)}",
                                field=overrides[name])
            return overrides[name]
        return _find(keys, candidates)

    question = pick("question", QUESTION_KEYS)
    answer = pick("answer", ANSWER_KEYS)
    for name, value in (("question", question), ("answer", answer)):
        if value is None:
            raise DataError(path, f"cannot tell which column is the {name}; columns: {', '.join(keys)}; "
                                  f"name it with --field {name}=COLUMN", field=name)
    if "choices" in overrides:
        parts = overrides["choices"].split("|")
        choices = parts if len(parts) > 1 else {"field": parts[0], "style": "list"}
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
        "license": "the user's own data",
        "homepage": path.name,
        "data": {"release": path.name, "local": {"path": path.name, "format": fmt}},
        "splits": {"eval": "all"},
        "fields": {"id": pick("id", ID_KEYS), "question": question, "choices": choices, "answer": answer,
                   "answer_format": answer_format, "subject": subject},
        "subjects": subjects,
        "prompts": PROMPTS,
        "default_prompt": lang,
    })
