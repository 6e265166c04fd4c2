"""llama.cpp backend on GGUF files converted here from a tiny HF model with llama.cpp's own converter: the same
token ids and letter log-probs as transformers (f32), Q8_0 / Q4_K_M variants compared, and generation.
Needs llama-cpp-python and a llama.cpp source tree (LLAMA_CPP_DIR); both take a ~13-minute build, so CI skips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import cli

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install "
                                                     "'pandian[llamacpp]', a ~13-minute source build)")
LLAMA_CPP_DIR = Path(os.environ.get("LLAMA_CPP_DIR", ""))
if not (LLAMA_CPP_DIR / "convert_hf_to_gguf.py").exists():
    pytest.skip("set LLAMA_CPP_DIR to a llama.cpp source tree to convert models to GGUF", allow_module_level=True)


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory, data_dir):
    from pandian.backends.tiny import TinyShape, build_tiny_model

    texts = [p.read_text(encoding="utf-8") for p in sorted((data_dir / "cmmlu" / "data" / "dev").glob("*.csv"))]
    # hidden 256: llama.cpp's k-quants need rows divisible by 256
    root = tmp_path_factory.mktemp("gguf")
    hf = build_tiny_model(root / "hf", texts, TinyShape(vocab_size=4096, hidden_size=256, intermediate_size=512))
    out = {"hf": hf}
    for kind in ("f32", "q8_0", "q4_k_m"):
        out[kind] = root / f"tiny-{kind}.gguf"
        cli("gguf", hf, "--out", out[kind], "--type", kind, "--pretokenizer", "qwen2")
    return out


def eval_json(model, data_dir, db):
    out = cli("eval", "--model", model, "--bench", "cmmlu", "--data-dir", data_dir, "--shots", "5",
                 "--subjects", "agronomy,anatomy", "--limit", "15", "--prompt-format", "lm-eval", "--db", db, "--json")
    return json.loads(out)


def test_gguf_f32_matches_transformers(ggufs, data_dir, tmp_path):
    db = tmp_path / "r.db"
    ref = eval_json(ggufs["hf"], data_dir, db)
    f32 = eval_json(ggufs["f32"], data_dir, db)
    assert f32["config"]["backend"] == "llama.cpp" and f32["config"]["quant"] == "gguf-f32"
    import sqlite3

    con = sqlite3.connect(db)

    def recs(run):
        return {q: (p, json.loads(lp)) for q, p, lp in
                con.execute("SELECT qid, pred, logprobs FROM records WHERE run_id=?", (run,))}

    a, b = recs(ref["run_id"]), recs(f32["run_id"])
    assert a.keys() == b.keys() and len(a) == 30
    for q in a:
        assert a[q][0] == b[q][0], q
        assert max(abs(x - y) for x, y in zip(a[q][1], b[q][1])) < 1e-3, q


def test_quantized_ggufs_compare_and_generate(ggufs, data_dir, tmp_path):
    db = tmp_path / "r.db"
    runs = [eval_json(ggufs[k], data_dir, db)["run_id"] for k in ("f32", "q8_0", "q4_k_m")]
    cmp = json.loads(cli("compare", *runs, "--db", db, "--json"))
    labels = [v["label"] for v in cmp["variants"]]
    assert "gguf-q8_0" in labels[1] and "gguf-q4_k_m" in labels[2]
    assert cmp["variants"][2]["mean_kl"] > cmp["variants"][1]["mean_kl"] > 0  # coarser weights move answers more
    out = json.loads(cli("eval", "--model", ggufs["q4_k_m"], "--bench", "gsm8k", "--data-dir", data_dir,
                            "--limit", "2", "--max-tokens", "8", "--db", db, "--json"))
    assert out["questions"] == 2 and out["resources"]["decode"]["ttft_s_p50"] > 0
