"""pandian/fit.py against published GPU-memory figures and against a forward measured here.

(a) Every inference row of ../shared/reference/resources.csv whose model has a config in tests/fixtures/configs
    is estimated at the row's precision, context and batch, and must land within 20% of the published figure.
(b) A tiny random-init Qwen2 runs a real forward on CPU in a fresh process; its peak resident memory must land
    within 15% of the estimate's weights + KV cache + activations (no CUDA on CPU, so no overhead).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pandian.core.fit import GIB, estimate, fit_report, fits, load_config, parse_gpu, read_arch

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def shared_dir() -> Path:
    if os.environ.get("PANDIAN_DATA_DIR"):
        return Path(os.environ["PANDIAN_DATA_DIR"]).resolve().parent
    return ROOT.parent / "shared"


def fixture(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# (a) published figures
# ---------------------------------------------------------------------------------------------------------------

VARIANT_FIXTURE = {
    "ChatGLM-6B": "chatglm-6b", "ChatGLM2-6B": "chatglm2-6b", "ChatGLM3-6B": "chatglm3-6b",
    "Baichuan2-7B": "baichuan2-7b", "Baichuan2-13B": "baichuan2-13b",
    "Qwen-1.8B-Chat": "qwen-1.8b", "Qwen-7B-Chat": "qwen-7b", "Qwen-7B (v1)": "qwen-7b", "Qwen-14B-Chat": "qwen-14b",
    **{f"Qwen2.5-{s}-Instruct": f"qwen2.5-{s.lower()}" for s in ("0.5B", "1.5B", "3B", "7B", "14B", "32B")},
    **{f"Yi-{s}{suffix}": f"yi-{s.lower()}" for s in ("6B", "34B") for suffix in ("", "-Chat", "-Chat-4bits",
                                                                                  "-Chat-8bits")},
}

# Rows published as a minimum, measured without a stated prompt length: ChatGLM-6B's table ("after 2-3 dialogue
# turns" in its text), ChatGLM3's "about 13GB", Baichuan2's before/after-quantization table, Qwen-7B v1's
# bitsandbytes table (an MMLU run) and Yi's minimum-VRAM and batch tables. They are estimated at 2048 tokens.
DEFAULT_CONTEXT = 2048
# Qwen's speed benchmark (QwenLM/Qwen3 docs) feeds `input length` tokens and generates 2048 more; its input-length-1
# bf16 figures sit within 0.2 GB of the bare weight bytes (Qwen2.5-7B: 14.38 vs 14.18), so it counts what PyTorch's
# allocator hands out (torch.cuda.max_memory_allocated), not the CUDA context: compare those rows without overhead.
ALLOCATOR_SOURCES = ("speed_benchmark",)

# Rows expected outside 20%, each with the reason; the test also fails if one of them comes back inside.
BAICHUAN_LOAD_ONLY = ("Baichuan2's table gives {publ} GB, within 0.15 GB of the bare weights by this module's "
                      "count ({weights}), though its bf16 and 13B-int8 cells include 1.3-2 GB more: this cell "
                      "counts the loaded weights alone, no KV cache, activations or CUDA context, which the "
                      "2048-token estimate adds")
YI_6B_4BIT = ("Yi rounds to whole GB, and 4 GB is only 0.34 GB above Yi-6B-Chat-4bits' AWQ weights (3.66 GB): no "
              "room for a CUDA context, so Yi counted without one. {more}")
EXPECTED_OUTSIDE = {
    ("ChatGLM-6B", "fp16", "minimum GPU memory, inference (early README version; later revised)"):
        "19 GB is the first README's figure; THUDM revised the same cell to 13 GB (NOTES.md caveat 14)",
    ("Baichuan2-7B", "int8 (bitsandbytes)", "GPU memory (README table)"):
        BAICHUAN_LOAD_ONLY.format(publ=8.0, weights="7.95 GB in int8"),
    ("Baichuan2-7B", "int4 (bitsandbytes NF4)", "GPU memory (README table)"):
        BAICHUAN_LOAD_ONLY.format(publ=5.1, weights="5.03 GB in nf4 with the double quantization its 4-bit "
                                                    "checkpoints use"),
    ("Baichuan2-13B", "int4 (bitsandbytes NF4)", "GPU memory (README table)"):
        BAICHUAN_LOAD_ONLY.format(publ=8.6, weights="8.46 GB in nf4 with double quantization"),
    ("Qwen2.5-0.5B-Instruct", "awq", "input length 1; 1 GPU(s)"):
        "0.68 GB is more than the same model's GPTQ-int8 (0.64) and GPTQ-int4 (0.48) at input length 1, while at "
        "30720 tokens AWQ and GPTQ-int4 agree within 0.01 GB: the peak was reached while loading the AWQ checkpoint "
        "(max_memory_allocated counts it), not during inference",
    ("Yi-6B-Chat-4bits", "int4", "minimum VRAM, inference"): YI_6B_4BIT.format(more=""),
    ("Yi-6B-Chat-4bits", "int4", "batch=1"): YI_6B_4BIT.format(more=""),
    ("Yi-6B-Chat-4bits", "int4", "batch=32"): YI_6B_4BIT.format(
        more="At batch 32 all three Yi-6B precisions sit 2-3.5 GB under the estimate: Yi's sequences were shorter "
             "than the 2048-token default (it does not say how long)."),
}


def quant_for(variant: str, precision: str) -> str | None:
    p = precision.lower()
    if "kv cache" in p or "q-lora" in p or "cpu" in p:
        return None  # an int8 KV cache, a fine-tuning setup or host RAM: not what fit.py estimates
    if p.startswith(("gptq", "awq")):
        return p
    bits = "int4" if ("int4" in p or "nf4" in p) else "int8" if "int8" in p else None
    if bits is None:
        # Yi's "unquantized" rows: Yi ships bf16 weights
        return "bf16" if re.search(r"fp16|bf16|16-bit|unquantized", p) else None
    if "bitsandbytes" in p:
        return bits
    if variant.startswith("Yi-"):
        return "awq" if bits == "int4" else "gptq-int8"  # Yi's -4bits checkpoints are AWQ, its -8bits GPTQ
    if variant.startswith("Qwen-"):
        return "gptq-" + bits  # Qwen-*-Chat-Int4/Int8 are GPTQ checkpoints
    # ChatGLM's own int8/int4 keep one fp16 scale per output row: closest to LLM.int8 (int8) and to GPTQ's
    # small per-group scales (int4), not to bitsandbytes' per-64 absmax.
    return "int8" if bits == "int8" else "gptq-int4"


def context_and_batch(setting: str) -> tuple[int, int]:
    batch = int(m.group(1)) if (m := re.search(r"batch(?: size|=)\s*(\d+)", setting)) else 1
    if m := re.search(r"input length\s+(\d+)", setting):
        return int(m.group(1)) + 2048, batch  # Qwen's speed benchmark generates 2048 tokens after the input
    if m := re.search(r"(?:encode|generate|generating)\s+(\d+)\s+tokens", setting):
        return int(m.group(1)), batch
    return DEFAULT_CONTEXT, batch


def covered_rows() -> list[dict]:
    path = shared_dir() / "reference" / "resources.csv"
    if not path.exists():
        pytest.skip(f"published GPU-memory figures not found at {path}: set PANDIAN_DATA_DIR to ../shared/data")
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            setting = r["setting"]
            if "fine-tuning" in setting or "host RAM" in setting or not r["gpu_memory_gb"]:
                continue
            name, quant = VARIANT_FIXTURE.get(r["variant"]), quant_for(r["variant"], r["precision"])
            if name is None or quant is None:
                continue
            context, batch = context_and_batch(setting)
            rows.append({**r, "fixture": name, "quant": quant, "context": context, "batch": batch,
                         "allocator_only": any(s in r["source"] for s in ALLOCATOR_SOURCES)})
    return rows


def test_published_figures_within_20_percent(capsys):
    rows = covered_rows()
    assert len(rows) >= 60, f"only {len(rows)} published rows matched a fixture: has resources.csv changed?"
    lines, unexpected, stale = [], [], []
    for r in rows:
        est = estimate(fixture(r["fixture"]), r["quant"], r["context"], r["batch"])
        predicted = est["total_gb"] - (est["overhead_gb"] if r["allocator_only"] else 0.0)
        published = float(r["gpu_memory_gb"])
        err = (predicted - published) / published * 100
        key = (r["variant"], r["precision"], r["setting"])
        flag = "expected" if key in EXPECTED_OUTSIDE else ("FAIL" if abs(err) > 20 else "")
        lines.append(f"{r['variant']:<22} {r['quant']:<9} {r['context']:>6} {r['batch']:>3} "
                     f"{published:>7.2f} {predicted:>7.2f} {err:>+6.1f}% {flag:<8} {r['setting'][:48]}")
        if key in EXPECTED_OUTSIDE:
            if abs(err) <= 20:
                stale.append(key)
        elif abs(err) > 20:
            unexpected.append(lines[-1])
    errors = [abs(float(line.split("%")[0].split()[-1])) for line in lines]
    kept = [e for e, line in zip(errors, lines) if "expected" not in line]
    with capsys.disabled():
        print(f"\n{'variant':<22} {'estimated':<9} {'ctx':>6} {'bs':>3} {'publ.':>7} {'est.':>7} {'err':>7}")
        print("\n".join(lines))
        print(f"{len(lines)} rows, mean |error| {sum(errors) / len(errors):.1f}%, max {max(errors):.1f}%; "
              f"without the {len(lines) - len(kept)} expected outliers: mean {sum(kept) / len(kept):.1f}%, "
              f"max {max(kept):.1f}%, {sum(e <= 10 for e in kept)} of {len(kept)} within 10%")
        for (variant, precision, setting), why in EXPECTED_OUTSIDE.items():
            print(f"expected outside 20%: {variant} {precision} [{setting}]: {why}")
    assert not unexpected, "estimates more than 20% off:\n" + "\n".join(unexpected)
    assert not stale, f"rows listed in EXPECTED_OUTSIDE are now within 20%, remove them: {stale}"


def _transformers_config(config: dict):
    """The same shapes in a class transformers implements natively (Baichuan, InternLM and Yi are LLaMA-shaped)."""
    from transformers import LlamaConfig, Qwen2Config

    if config["model_type"] == "qwen2":
        return Qwen2Config(**config)
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    kwargs["attention_bias"] = config.get("bias", False)
    kwargs.setdefault("max_position_embeddings", config.get("model_max_length", 4096))
    return LlamaConfig(**kwargs)


@pytest.mark.parametrize("name", ["baichuan2-7b", "baichuan2-13b", "internlm-7b", "internlm-20b", "yi-6b", "yi-34b",
                                  "qwen2.5-0.5b", "qwen2.5-7b", "qwen2.5-32b"])
def test_parameter_count_matches_transformers(name):
    # The count from config numbers against the parameters a real implementation allocates (on the meta device:
    # no memory, no weights). fit.py leaves biases out, hence the 0.1% tolerance.
    import torch
    from transformers import AutoModelForCausalLM

    config = fixture(name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(_transformers_config(config))
    real = sum(p.numel() for p in model.parameters())
    assert read_arch(config).params == pytest.approx(real, rel=1e-3)


def test_config_styles_read_their_own_keys():
    glm2, glm1 = read_arch(fixture("chatglm2-6b")), read_arch(fixture("chatglm-6b"))
    qwen1 = read_arch(fixture("qwen-7b"))
    assert (glm2.layers, glm2.kv_heads, glm2.head_dim, glm2.ffn, glm2.vocab, glm2.tied) == (28, 2, 128, 13696, 65024,
                                                                                          False)
    assert glm2.max_positions == 32768 and read_arch(fixture("chatglm3-6b")).max_positions == 8192
    assert (glm1.gated, glm1.tied, glm1.ffn, glm1.max_positions) == (False, True, 16384, 2048)
    assert glm1.params / 1e9 == pytest.approx(6.2, abs=0.05)  # "6.2B" in ChatGLM-6B's README (models.csv)
    assert qwen1.ffn == 11008 and qwen1.kv_heads == 32  # Qwen-1 writes twice the MLP width, has no GQA
    assert read_arch(fixture("baichuan2-13b")).max_positions == 4096  # model_max_length
    # KV cache scales with key/value heads, not query heads: ChatGLM2's 2 groups hold 1/16 of ChatGLM-6B's 32 heads.
    kv = [estimate(fixture(n), "fp16", 8192, 1)["kv_cache_gb"] for n in ("chatglm2-6b", "chatglm-6b")]
    assert kv[0] * 16 == pytest.approx(kv[1], rel=1e-2)
    with pytest.raises(ValueError, match="mixture-of-experts"):
        read_arch({**fixture("qwen2.5-7b"), "num_experts": 64})


def test_precision_orders_and_scales():
    config = fixture("baichuan2-13b")
    by_quant = {q: estimate(config, q, 2048, 1) for q in ("fp32", "bf16", "int8", "int4")}
    weights = [by_quant[q]["weights_gb"] for q in ("fp32", "bf16", "int8", "int4")]
    assert weights == sorted(weights, reverse=True)
    assert weights[0] == pytest.approx(2 * weights[1], rel=1e-3)
    # Embeddings and lm_head (1.29B of 13.9B) stay 16-bit, so int8 is well above half of bf16.
    assert by_quant["int8"]["weights_gb"] > 0.5 * by_quant["bf16"]["weights_gb"] + 1.0
    one, four = estimate(config, "bf16", 2048, 1), estimate(config, "bf16", 2048, 4)
    assert four["kv_cache_gb"] == pytest.approx(4 * one["kv_cache_gb"], rel=1e-3)
    assert estimate(config, "bf16", 2048, 1, all_logits=True)["activations_gb"] > one["activations_gb"]
    with pytest.raises(ValueError, match="unknown precision"):
        estimate(config, "int3", 2048, 1)


def test_fit_report_text_and_json(tmp_path):
    model_dir = tmp_path / "Baichuan2-13B-Chat"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(fixture("baichuan2-13b")))
    assert [parse_gpu(g) for g in ("24GB", "24", "80G", "24 GiB")] == [24.0, 24.0, 80.0, 24.0]
    as_json = {q: json.loads(fit_report(str(model_dir), "24GB", q, 2048, 1, as_json=True)) for q in ("bf16", "int4")}
    assert as_json["bf16"]["fits"] is False and as_json["int4"]["fits"] is True
    for out in as_json.values():
        parts = ("weights_gb", "kv_cache_gb", "activations_gb", "overhead_gb")
        assert out["total_gb"] == pytest.approx(sum(out[k] for k in parts), abs=0.01)
        assert out["fits"] == fits(out["total_gb"], 24.0)
    text = fit_report(str(model_dir / "config.json"), "24", "int8", 2048, 1, as_json=False)
    assert "KV cache" in text and "fits" in text and "13.90B" in text
    assert "longer than the model's 4096" in fit_report(str(model_dir), "80G", None, 8192, 1)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_config(tmp_path / "missing")
    with pytest.raises(ValueError, match="24GB"):
        parse_gpu("a lot")


# ---------------------------------------------------------------------------------------------------------------
# (b) a measured forward on CPU
# ---------------------------------------------------------------------------------------------------------------

# ~31M parameters (125 MB in fp32) so that weights, KV cache and activations are each tens of MB: far above
# the few MB of noise in a process's resident set. 512 tokens x 4 sequences keeps the forward near a second.
TINY = {"vocab_size": 8192, "hidden_size": 512, "num_layers": 6, "num_heads": 8, "num_kv_heads": 4,
        "intermediate_size": 2048, "max_positions": 4096}
CONTEXT, BATCH = 512, 4
# precision -> the forwards measured on it: with the last position's logits (as generate() computes them) or with
# all of them. int8 gets no forward: on CPU bitsandbytes runs each LLM.int8 matmul through int32 -> fp32 -> fp16 ->
# bf16 copies that its CUDA kernels do not make (the peak came out 33% above the estimate), so only its weights
# are compared. int4 (nf4) dequantizes each weight to bf16 and multiplies, as on CUDA, and runs in bf16: it covers
# the 16-bit KV cache and activations too.
CASES = {"fp32": ["last", "all"], "int4": ["last"], "int8": []}


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def measure(model_dir: str, quant: str, logits: list[str]) -> list[dict]:
    """In a fresh process (see the end of this file): resident-memory growth from loading, then the peak during
    and what stays after a forward for each of `logits` ("last", "all"; none: weights only), on one loaded model.

    One precision per process: safetensors weights that need no conversion stay mapped from the file, and a
    mapping released later would corrupt the next load's baseline.
    """
    import gc
    import tempfile
    import warnings

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    warnings.filterwarnings("ignore")
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(1)

    def load(path):
        if quant == "fp32":
            return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        qc = {"bf16": None, "int8": BitsAndBytesConfig(load_in_8bit=True),
              "int4": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                         bnb_4bit_compute_dtype=torch.bfloat16)}[quant]
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, quantization_config=qc)

    def forward(model, tokens, batch, which):
        ids = torch.randint(0, model.config.vocab_size, (batch, tokens), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            return model(ids, use_cache=True, logits_to_keep=0 if which == "all" else 1)

    # Load and run a one-layer model of the same kind first, so that the code and kernels loaded on first use
    # are in the baseline rather than in the measurement.
    with tempfile.TemporaryDirectory() as micro:
        Qwen2ForCausalLM(Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                     num_attention_heads=4, num_key_value_heads=2)).save_pretrained(micro)
        for which in logits or ["last"]:
            forward(load(micro), 16, 2, which)
    gc.collect()
    base = _rss("VmRSS")
    model = load(model_dir)
    with torch.no_grad():  # weights mapped from the file become resident when read: read them all now
        for p in model.parameters():
            p.sum()
    gc.collect()
    loaded = _rss("VmRSS")
    results = []
    for which in logits:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak-RSS mark (VmHWM) to the current resident set
        out = forward(model, CONTEXT, BATCH, which)
        results.append({"logits": which, "weights": (loaded - base) / GIB, "peak": (_rss("VmHWM") - base) / GIB,
                        "kept": (_rss("VmRSS") - loaded) / GIB})  # what the output holds: KV cache and logits
        del out
        gc.collect()
    return results or [{"logits": None, "weights": (loaded - base) / GIB, "peak": None}]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from pandian.backends.tiny import TinyShape, build_tiny_model

    # Random "words" of CJK characters so that the byte-level BPE reaches the full 8192-token vocabulary: with
    # all logits kept, batch x context x vocab is the largest temporary, and the test should see it.
    rng = random.Random(0)
    chars = [chr(0x4E00 + i) for i in range(6000)]
    words = " ".join("".join(rng.choice(chars) for _ in range(rng.randint(1, 3))) for _ in range(60000))
    texts = [(ROOT / "pandian" / "samples" / "demo_mc.jsonl").read_text(encoding="utf-8"), words]
    return build_tiny_model(tmp_path_factory.mktemp("fit") / "model", texts, TinyShape(**TINY))


def test_tiny_model_forward_matches_estimate(tiny_dir, capsys):
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak-RSS mark between loading and forward")
    cases = {q: v for q, v in CASES.items() if q in ("fp32", "bf16") or importlib.util.find_spec("bitsandbytes")}
    # glibc keeps freed blocks below its (adaptive) mmap threshold in the heap, so the resident set would also
    # count memory already freed; a fixed 64 KiB threshold hands every tensor back on free, as torch's CUDA
    # allocator statistics do: the peak is then the peak of live tensors.
    # MKL likewise caches its GEMM packing buffers (a few MiB, kept after the forward, as a cuBLAS workspace is,
    # which the estimate leaves to its overhead term); MKL_DISABLE_FAST_MM hands them back too.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MKL_DISABLE_FAST_MM": "1", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}

    def run(quant):
        proc = subprocess.run([sys.executable, __file__, str(tiny_dir), quant, *cases[quant]], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [(quant, m) for m in json.loads(proc.stdout.strip().splitlines()[-1])]

    with ThreadPoolExecutor(max_workers=2) as pool:  # separate processes: their resident sets do not mix
        measured = [item for items in pool.map(run, cases) for item in items]
    config = json.loads((tiny_dir / "config.json").read_text())
    lines, failures = [], []
    for quant, m in measured:
        est = estimate(config, quant, CONTEXT, BATCH, all_logits=m["logits"] == "all", cuda_overhead_gb=0.0)
        mib = {k: est[k] * 1024 for k in ("weights_gb", "kv_cache_gb", "activations_gb", "total_gb")}
        w_err = (mib["weights_gb"] - m["weights"] * 1024) / (m["weights"] * 1024) * 100
        line = f"{quant:<5} weights {m['weights'] * 1024:6.1f} / {mib['weights_gb']:6.1f} MiB ({w_err:+5.1f}%)"
        # Weights within 5%, or 2 MiB: the resident set moves that much with what the warm-up left in allocator
        # arenas and Python objects (a full-size warm-up instead of the one-layer one shifts int4 by 2.2 MiB).
        bad = abs(mib["weights_gb"] - m["weights"] * 1024) > 2 and abs(w_err) > 5
        if m["peak"] is not None:
            p_err = (mib["total_gb"] - m["peak"] * 1024) / (m["peak"] * 1024) * 100
            # After the forward the output still holds the KV cache and the logits (4 bytes each here: fp32, or
            # bf16 for the last position only, too small to matter): a sharper check of the KV term than the peak.
            logits = BATCH * (CONTEXT if m["logits"] == "all" else 1) * config["vocab_size"] * 4 / 2**20
            kept_est, kept = mib["kv_cache_gb"] + logits, m["kept"] * 1024
            line += (f"   {m['logits']:>4} logits: peak {m['peak'] * 1024:6.1f} / {mib['total_gb']:6.1f} MiB "
                     f"({p_err:+5.1f}%), KV + logits kept {kept:5.1f} / {kept_est:5.1f} MiB "
                     f"[est. activations {mib['activations_gb']:.1f}]")
            bad = bad or abs(p_err) > 15 or (abs(kept_est - kept) > 2 and abs(kept_est - kept) > 0.1 * kept)
        lines.append(line)
        if bad:
            failures.append(line)
    with capsys.disabled():
        print(f"\ntiny Qwen2, {read_arch(config).params / 1e6:.1f}M parameters, {CONTEXT} tokens x {BATCH}, "
              f"measured / estimated:")
        print("\n".join(lines))
    assert len(lines) == sum(max(1, len(v)) for v in cases.values())
    assert not failures, ("measured vs estimated beyond 5% / 2 MiB (weights), 15% (peak) or 10% / 2 MiB (kept):\n"
                          + "\n".join(failures))


if __name__ == "__main__":  # the measuring child process of test_tiny_model_forward_matches_estimate
    print(json.dumps(measure(sys.argv[1], sys.argv[2], sys.argv[3:])))
