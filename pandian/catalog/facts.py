"""The catalog's record types: a model line, a published score, a published GPU-memory figure, a way to evaluate.

Every published number keeps where it was read (a source), the setting the source states, and the line of the
data file it came from, so that a report can cite it and a reviewer can find it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# `owner/repo:path@commit [table name]`, the form every scores.csv and resources.csv source has.
_REPO_SOURCE = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+):(?P<path>.+?)@(?P<commit>[0-9a-f]{40})(?: \[(?P<table>.*)\])?$")


@dataclass(frozen=True)
class Source:
    text: str  # as written in the data file
    repo: str | None = None
    path: str | None = None
    commit: str | None = None
    table: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Source":
        m = _REPO_SOURCE.match(text.strip())
        if not m:
            return cls(text=text.strip())
        return cls(text=text.strip(), repo=m["repo"], path=m["path"], commit=m["commit"], table=m["table"])

    @property
    def url(self) -> str | None:
        """The cited file at the cited commit on GitHub, or the first web address of a free-text source."""
        if self.repo:
            return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}"
        m = re.search(r"https?://\S+", self.text)
        return m.group(0).rstrip(";,)") if m else None

    @property
    def short(self) -> str:
        """owner/repo:path [table], without the commit: what a table cell shows."""
        if not self.repo:
            return self.text
        return f"{self.repo}:{self.path}" + (f" [{self.table}]" if self.table else "")

    def to_dict(self) -> dict:
        return {"text": self.text, "repo": self.repo, "path": self.path, "commit": self.commit, "table": self.table,
                "url": self.url}


@dataclass(frozen=True)
class Route:
    """One way pandian evaluates a model (a row of evaluation.csv).

    how: hub (a hub id or local copy of it, with a backend), api (a preset or an OpenAI-compatible endpoint),
    adapter (a LoRA adapter on a base model), manual (weights exist but not on a hub: the note says the steps),
    none (not publicly evaluable: the note says why).
    """

    model_key: str
    how: str
    checkpoint: str  # the display name, spelled as the published tables spell the variant
    target: str  # hub id, PRESET:MODEL, adapter id; empty for none
    base: str  # the base model of an adapter
    backend: str  # hf, vllm, llamacpp, openai; empty for none
    params_b: float | None  # parameters in billions, as published (MoE: total)
    # (precision, hub id) pairs: an empty id loads `target` in that precision (bf16, or int8/int4 quantized on the
    # fly by bitsandbytes); a hub id names a pre-quantized checkpoint (GPTQ, AWQ, FP8, the vendor's 4-bit release).
    precisions: tuple[tuple[str, str], ...]
    flags: str  # extra pandian eval flags this checkpoint needs (--trust-remote-code)
    config: str  # name of a config.json under pandian/catalog/configs (architecture numbers for `fit`)
    kind: str  # base or chat
    commercial: str  # overrides the model line's commercial_use for this checkpoint when set (Qwen2.5-3B / -72B)
    note: str
    line: int

    @property
    def command(self) -> str | None:
        """The `pandian eval` invocation that evaluates this route, or None where there is none."""
        if self.how == "hub":
            extra = f" --backend {self.backend}" if self.backend not in ("", "hf") else ""
            return f"pandian eval --model {self.target}{extra}{' ' + self.flags if self.flags else ''}"
        if self.how == "api":
            return f"pandian eval --model {self.target}{' ' + self.flags if self.flags else ''}"
        if self.how == "adapter":
            return (f"pandian eval --model {self.base} --adapter {self.target}"
                    f"{' ' + self.flags if self.flags else ''}")
        return None

    def to_dict(self) -> dict:
        return {"how": self.how, "checkpoint": self.checkpoint, "target": self.target, "base": self.base,
                "backend": self.backend, "params_b": self.params_b,
                "precisions": [{"precision": p, "target": t or self.target} for p, t in self.precisions],
                "flags": self.flags, "config": self.config, "kind": self.kind, "commercial": self.commercial,
                "note": self.note,
                "command": self.command, "line": self.line}


@dataclass(frozen=True)
class Model:
    key: str
    name_zh: str
    name_en: str
    org: str
    open_weights: str  # yes / no / partial
    hf_repo_id: str
    sizes: str
    variants: str
    license_name: str
    commercial_use: str  # yes / no / application / unclear / "" (not found in a source read)
    context_length: str
    domain: str
    release: str
    successor: str
    source: str
    line: int
    routes: tuple[Route, ...] = field(default=())

    @property
    def sources(self) -> list[Source]:
        return [Source.parse(part) for part in self.source.split(" ; ") if part.strip()]

    @property
    def evaluable(self) -> bool:
        return any(r.how != "none" for r in self.routes)

    def to_dict(self) -> dict:
        return {"key": self.key, "name_zh": self.name_zh, "name_en": self.name_en, "org": self.org,
                "open_weights": self.open_weights, "hf_repo_id": self.hf_repo_id, "sizes": self.sizes,
                "variants": self.variants, "license_name": self.license_name, "commercial_use": self.commercial_use,
                "context_length": self.context_length, "domain": self.domain, "release": self.release,
                "successor": self.successor, "source": self.source, "evaluable": self.evaluable,
                "evaluation": [r.to_dict() for r in self.routes], "line": self.line}


@dataclass(frozen=True)
class Score:
    model_key: str  # a models.csv key, or ext:<slug> for a reference model outside the catalog (GPT-4, LLaMA)
    variant: str
    benchmark: str  # CMMLU, or CMMLU:STEM for a category sub-score
    setting: str  # split / shots / harness as the source states it ("" when it states none)
    score: float
    text: str  # the number as written ("54.00"): its decimals tell a rounding from a disagreement
    source: Source
    line: int

    @property
    def decimals(self) -> int:
        return len(self.text.partition(".")[2])

    @property
    def base_benchmark(self) -> str:
        return self.benchmark.split(":", 1)[0]

    @property
    def part(self) -> str | None:
        return self.benchmark.split(":", 1)[1] if ":" in self.benchmark else None

    def to_dict(self) -> dict:
        return {"model_key": self.model_key, "variant": self.variant, "benchmark": self.benchmark,
                "setting": self.setting, "score": self.score, "text": self.text,
                "source": self.source.to_dict(), "line": self.line}


@dataclass(frozen=True)
class Resource:
    model_key: str
    variant: str
    precision: str  # as published: fp16, int4 (GPTQ), unquantized (precision not stated), ...
    gpu_memory_gb: float | None  # None where the source gives text without a number
    raw_value: str
    setting: str
    source: Source
    line: int

    @property
    def inference(self) -> bool:
        """False for fine-tuning and host-RAM rows: they say so in their setting."""
        s = self.setting.lower()
        return not any(w in s for w in ("fine-tuning", "host ram", "not gpu", "cpu inference")) \
            and "cpu" not in self.precision.lower()

    def to_dict(self) -> dict:
        return {"model_key": self.model_key, "variant": self.variant, "precision": self.precision,
                "gpu_memory_gb": self.gpu_memory_gb, "raw_value": self.raw_value, "setting": self.setting,
                "inference": self.inference, "source": self.source.to_dict(), "line": self.line}


@dataclass(frozen=True)
class Conflict:
    """Sources that publish different numbers for the same model variant, benchmark and setting."""

    model_key: str
    variant: str
    benchmark: str
    setting: str  # the first row's setting; with comparable=True the rows' settings may be written differently
    scores: tuple[Score, ...]

    @property
    def values(self) -> list[float]:
        return sorted({s.score for s in self.scores})

    @property
    def spread(self) -> float:
        return max(self.values) - min(self.values)

    @property
    def rounding_only(self) -> bool:
        """True when the values agree once rounded to the fewest decimals any source prints (57.07 vs 57.1)."""
        digits = min(s.decimals for s in self.scores)
        return len({round(s.score, digits) for s in self.scores}) == 1

    def to_dict(self) -> dict:
        return {"model_key": self.model_key, "variant": self.variant, "benchmark": self.benchmark,
                "setting": self.setting, "values": self.values, "spread": round(self.spread, 4),
                "rounding_only": self.rounding_only, "scores": [s.to_dict() for s in self.scores]}
