"""Benchmark specs: a benchmark in a standard shape is a YAML file, validated here.

A spec says where the data is (the benchmark's original release layout under a data directory, or a hub id), which
split is evaluated and which supplies few-shot examples, how a row maps to question / choices / answer, how subjects
group into categories, and the prompt formats. Its hash is part of every result's identity.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from pandian.core.errors import InputError
from pandian.core.locate import located
from pandian.core.placeholders import check_path

BUILTIN_DIR = Path(__file__).parent.parent / "benchmarks"
# An option's label inside a question's text: "A." "A．" "A:" "A：" "A、" "(A)" "（A）" "A)", not inside a word.
DEFAULT_OPTION_PATTERN = r"(?<![A-Za-z])[(（]?(?P<label>[A-J])(?:[)）]|\s*[.．:：、])"


class SpecError(InputError):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiled(pattern: str, what: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{what} is not a valid regex: {e}") from None


class Source(Strict):
    """One file, or one file per {subject} (and per any other {placeholder}), and how to read its rows."""

    # Relative to the data directory. {split} and {subject} are filled in; {subject} with no subjects listed, and any
    # other {name}, are found by matching the files on disk, and each file's values become row fields.
    path: str
    format: Literal["csv", "tsv", "jsonl", "json", "xlsx"]
    delimiter: str | None = None  # csv: one character (default ","); tsv means "\t"
    header: bool = True  # csv / tsv / xlsx: the first row names the columns
    # Names for the columns of a headerless file, or for the positions of JSON rows that are arrays (C3).
    columns: list[str] | None = None
    # json: where the rows are, as a key path ("example", "data.items") or a JSON pointer ("/data/items"). The rows
    # are a list of objects (or arrays, with `columns`), or an object of objects (each row gets its key as `_key`).
    items: str | None = None
    encoding: str = "utf-8"  # e.g. gb18030 for releases saved on Chinese Windows; a UTF-8 BOM is always allowed
    sheet: str | None = None  # xlsx: the worksheet (default: the first)

    @field_validator("path")
    @classmethod
    def _placeholders(cls, v):
        return check_path(v)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v):
        if v is not None and len(v) != 1:
            raise ValueError("delimiter must be one character (use \\t for tabs, or format: tsv)")
        return v

    def model_post_init(self, _ctx) -> None:
        if not self.header and not self.columns and self.format in ("csv", "tsv", "xlsx"):
            raise ValueError("header: false needs columns: the names of the file's columns in order")
        if self.items is not None and self.format != "json":
            raise ValueError("items (a path into a JSON document) needs format: json")


class Join(Source):
    """Fields from another file, matched by a key: releases that publish answers apart from questions. A joined
    field fills a field the row lacks; fields the row has keep their value."""

    key: str  # the row field holding the key
    file_key: str = "_key"  # the field of the other file's rows holding it (_key: the file is an object keyed by it)


class HubData(Strict):
    id: str
    config: str | None = None  # may contain {subject}

    @field_validator("config")
    @classmethod
    def _subject_only(cls, v):
        return check_path(v, ("subject",), only=True) if v else v
    # Hub releases sometimes shape fields differently from the original files: overrides of `fields`.
    fields: dict = Field(default_factory=dict)


class Data(Strict):
    local: Source
    hub: HubData | None = None
    join: Join | None = None
    # Where the authors' release lives, for error messages that tell the user what to download.
    release: str | None = None


class Splits(Strict):
    eval: str
    fewshot: str | None = None
    fewshot_per_subject: bool = True  # shots come from the same subject's few-shot file
    unlabelled: dict[str, str] = Field(default_factory=dict)  # split -> why it cannot be scored


class Shots(Strict):
    """Few-shot examples kept apart from the data's splits: another file, or examples written in the spec. A shot
    with a subject serves that subject's questions only; one without serves every question."""

    local: Source | None = None
    fields: dict = Field(default_factory=dict)  # overrides of the spec's `fields` for that file's rows
    # Examples written out: {question, choices (a list), answer (label(s), a number or a text), target (a worked
    # solution), subject, row ({name: value} for the templates' row.NAME)}.
    inline: list[dict] | None = None

    def model_post_init(self, _ctx) -> None:
        if (self.local is None) == (self.inline is None):
            raise ValueError("give exactly one of local (a file) or inline (a list of examples)")
        for i, shot in enumerate(self.inline or []):
            unknown = set(shot) - {"question", "choices", "answer", "target", "subject", "row"}
            if unknown or "question" not in shot:
                raise ValueError(f"inline shot {i + 1}: needs question; allowed keys are question, choices, "
                                 f"answer, target, subject, row (got {', '.join(sorted(shot))})")


class Choices(Strict):
    """Choices held in one field: a list, a {label: text} dict, or one string split by a separator."""

    field: str
    # list, dict, split (one string cut at `separator`), or embedded: the options are written inside the text after
    # the stem ("…？A.xxx B.yyy"); when `field` is the question's, the question becomes the stem.
    style: Literal["list", "dict", "split", "embedded"]
    separator: str | None = None
    label_prefix: str | None = None  # regex removed from the start of each split piece, e.g. "^[A-E]\\s*"
    # embedded: a regex matching one option's label, the letter in a group named label.
    pattern: str = DEFAULT_OPTION_PATTERN

    def model_post_init(self, _ctx) -> None:
        if self.style == "split" and not self.separator:
            raise ValueError("style: split needs a separator")
        if self.style == "embedded":
            if "label" not in _compiled(self.pattern, "pattern").groupindex:
                raise ValueError("pattern needs a group named label, e.g. (?P<label>[A-D])[.:]")


class Fields(Strict):
    id: str | None = None  # None: the row number is the id
    question: str
    choices: list[str] | Choices | None = None  # None for short-answer and open tasks
    answer: str | None = None  # None for open tasks without a reference
    # letter / index / text / column: which choice is right. number: a numeric answer (the gold is the number
    # extract_number finds in the field, e.g. after GSM8K's "####"). reference: a reference answer for a judge.
    answer_format: Literal["letter", "index", "text", "column", "number", "reference"] = "letter"
    subject: str | None = None  # a column naming each row's subject (when files are not per subject)
    extra: list[str] = Field(default_factory=list)  # more row fields templates may use, as row.NAME
    # A regex applied to the answer before it is read: its group 'answer' (or group 1, or the whole match) is the
    # answer. LawBench writes "正确答案：B。".
    answer_pattern: str | None = None
    # Remove each choice's own label from the start of its text ("A: 北京" -> "北京"), once.
    strip_labels: bool = False

    @field_validator("answer_pattern")
    @classmethod
    def _regex(cls, v):
        if v is not None:
            _compiled(v, "answer_pattern")
        return v


class Group(Strict):
    """One release item that holds several questions. Each question's id is the group's id + "#" + its part number
    (from 1); templates see group, part and stem."""

    items: str | None = None  # a field holding a list of sub-questions (objects), read over the group row's fields
    # A regex that cuts the question text into parts, each starting at a match; the text before the first match is
    # the shared stem. A list answer gives each part its element, in order.
    split: str | None = None
    per_answer: bool = False  # one question per element of a list answer, all sharing the question and its options

    def model_post_init(self, _ctx) -> None:
        if sum((self.items is not None, self.split is not None, self.per_answer)) != 1:
            raise ValueError("give exactly one of items, split or per_answer")
        if self.split is not None:
            _compiled(self.split, "split")


class Generation(Strict):
    """Defaults for generative scoring; the run's own settings override them and are part of its identity."""

    max_tokens: int = 512
    stop: list[str] = Field(default_factory=list)


class Subject(Strict):
    name: str  # the display name used in prompts (Chinese for CMMLU / C-Eval)
    categories: list[str] = Field(default_factory=list)


class PromptFormat(Strict):
    """Jinja templates. The prompt is description + each shot (question + answer + shot_separator) + question;
    the scored continuations are `answer` rendered for each label."""

    description: str = ""
    question: str
    answer: str
    shot_separator: str = "\n\n"
    # "separate": context and continuation tokenized apart (the official CMMLU / C-Eval / MMLU scripts read the
    # letter's logit at the context's last position). "lm-eval": encode context+continuation and split, as
    # lm-evaluation-harness does, so that its numbers can be reproduced exactly. "opencompass": OpenCompass's
    # perplexity inferencer: each choice's whole text is tokenized as one string and the choice with the lowest
    # perplexity over all of its tokens (context included) wins.
    tokenization: Literal["separate", "lm-eval", "opencompass"] = "separate"
    # What a prompt longer than the model's context becomes, unless the run says otherwise (--overflow):
    # "drop-shots" drops few-shot examples from the end until it fits; "truncate-left" keeps every example and cuts
    # tokens from the start (what lm-evaluation-harness does).
    overflow: Literal["drop-shots", "truncate-left"] = "drop-shots"
    # The harness configuration the format reproduces (e.g. an OpenCompass config file), recorded in run identities.
    source: str | None = None
    # The scoring the format is meant for (e.g. "generate" for an OpenCompass generation config); None: any.
    scoring: Literal["letter", "choice", "generate"] | None = None
    # How a generated answer becomes a choice: pandian's extraction (None) or an OpenCompass post-processor.
    postprocess: Literal["first_capital", "first_option"] | None = None


class BenchmarkSpec(Strict):
    name: str
    # multiple_choice: scored by log-likelihood or by generation + letter extraction; short_answer: generation +
    # number extraction; open: free text graded by a judge model.
    kind: Literal["multiple_choice", "short_answer", "open"] = "multiple_choice"
    # Metadata: required for a public benchmark, optional for a private one.
    title: str | None = None
    language: str = "zh"
    license: str | None = None
    homepage: str | None = None
    # Private data is never sent to a remote API without --allow-remote-data.
    private: bool = False
    data: Data
    splits: Splits
    fields: Fields
    shots: Shots | None = None
    group: Group | None = None
    # An answer with several labels ("AD", ["A", "D"]): error, skip (counted), or score (exact set, and partial
    # credit as a second metric).
    multi_answer: Literal["error", "skip", "score"] = "error"
    # gold: a question is multi-select when its answer has several labels; all: every question is (the model is
    # not told how many are right), as in exams of 不定项选择题.
    multi_select: Literal["gold", "all"] = "gold"
    # "file.py:function" beside the spec: called on each file's raw rows (a list of dicts) before validation, for
    # what no option covers. It runs Python, so pandian asks for --trust-spec-code.
    preprocess: str | None = None
    # Answer values that mean a release item has no usable answer (CMExam has one 'nan'): skipped and counted.
    no_answer_values: list[str] = Field(default_factory=list)
    subjects: dict[str, Subject] | None = None  # None: the subject field or the benchmark name itself
    prompts: dict[str, PromptFormat]
    default_prompt: str
    generation: Generation = Generation()

    @field_validator("prompts")
    @classmethod
    def _has_prompts(cls, v):
        if not v:
            raise ValueError("at least one prompt format is required")
        return v

    def model_post_init(self, _ctx) -> None:
        if self.default_prompt not in self.prompts:
            raise ValueError(f"default_prompt '{self.default_prompt}' is not one of prompts: {sorted(self.prompts)}")
        if self.kind == "multiple_choice" and self.fields.choices is None:
            raise ValueError("a multiple_choice benchmark needs fields.choices")
        if not self.private:
            missing = [k for k in ("title", "license", "homepage") if getattr(self, k) is None]
            missing += ["data.release"] if self.data.release is None else []
            if missing:
                raise ValueError(f"a public benchmark needs {', '.join(missing)} (or mark it private: true)")
        if self.shots is not None and self.splits.fewshot is not None:
            raise ValueError("few-shot examples come from splits.fewshot or from shots, not both")
        if self.shots is not None and self.kind == "multiple_choice" and any("target" in s for s in self.shots.inline or []):
            raise ValueError("shots.inline: target (a worked solution) is for short-answer and open tasks; put an "
                             "explanation for the template in row")
        if self.preprocess is not None and not re.fullmatch(r"[\w./-]+\.py:[A-Za-z_]\w*", self.preprocess):
            raise ValueError(f"preprocess must be FILE.py:FUNCTION beside the spec, got {self.preprocess!r}")

    _folder: Path | None = PrivateAttr(default=None)  # where the spec file is: preprocess files sit beside it
    _code_allowed: bool = PrivateAttr(default=False)  # the user passed --trust-spec-code

    @property
    def code_allowed(self) -> bool:
        return self._code_allowed

    def allow_code(self) -> None:
        self._code_allowed = True

    _source: Path | None = PrivateAttr(default=None)  # the spec file, for errors that name its lines

    def where(self, loc: tuple) -> str:
        """'FILE, line N, field 'a.b'' for a field path, as errors name it."""
        if self._source is None:
            return f"{self.name}, field '{'.'.join(map(str, loc))}'"
        return located(self._source, self._source.read_text(encoding="utf-8"), loc)

    def spec_hash(self) -> str:
        # Defaults are left out, so that a new optional field never changes the identity of existing runs.
        blob = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True, ensure_ascii=False)
        h = hashlib.sha256(blob.encode())
        if self.preprocess is not None:  # the hook's code changes the questions as much as the spec does
            h.update(self.preprocess_file().read_bytes())
        return h.hexdigest()[:16]

    def preprocess_file(self) -> Path:
        file = (self._folder or Path(".")) / self.preprocess.split(":")[0]
        if not file.is_file():
            raise SpecError(f"{self.name}: preprocess file {file} not found (it must sit beside the spec)")
        return file

    def subject_name(self, subject: str) -> str:
        if self.subjects and subject in self.subjects:
            return self.subjects[subject].name
        return subject.replace("_", " ")

    def categories_of(self, subject: str) -> list[str]:
        if self.subjects and subject in self.subjects:
            return self.subjects[subject].categories
        return []


def load_spec_file(path: Path) -> BenchmarkSpec:
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a benchmark spec must be a mapping")
    try:
        spec = BenchmarkSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise SpecError(f"{located(path, text, err['loc'])}: {err['msg']}") from None
    from pandian.core.prompts import check_templates  # prompts renders specs, so it imports this module

    for loc, message in check_templates(spec)[:1]:
        raise SpecError(f"{located(path, text, loc)}: {message}")
    spec._folder = path.resolve().parent
    spec._source = path
    return spec


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_spec(name_or_path: str) -> BenchmarkSpec:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise SpecError(f"{path}: spec file not found")
        return load_spec_file(path)
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return load_spec_file(builtin)
    raise SpecError(f"unknown benchmark '{name_or_path}': built-in ones are {', '.join(builtin_names())}; "
                    "or pass a spec .yaml (docs/specs.md), or a .csv/.tsv/.jsonl/.json/.xlsx file of your own "
                    "multiple-choice questions")
