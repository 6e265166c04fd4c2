"""`pandian demo`: the whole pipeline offline, on a tiny model built here.

It builds (once, cached under ~/.pandian) a random-init Qwen2-shaped model with a byte-level BPE tokenizer trained
locally with a fixed seed, evaluates it on pandian's own 40-question sample and, when the data directory has CMMLU,
on CMMLU 5-shot. The model scores at chance (about 25%) by design.
"""

from __future__ import annotations

from pathlib import Path

from pandian.app.lifecycle import EvalOptions
from pandian.backends.tiny import TinyShape, cached_tiny_model
from pandian.core.spec import BenchmarkSpec, load_spec
from pandian.core.userfile import user_spec

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "demo_mc.jsonl"
DEMO_SHAPE = TinyShape(vocab_size=8192, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
                       intermediate_size=256)


def demo_corpus(data_dir: Path) -> list[str]:
    """Tokenizer training text: the sample, plus CMMLU's files when present (a tokenizer that has seen Chinese
    exam text gives realistic sequence lengths)."""
    texts = [SAMPLE.read_text(encoding="utf-8")]
    cmmlu = data_dir / "cmmlu" / "data"
    if cmmlu.is_dir():
        texts += [p.read_text(encoding="utf-8") for p in sorted(cmmlu.glob("*/*.csv"))]
    return texts


def demo_model_dir(data_dir: Path) -> Path:
    return cached_tiny_model(demo_corpus(data_dir), DEMO_SHAPE)


def has_cmmlu(data_dir: Path) -> bool:
    return (data_dir / "cmmlu" / "data").is_dir()


def demo_evaluations(data_dir: Path, cmmlu_limit: int) -> list[tuple[BenchmarkSpec, EvalOptions]]:
    """The sample always; CMMLU 5-shot when the data folder has it."""
    steps = [(user_spec(SAMPLE, {}), EvalOptions(data_dir=SAMPLE.parent))]
    if has_cmmlu(data_dir):
        steps.append((load_spec("cmmlu"), EvalOptions(data_dir=data_dir, shots=5, limit=cmmlu_limit)))
    return steps

