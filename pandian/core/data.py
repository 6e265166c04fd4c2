"""A benchmark's splits as validated questions, and its few-shot examples, with errors that name the file, row and
field. Everything is validated before a run starts, so bad input never leaves a half-written run behind.

Reading files is `readers`, finding them and joining or preprocessing their rows `sources`, mapping a row to a
question `mapping`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pandian.core.mapping import LABELS, Part, Question, _field, choices_of, expand, gold, pattern_answer
from pandian.core.readers import DataError, read_rows, source_rows
from pandian.core.sources import DataFile, discovered_subjects, file_rows, files_of, source_files, splits_on_disk
from pandian.core.spec import BenchmarkSpec, Fields, SpecError

__all__ = ["LABELS", "DataError", "Question", "Split", "ShotPool", "check_split", "fingerprint_files",
           "input_files", "load_shots", "load_split", "read_rows", "rows_to_questions", "subjects_of"]


# ---------------------------------------------------------------- rows -> questions


def rows_to_questions(spec: BenchmarkSpec, rows, path: Path | str, subject: str | None,
                      field_names: dict | None = None, labelled: bool = True,
                      file_key: str = "") -> tuple[list[Question], dict]:
    """Map raw rows to questions; returns (questions, {reason: number of items skipped}). file_key sets apart the
    ids of files of one subject (other path placeholders)."""
    f = Fields.model_validate({**spec.fields.model_dump(), **(field_names or {})}) if field_names else spec.fields
    out, seen, skipped = [], {}, {}
    for rownum, row in rows:
        rid = str(_field(row, f.id, path, rownum)).strip() if f.id is not None else str(rownum)
        for part in expand(spec.group, f, rownum, row, rid, path):
            q = _question(spec, f, part, path, subject, rid, file_key, labelled)
            if isinstance(q, str):
                skipped[q] = skipped.get(q, 0) + 1
                continue
            if q.qid in seen:
                raise DataError(path, f"duplicate id {rid!r} (first at row {seen[q.qid]})", row=rownum,
                                field=f.id if f.id is not None else "id")
            seen[q.qid] = rownum
            out.append(q)
    return out, skipped


def _question(spec: BenchmarkSpec, f: Fields, part: Part, path, subject: str | None, rid: str, file_key: str,
              labelled: bool) -> Question | str:
    """The question of one row (or group part), or the reason it is skipped."""
    row, rownum = part.row, part.rownum
    subj = subject or (str(_field(row, f.subject, path, rownum)).strip() if f.subject else spec.name)
    key = "/".join(x for x in (subj, file_key, rid if part.part is None else f"{rid}#{part.part}") if x)
    question = _field(row, f.question, path, rownum)
    extra = {name: _field(row, name, path, rownum) for name in f.extra}
    if isinstance(question, list):  # a multi-turn conversation (MT-Bench): the user's turns in order
        extra["turns"] = [str(t) for t in question]
        question = extra["turns"][0] if question else ""
    question = str(question)
    origin = f"{path}:{rownum}"
    common = dict(extra=extra, group=part.group, part=part.part, stem=part.stem)
    if f.choices is None:
        return _open_question(f, row, path, rownum, key, subj, question, labelled, origin, common)
    labels, texts, stem = choices_of(f, row, path, rownum)
    if stem is not None:
        question = stem
    if not question.strip():
        raise DataError(path, "empty question", row=rownum, field=f.question)
    if len(texts) < 2:
        name = str(f.choices) if isinstance(f.choices, list) else f.choices.field
        raise DataError(path, f"{len(texts)} choice(s); multiple choice needs at least 2", row=rownum, field=name)
    answer = None
    if labelled:
        value = _field(row, f.answer, path, rownum)
        if str(value).strip() in spec.no_answer_values:
            return "no_answer"
        answer = gold(spec, f, value, labels, texts, path, rownum)
        if isinstance(answer, str):  # a reason to skip the row
            return answer
    return Question(key, subj, question, tuple(texts), answer, origin, **common)


def _open_question(f: Fields, row: dict, path, rownum: int, key: str, subj: str, question: str, labelled: bool,
                   origin: str, common: dict) -> Question:
    """A short-answer question (numeric gold) or an open one (optional reference for a judge)."""
    from pandian.core.extract import extract_number

    if not question.strip():
        raise DataError(path, "empty question", row=rownum, field=f.question)
    target = str(_field(row, f.answer, path, rownum)) if f.answer and labelled else None
    answer = None
    if f.answer_format == "number" and target is not None:
        answer = extract_number(str(pattern_answer(f.answer_pattern, target, path, rownum, f.answer)))
        if answer is None:
            raise DataError(path, f"no number in the answer {target[-40:]!r}", row=rownum, field=f.answer)
    return Question(key, subj, question, (), answer, origin, target=target, **common)


# ---------------------------------------------------------------- a benchmark's splits


@dataclass
class Split:
    questions: list[Question]
    files: list[Path]
    skipped: dict = field(default_factory=dict)  # reason -> items left out of the evaluation
    every_subject: int | None = None  # questions before the subject filter, when one file held every subject

    @property
    def counts(self) -> dict:
        """How many questions have one answer and how many several (multi-select)."""
        multi = sum(q.multi for q in self.questions if q.choices)
        return {"single": sum(1 for q in self.questions if q.choices) - multi, "multi": multi}


def subjects_of(spec: BenchmarkSpec, data_dir: Path | None = None, split: str | None = None) -> list[str] | None:
    """Subjects when files are per subject ({subject} in the path): those the spec lists, else the ones on disk
    (which needs data_dir); None when the path has no {subject}."""
    if "{subject}" not in spec.data.local.path:
        return None
    if spec.subjects:
        return list(spec.subjects)
    if data_dir is None:
        raise SpecError(f"{spec.name}: the data path has {{subject}} and the spec lists no subjects: they are "
                        "found in the data folder")
    return discovered_subjects(spec, data_dir, split or spec.splits.eval)


def check_split(spec: BenchmarkSpec, data_dir: Path, split: str) -> None:
    """A split the spec declares, or one whose files are on disk (a release's split the spec does not name, such as
    MMLU's val); anything else is a typo, refused with the splits there are rather than read as missing data."""
    roles = {spec.splits.eval: "evaluated by default", spec.splits.fewshot: "few-shot examples"}
    roles.update({name: "no answers" for name in spec.splits.unlabelled})
    roles.pop(None, None)
    if split in roles:
        return
    on_disk = splits_on_disk(spec, data_dir)
    if split in on_disk:
        return
    has = ", ".join(f"{name} ({role})" for name, role in roles.items())
    extra = [s for s in on_disk if s not in roles]
    raise SpecError(f"{spec.name} has no split '{split}': it has {has}"
                    + (f", and under {data_dir}: {', '.join(extra)}" if extra else ""))


def load_split(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list[str] | None = None) -> Split:
    if split in spec.splits.unlabelled:
        raise SpecError(f"{spec.name}: the '{split}' split {spec.splits.unlabelled[split]}")
    all_subjects = subjects_of(spec, data_dir, split)
    if subjects is not None and all_subjects is not None:
        unknown = [s for s in subjects if s not in all_subjects]
        if unknown:
            raise SpecError(f"{spec.name}: unknown subject(s) {', '.join(unknown)}; "
                            f"known: {', '.join(all_subjects)}")
    files = files_of(spec, data_dir, split, None if all_subjects is None else (subjects or all_subjects))
    if not all(f.path.exists() for f in files):
        return _load_from_hub(spec, split, files)
    questions, skipped = [], {}
    for df in files:
        where, rows = file_rows(spec, data_dir, split, df)
        # a placeholder that names the subject (fields.subject) already sets the file's ids apart
        key = "/".join(str(v) for k, v in df.values.items() if k != spec.fields.subject)
        qs, k = rows_to_questions(spec, rows, where, df.subject, file_key=key)
        questions += qs
        for reason, n in k.items():
            skipped[reason] = skipped.get(reason, 0) + n
    every = None
    if subjects is not None and all_subjects is None:
        every, questions = len(questions), [q for q in questions if q.subject in subjects]
        if not questions:
            raise SpecError(f"{spec.name}: no questions with subject(s) {', '.join(subjects)}")
    return Split(questions, [f.path for f in files], skipped, every)


def _load_from_hub(spec: BenchmarkSpec, split: str, files: list[DataFile]) -> Split:
    missing = next(f.path for f in files if not f.path.exists())
    download = f"download {spec.data.release} and pass" if spec.data.release else "pass"
    local_hint = (f"no local copy of {spec.title or spec.name} ({missing} is missing): {download} "
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
    for subj in [f.subject for f in files]:
        config = hub.config.format(subject=subj) if hub.config else None
        try:
            ds = datasets.load_dataset(hub.id, config, split=split)
        except Exception as e:  # offline, gated, renamed: the local route is the answer in every case
            raise SpecError(f"{local_hint}; reading {hub.id} from the hub failed too: {type(e).__name__}: {e}") from None
        qs, _ = rows_to_questions(spec, enumerate(ds, start=1), Path(f"hf://{hub.id}/{config}/{split}"), subj,
                                  field_names=hub.fields)
        questions += qs
    return Split(questions, [])


# ---------------------------------------------------------------- few-shot examples


@dataclass
class ShotPool:
    """The few-shot examples of a benchmark by subject; those under "" serve every subject."""

    spec: BenchmarkSpec
    by_subject: dict[str, list[Question]]
    source: str  # for messages: where the examples come from

    def pick(self, q: Question, k: int) -> list[Question]:
        """The first k examples (fixed order) of the question's subject, then of the shared ones; never the
        question itself."""
        if not k:
            return []
        candidates = self.by_subject.get(q.subject, []) + self.by_subject.get("", [])
        chosen = list(islice((s for s in candidates if s.origin != q.origin), k))
        if len(chosen) < k:
            raise SpecError(f"{self.spec.name}: subject '{q.subject}' has {len(chosen)} few-shot examples in "
                            f"{self.source}, fewer than --shots {k}")
        return chosen


def load_shots(spec: BenchmarkSpec, data_dir: Path, subjects: list[str] | None = None) -> ShotPool:
    """Few-shot examples from the spec's few-shot split, its shots file, or the examples written in it."""
    pool: dict[str, list[Question]] = {}
    if spec.shots is None:
        if not spec.splits.fewshot:
            raise SpecError(f"{spec.name} has no few-shot examples; use --shots 0")
        for s in load_split(spec, data_dir, spec.splits.fewshot, subjects).questions:
            pool.setdefault(s.subject if spec.splits.fewshot_per_subject else "", []).append(s)
        return ShotPool(spec, pool, f"'{spec.splits.fewshot}'")
    if spec.shots.inline is not None:
        where = f"{spec.name}: shots.inline"
        qs, _ = rows_to_questions(spec.model_copy(update={"group": None}), _inline_rows(spec), where, None,
                                  field_names=_inline_fields(spec))
    else:
        where = data_dir / spec.shots.local.path
        qs, _ = rows_to_questions(spec, source_rows(where, spec.shots.local), where, None,
                                  field_names=spec.shots.fields)
    for s in qs:  # a shot with no subject of its own gets the benchmark's name: it serves every subject
        pool.setdefault("" if s.subject == spec.name else s.subject, []).append(s)
    return ShotPool(spec, pool, str(where))


def _inline_fields(spec: BenchmarkSpec) -> dict:
    answer_format = {"multiple_choice": "letter", "short_answer": "number", "open": "reference"}[spec.kind]
    return {"id": None, "question": "question", "answer": "answer", "answer_format": answer_format,
            "choices": {"field": "choices", "style": "list"} if spec.kind == "multiple_choice" else None,
            "subject": "subject", "extra": spec.fields.extra, "answer_pattern": None, "strip_labels": False}


def _inline_rows(spec: BenchmarkSpec):
    for i, shot in enumerate(spec.shots.inline, start=1):
        # a short-answer shot's target (its worked solution) is what the answer template shows
        answer = shot.get("target", shot.get("answer", "")) if spec.kind != "multiple_choice" else shot.get("answer")
        yield i, {**shot.get("row", {}), "subject": shot.get("subject") or spec.name, **shot, "answer": answer}


def input_files(spec: BenchmarkSpec, data_dir: Path, split: str) -> list[Path]:
    """Every file a run of this split reads, for its data fingerprint: the split's and the few-shot split's files
    (all subjects, so that choosing subjects never changes a run's identity), joined files, the shots file and the
    preprocess hook."""
    paths = source_files(spec, data_dir, split)
    if spec.splits.fewshot and spec.splits.fewshot != split:
        paths += source_files(spec, data_dir, spec.splits.fewshot)
    if spec.shots is not None and spec.shots.local is not None:
        paths.append(data_dir / spec.shots.local.path)
    return [p for p in dict.fromkeys(paths) if p.exists()]


def fingerprint_files(paths: list[Path]) -> str:
    """Content hash of the data files a run reads: changed data is a different result."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]

