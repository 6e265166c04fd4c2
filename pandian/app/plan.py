"""Evaluation plans: a YAML grid of models x variants x benchmarks, cut into work units that any executor runs.

A unit is one model variant on one shard of a benchmark (a subject, or the whole benchmark when it has none). Every
unit of a (variant, benchmark, options) triple belongs to the same run: the run identity ignores which subjects are
computed, so a plan run in 60 units stores exactly what one `pandian eval` of the whole benchmark would, under the
same run id, whichever executor ran it. Everything a plan names is validated here, before any weights load.

    models:                          # anything `pandian eval --model` takes
      - model: /models/qwen2-7b
        name: qwen2-7b               # label (default: the last part of the path)
        variants: [{}, {quant: int8}, {quant: int4}]   # default: [{}], the model as it is
    benchmarks:
      - bench: cmmlu                 # a built-in name or a spec .yaml
        subjects: [agronomy, anatomy]
        limit: 40
    shots: 5                         # defaults for every benchmark entry, which may override them
    prompt_format: native
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pandian import settings
from pandian.app.lifecycle import EvalOptions, load_inputs
from pandian.core.data import DataError
from pandian.core.locate import line_of, located
from pandian.core.spec import BenchmarkSpec, SpecError, load_spec
from pandian.core.userfile import FORMATS, user_spec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvalFields(Strict):
    """What `pandian eval` options a plan may set, at the top (defaults) or per benchmark."""
    shots: int | None = None
    split: str | None = None
    prompt_format: str | None = None
    scoring: Literal["letter", "choice", "generate"] | None = None
    chat_template: bool | None = None
    system_prompt: str | None = None
    batch_size: int | None = None
    max_tokens: int | None = None
    allow_remote_data: bool | None = None  # a private benchmark's questions may go to a remote API


class VariantEntry(Strict):
    name: str | None = None
    dtype: str = "auto"
    quant: Literal["int8", "int4"] | None = None
    adapter: str | None = None
    revision: str | None = None
    backend: Literal["hf", "vllm"] = "hf"
    trust_remote_code: bool = False
    base_url: str | None = None  # an OpenAI-compatible model's server


class Resources(Strict):
    """What one worker actor asks the Ray cluster for (the local executor ignores it)."""
    cpus: float = 1
    gpus: float = 0
    memory_gb: float | None = None  # default: the memory estimator's figure for the variant (weights + one forward)


class ModelEntry(Strict):
    model: str
    name: str | None = None
    variants: list[VariantEntry] = [VariantEntry()]


class BenchEntry(EvalFields):
    bench: str                     # a built-in name, a spec .yaml, or your own .csv/.jsonl/.json/.xlsx
    subjects: list[str] | None = None
    limit: int | None = None
    fields: dict[str, str] = {}    # your own file: NAME: COLUMN, as `pandian eval --field`
    trust_spec_code: bool = False  # let the spec's preprocess hook (Python beside the spec) run


class PlanFile(EvalFields):
    name: str | None = None
    data_dir: str | None = None
    device: str = "auto"
    models: list[ModelEntry]
    benchmarks: list[BenchEntry]
    resources: Resources = Resources()


class PlanError(SpecError):
    """A plan that cannot run as written; the message names the file, line and field."""


@dataclass(frozen=True)
class Variant:
    """One model as one variant: what loads once per worker."""
    label: str
    model: str
    options: VariantEntry

    @property
    def key(self) -> str:
        return self.label


@dataclass
class Unit:
    variant: Variant
    spec: BenchmarkSpec
    bench: str                     # as the plan names it
    opts: EvalOptions              # subjects = this shard's
    shard: str                     # a subject, or "-" for the whole benchmark
    qids: list[str]
    entry: int = 0                 # which benchmarks[] entry of the plan: its units share one run per variant
    tokens: int | None = None      # estimated prompt + continuation tokens (cost.py)
    params: int | None = None      # the model's parameter count, when its config says
    run_id: str | None = None      # filled by the status check
    done: int = 0                  # questions already stored

    @property
    def key(self) -> str:
        return f"{self.variant.label} | {self.spec.name} | {self.shard}"

    @property
    def questions(self) -> int:
        return len(self.qids)

    @property
    def cost(self) -> float:
        """Estimated compute, FLOPs ~ 2 x parameters x tokens; a model without a config counts as 1B parameters,
        a unit without a tokenizer estimate as 500 tokens a question."""
        tokens = self.tokens if self.tokens is not None else 500 * self.questions
        return 2.0 * (self.params or 1e9) * tokens

    @property
    def complete(self) -> bool:
        return self.done >= self.questions


@dataclass
class Plan:
    path: Path
    name: str
    variants: list[Variant]
    units: list[Unit]
    resources: Resources = field(default_factory=Resources)
    device: str = "auto"

    def by_variant(self) -> dict[str, list[Unit]]:
        out: dict[str, list[Unit]] = {}
        for u in self.units:
            out.setdefault(u.variant.key, []).append(u)
        return out


def _error(path: Path, text: str, err: dict) -> PlanError:
    return PlanError(f"{located(path, text, err['loc'])}: {err['msg']}")


def read_plan_file(path: Path) -> tuple[PlanFile, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError(f"{path}: cannot read the plan ({e.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PlanError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise PlanError(f"{path}: a plan must be a mapping with 'models' and 'benchmarks'")
    try:
        return PlanFile.model_validate(raw), text
    except ValidationError as e:
        raise _error(path, text, e.errors()[0]) from None


def _model_ref(ref: str, plan_dir: Path) -> str:
    """A local model path as an absolute one (beside the plan first, then the current folder), so that workers
    started elsewhere find it; a hub id, a modelscope: or an API reference stays as written."""
    for base in (plan_dir, Path.cwd()):
        if (base / ref).exists():
            return str((base / ref).resolve())
    return ref


def _variants(pf: PlanFile, path: Path, text: str) -> list[Variant]:
    out, seen = [], {}
    for i, m in enumerate(pf.models):
        base = m.name or Path(m.model.rstrip("/")).name or m.model
        for j, v in enumerate(m.variants):
            label = base + (f"/{v.name or v.quant or v.dtype}" if len(m.variants) > 1 or v.name else "")
            if label in seen:
                raise _error(path, text, {"loc": ("models", i, "variants", j),
                                          "msg": f"two variants are both called '{label}': give each a name"})
            seen[label] = True
            out.append(Variant(label, _model_ref(m.model, path.parent), v))
    return out


def _options(pf: PlanFile, b: BenchEntry, data_dir: Path) -> EvalOptions:
    def pick(name, default=None):
        value = getattr(b, name)
        return value if value is not None else (getattr(pf, name) if getattr(pf, name) is not None else default)

    return EvalOptions(data_dir=data_dir, shots=pick("shots", 0), subjects=b.subjects, limit=b.limit,
                       split=pick("split"), prompt_format=pick("prompt_format"), scoring=pick("scoring", "letter"),
                       chat_template=pick("chat_template", False), system_prompt=pick("system_prompt"),
                       batch_size=pick("batch_size"), max_tokens=pick("max_tokens"),
                       allow_remote_data=pick("allow_remote_data", False))


def _benchmark(b: BenchEntry, plan_dir: Path, data_dir: Path) -> tuple[BenchmarkSpec, Path]:
    """The spec and data folder of a benchmarks[] entry; files are found beside the plan."""
    path = plan_dir / b.bench
    if path.suffix.lower() in FORMATS:
        return user_spec(path, b.fields), path.parent
    if b.fields:
        raise SpecError("fields name the columns of your own data file; a spec names them itself (docs/specs.md)")
    spec = load_spec(str(path) if path.suffix in (".yaml", ".yml") else b.bench)
    if b.trust_spec_code:
        spec.allow_code()
    return spec, data_dir


def _shards(spec: BenchmarkSpec, opts: EvalOptions) -> list[tuple[str, EvalOptions, list[str]]]:
    """(shard name, options selecting it, its question ids) for one benchmark entry; bad data fails here."""
    split = opts.split or spec.splits.eval
    fmt = opts.prompt_format or spec.default_prompt
    if fmt not in spec.prompts:
        raise SpecError(f"{spec.name}: no prompt format '{fmt}'; it has {', '.join(spec.prompts)}")
    inputs = load_inputs(spec, opts, split)
    for q in inputs.questions:  # every question's shots must exist: a missing one would fail mid-plan on a worker
        inputs.shots(q)
    by_subject: dict[str, list[str]] = {}
    for q in inputs.questions:
        by_subject.setdefault(q.subject, []).append(q.qid)
    if not spec.subjects and len(by_subject) <= 1:
        return [("-", opts, [q.qid for q in inputs.questions])]
    return [(s, replace(opts, subjects=[s]), qids) for s, qids in by_subject.items()]


def load_plan(path: Path | str, data_dir: Path | str | None = None) -> Plan:
    """Read, validate and expand a plan file into units; a data directory flag wins over the plan's own."""
    path = Path(path)
    pf, text = read_plan_file(path)
    # absolute: workers on other machines or in other folders read the same path
    ddir = (path.parent / pf.data_dir if pf.data_dir and not data_dir else settings.data_dir(data_dir)).resolve()
    variants = _variants(pf, path, text)
    units = []
    for i, b in enumerate(pf.benchmarks):
        try:
            spec, bench_dir = _benchmark(b, path.parent, ddir)
            shards = _shards(spec, _options(pf, b, bench_dir))
        except (SpecError, DataError) as e:  # name the plan entry as well as the file at fault
            raise PlanError(f"{path}, line {line_of(text, ('benchmarks', i))}, benchmarks[{i}] ({b.bench}): {e}") \
                from None
        for v in variants:
            units += [Unit(v, spec, b.bench, opts, shard, qids, i) for shard, opts, qids in shards]
    return Plan(path, pf.name or path.stem, variants, units, pf.resources, pf.device)
