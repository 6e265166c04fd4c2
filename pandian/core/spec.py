"""Benchmark specs: a benchmark in a standard shape is a YAML file, validated here.

A spec says where the data is (the benchmark's original release layout under a data directory, or a hub id), which
split is evaluated and which supplies few-shot examples, how a row maps to question / choices / answer, how subjects
group into categories, and the prompt formats. Its hash is part of every result's identity.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

BUILTIN_DIR = Path(__file__).parent.parent / "benchmarks"


class SpecError(ValueError):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalData(Strict):
    # Relative to the data directory; may contain {split} and {subject}.
    path: str
    format: Literal["csv", "jsonl", "json", "xlsx"]
    header: bool = True
    # Column names for headerless CSV (MMLU's official release has none).
    columns: list[str] | None = None


class HubData(Strict):
    id: str
    config: str | None = None  # may contain {subject}
    # Hub releases sometimes shape fields differently from the original files: overrides of `fields`.
    fields: dict = Field(default_factory=dict)


class Data(Strict):
    local: LocalData
    hub: HubData | None = None
    # Where the authors' release lives, for error messages that tell the user what to download.
    release: str


class Splits(Strict):
    eval: str
    fewshot: str | None = None
    fewshot_per_subject: bool = True  # shots come from the same subject's few-shot file
    unlabelled: dict[str, str] = Field(default_factory=dict)  # split -> why it cannot be scored


class Choices(Strict):
    """Choices held in one field: a list, a {label: text} dict, or one string split by a separator."""

    field: str
    style: Literal["list", "dict", "split"]
    separator: str | None = None
    label_prefix: str | None = None  # regex removed from the start of each split piece, e.g. "^[A-E]\\s*"


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
    # lm-evaluation-harness does, so that its numbers can be reproduced exactly.
    tokenization: Literal["separate", "lm-eval"] = "separate"


class BenchmarkSpec(Strict):
    name: str
    # multiple_choice: scored by log-likelihood or by generation + letter extraction; short_answer: generation +
    # number extraction; open: free text graded by a judge model.
    kind: Literal["multiple_choice", "short_answer", "open"] = "multiple_choice"
    title: str
    language: str
    license: str
    homepage: str
    data: Data
    splits: Splits
    fields: Fields
    multi_answer: Literal["error", "skip"] = "error"
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

    def spec_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def subject_name(self, subject: str) -> str:
        if self.subjects and subject in self.subjects:
            return self.subjects[subject].name
        return subject.replace("_", " ")

    def categories_of(self, subject: str) -> list[str]:
        if self.subjects and subject in self.subjects:
            return self.subjects[subject].categories
        return []


def _line_of(text: str, loc: tuple) -> int | None:
    """Line number of a field path in a YAML document, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for key in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == str(key)]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_spec_file(path: Path) -> BenchmarkSpec:
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a benchmark spec must be a mapping")
    try:
        return BenchmarkSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        line = _line_of(text, err["loc"])
        where = f"{path}, line {line}" if line else str(path)
        raise SpecError(f"{where}, field '{field}': {err['msg']}") from None


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_spec(name_or_path: str) -> BenchmarkSpec:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_spec_file(path)
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return load_spec_file(builtin)
    raise SpecError(f"unknown benchmark '{name_or_path}': built-in ones are {', '.join(builtin_names())}; "
                    "or pass a spec .yaml, or a .csv/.jsonl/.json/.xlsx file of your own multiple-choice questions")
