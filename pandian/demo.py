"""`pandian demo`: the whole pipeline offline, on a tiny model built here.

It builds (once, cached under ~/.pandian) a random-init Qwen2-shaped model with a byte-level BPE tokenizer trained
locally with a fixed seed, evaluates it on pandian's own 40-question sample and, when the data directory has CMMLU,
on CMMLU 5-shot, and prints the per-category tables. The model scores at chance (about 25%) by design.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .tiny import TinyShape, cached_tiny_model

SAMPLE = Path(__file__).parent / "samples" / "demo_mc.jsonl"
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


def run_demo(data_dir: Path | None, db: Path | None, cmmlu_limit: int) -> None:
    from .backends.hf import load_hf_model
    from .cli import print_summary, run_eval
    from .data import default_data_dir
    from .runner import EvalOptions
    from .spec import load_spec
    from .store import default_db
    from .userfile import user_spec

    console = Console()
    data_dir = data_dir or default_data_dir()
    db = db or default_db()
    console.print("[bold]pandian demo[/]: building (or reusing) a tiny random-init model; it scores at chance "
                  "(~25% on 4 choices) by design — the point is the pipeline, not the number.")
    model_dir = cached_tiny_model(demo_corpus(data_dir), DEMO_SHAPE)
    model = load_hf_model(str(model_dir), device="cpu")
    console.print(f"model: {model_dir} ({sum(p.numel() for p in model.model.parameters()) / 1e6:.1f}M parameters)")

    sample = user_spec(SAMPLE, {})
    result = run_eval(model, sample, EvalOptions(data_dir=SAMPLE.parent), db, None)
    print_summary(result.summary)

    if (data_dir / "cmmlu" / "data").is_dir():
        opts = EvalOptions(data_dir=data_dir, shots=5, limit=cmmlu_limit)
        result = run_eval(model, load_spec("cmmlu"), opts, db, None)
        print_summary(result.summary)
    else:
        console.print(f"[yellow]CMMLU not found under {data_dir}[/]: pass --data-dir or set PANDIAN_DATA_DIR to a "
                      "folder holding cmmlu/data/{dev,test}/ to include it.")
    console.print(f"records: {db} (pandian runs --db {db})")
