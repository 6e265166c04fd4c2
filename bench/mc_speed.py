"""Multiple-choice scoring speed: pandian vs lm-evaluation-harness, same model, same questions, same prompts.

One invocation, one machine, one model in memory for both:
  * lm-eval: HFLM.loglikelihood (its HF engine) on exactly the requests lm-eval 0.4.13 builds for CMMLU 5-shot
    (shared/reference/perf/cmmlu5shot_lmeval_requests.jsonl.gz), at its batch size;
  * pandian: `evaluate()` end to end (prompt rendering and tokenization included) with --prompt-format lm-eval.
Then: wall time, questions/s, ratio, letter agreement, and the floor: the FLOPs that must be computed (each distinct
token once through the decoder, the LM head once per question) divided by this machine's measured matmul rate.

CPU default: a random-init Qwen2-shaped model of ~32M parameters with an 8,192-token BPE trained on CMMLU text,
on the first SUBJECTS subjects (alphabetical) so lm-eval stays under ~15 minutes.
GPU: --device cuda builds a random-init Qwen2-7B-shaped model in bf16 from a config (no download).

    python bench/mc_speed.py                       # CPU, 10 subjects
    python bench/mc_speed.py --device cuda --subjects 12 --lmeval-batch 64
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pandian.backends.hf import load_hf_model  # noqa: E402
from pandian.app.lifecycle import EvalOptions, evaluate  # noqa: E402
from pandian.core.spec import load_spec  # noqa: E402
from pandian.store import ResultStore  # noqa: E402
from pandian.backends.tiny import BENCH_SHAPE, TinyShape, build_tiny_model  # noqa: E402

QWEN2_7B = TinyShape(vocab_size=8192, hidden_size=3584, num_layers=28, num_heads=28, num_kv_heads=4,
                     intermediate_size=18944, max_positions=32768)


def matmul_rate(device: torch.device, dtype: torch.dtype) -> float:
    """Sustained FLOP/s of a large square matmul, the machine's practical ceiling."""
    n = 4096 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps = 50 if device.type == "cuda" else 6
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def build_model(device: str, data_dir: Path, work: Path) -> Path:
    texts = [p.read_text(encoding="utf-8") for p in sorted((data_dir / "cmmlu" / "data").glob("*/*.csv"))]
    if device == "cuda":
        # Weights are random either way; writing 15 GB of them would dominate the run, so the 7B shape is built
        # in memory by `load` below from a config saved here with the trained tokenizer.
        path = build_tiny_model(work / "model", texts, TinyShape(vocab_size=8192, max_positions=32768))
        cfg = json.loads((path / "config.json").read_text())
        cfg.update(hidden_size=QWEN2_7B.hidden_size, num_hidden_layers=QWEN2_7B.num_layers,
                   num_attention_heads=QWEN2_7B.num_heads, num_key_value_heads=QWEN2_7B.num_kv_heads,
                   intermediate_size=QWEN2_7B.intermediate_size, max_position_embeddings=QWEN2_7B.max_positions)
        (path / "config.json").write_text(json.dumps(cfg))
        for f in path.glob("*.safetensors"):
            f.unlink()
        return path
    return build_tiny_model(work / "model", texts, BENCH_SHAPE)


def load(path: Path, device: str):
    if device == "cuda":
        from transformers import AutoConfig, AutoModelForCausalLM

        from pandian.backends.hf import HFModel

        cfg = AutoConfig.from_pretrained(path)
        torch.manual_seed(0)
        with torch.device("cuda"):
            model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa").eval()
        from transformers import AutoTokenizer

        return HFModel(str(path), path, model, AutoTokenizer.from_pretrained(path), torch.device("cuda"),
                       torch.bfloat16, "random-init-7b", 0.0)
    return load_hf_model(str(path), device="cpu", dtype="float32")


def body_params(model) -> tuple[int, int]:
    """(decoder parameters excluding embeddings and LM head, LM head parameters)."""
    head = model.get_output_embeddings().weight.numel()
    emb = model.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in model.parameters())
    return total - head - emb, head


def unique_tokens(requests: list) -> int:
    """Tokens that must go through the decoder: each subject's shared prefix once, then each question's rest."""
    from pandian.backends.engine import common_prefix_len

    by_group: dict = {}
    for r in requests:
        by_group.setdefault(r["subject"], []).append(r["ids"])
    total = 0
    for ids in by_group.values():
        p = common_prefix_len(ids)
        total += p + sum(len(x) - p for x in ids)
    return total


def attention_flops(requests: list, cfg, unique: bool) -> float:
    """QK^T and AV: 4 x layers x (heads x head_dim) per (query, key) pair, causal."""
    width = cfg.num_attention_heads * (getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    pairs = 0
    by_group: dict = {}
    for r in requests:
        by_group.setdefault(r["subject"], []).append(r["ids"])
    from pandian.backends.engine import common_prefix_len

    for ids in by_group.values():
        p = common_prefix_len(ids) if unique else 0
        pairs += p * (p + 1) // 2 if unique else 0
        for x in ids:
            n = len(x)
            pairs += n * (n + 1) // 2 - p * (p + 1) // 2
    return 4 * cfg.num_hidden_layers * width * pairs


def timed(dev, fn):
    """(seconds, result) of fn(), waiting for the device."""
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--subjects", type=int, default=10, help="first N CMMLU subjects, alphabetical (67 = all)")
    ap.add_argument("--lmeval-batch", default="16", help="lm-eval batch size (its best setting on the machine)")
    ap.add_argument("--skip-lmeval", action="store_true")
    ap.add_argument("--chunk", type=int, default=3, help="subjects per alternation between the two engines")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PANDIAN_DATA_DIR", ROOT.parent / "shared" / "data")))
    ap.add_argument("--requests", type=Path, default=None, help="lm-eval's CMMLU request file")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    ref = args.requests or args.data_dir.parent / "reference" / "perf" / "cmmlu5shot_lmeval_requests.jsonl.gz"
    requests = [json.loads(line) for line in gzip.open(ref, "rt", encoding="utf-8")]
    subjects = sorted({r["subject"] for r in requests})[: args.subjects]
    requests = [r for r in requests if r["subject"] in subjects]

    work = Path(tempfile.mkdtemp(prefix="pandian-bench-"))
    model = load(build_model(args.device, args.data_dir, work), args.device)
    cfg = model.model.config
    dev, dtype = model.device, model.dtype
    rate = matmul_rate(dev, dtype)
    body, head = body_params(model.model)

    for r in requests:  # token ids as lm-eval computes them (context + its continuation split rule)
        r["ids"] = model.tokenizer.encode(r["context"])
    n_q = len(requests)
    uniq = unique_tokens(requests)
    full = sum(len(r["ids"]) for r in requests)
    floor_flop = 2 * body * uniq + 2 * head * n_q + attention_flops(requests, cfg, unique=True)
    lmeval_flop = 2 * (body + head) * full + attention_flops(requests, cfg, unique=False)
    result = {"device": str(dev), "gpu": torch.cuda.get_device_name() if dev.type == "cuda" else None,
              "threads": torch.get_num_threads(), "dtype": str(dtype), "params_m": round((body + 2 * head) / 1e6, 1),
              "subjects": len(subjects), "questions": n_q, "tokens_lmeval": full, "tokens_unique": uniq,
              "matmul_tflops": round(rate / 1e12, 3), "floor_s": round(floor_flop / rate, 2)}

    # The two engines alternate over chunks of subjects (which goes first alternates too), so that drifts in this
    # machine's speed (shared cores, clock boost) fall on both alike; the totals are summed over chunks.
    store = ResultStore(work / "r.db")
    lm = None
    if not args.skip_lmeval:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM

        bs = int(args.lmeval_batch) if args.lmeval_batch.isdigit() else args.lmeval_batch
        lm = HFLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=bs, device=str(dev))
    t_pandian = t_lm = 0.0
    ours, theirs, records = {}, {}, []
    for c, start in enumerate(range(0, len(subjects), args.chunk)):
        chunk = subjects[start:start + args.chunk]
        steps = [("pandian", chunk), ("lmeval", chunk)]
        for name, _ in (steps if c % 2 == 0 else steps[::-1]):
            if name == "pandian":
                t = timed(dev, lambda: evaluate(model, load_spec("cmmlu"), EvalOptions(
                    data_dir=args.data_dir, shots=5, subjects=chunk, prompt_format="lm-eval"), store))
                t_pandian += t[0]
                records += t[1].records
            elif lm is not None:
                reqs = [r for r in requests if r["subject"] in chunk]
                inst = [Instance("loglikelihood", {}, (r["context"], x), i)
                        for i, r in enumerate(reqs) for x in r["continuations"]]
                t = timed(dev, lambda: lm.loglikelihood(inst, disable_tqdm=True))
                t_lm += t[0]
                k = 0
                for r in reqs:
                    lls = [o[0] for o in t[1][k:k + len(r["continuations"])]]
                    k += len(r["continuations"])
                    theirs[(r["subject"], r["doc_id"])] = max(range(len(lls)), key=lambda i: lls[i])
    for rec in records:
        subject, idx = rec.qid.split("/")
        ours[(subject, int(idx))] = rec.pred
    engine = {}
    for sess in store.sessions(store.runs()[0]["run_id"]):  # one run: the chunks extend it
        for k, v in sess["stats"]["engine"].items():
            engine[k] = engine.get(k, 0) + v
    result["pandian"] = {"wall_s": round(t_pandian, 2), "q_per_s": round(n_q / t_pandian, 1),
                         "floor_fraction": round(floor_flop / rate / t_pandian, 3),
                         "acc": sum(r.correct for r in records) / n_q, "engine": engine}
    if lm is not None:
        gold = {(r["subject"], r["doc_id"]): r["target"] for r in requests}
        result["lmeval"] = {"batch_size": bs, "wall_s": round(t_lm, 2), "q_per_s": round(n_q / t_lm, 1),
                            "floor_fraction": round(floor_flop / rate / t_lm, 3),
                            "acc": sum(theirs[k] == gold[k] for k in theirs) / n_q,
                            "achieved_tflops": round(lmeval_flop / t_lm / 1e12, 3)}
        result["speedup"] = round(t_lm / t_pandian, 2)
        result["letter_agreement"] = round(sum("ABCD"[theirs[k]] == ours[k] for k in theirs) / n_q, 5)
    if dev.type == "cuda":
        result["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)

    print(json.dumps(result, indent=1))
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


def print_table(r: dict) -> None:
    print(f"\nCMMLU 5-shot, {r['subjects']} subjects, {r['questions']} questions, {r['params_m']}M params, "
          f"{r['device']} {r['gpu'] or ''} {r['dtype']}, matmul {r['matmul_tflops']} TFLOP/s")
    print(f"tokens: lm-eval computes {r['tokens_lmeval']:,}; distinct needed {r['tokens_unique']:,}; "
          f"floor {r['floor_s']} s")
    print(f"{'engine':10} {'wall s':>9} {'q/s':>9} {'of floor':>9}")
    for name in ("lmeval", "pandian"):
        if name in r:
            x = r[name]
            print(f"{name:10} {x['wall_s']:9.2f} {x['q_per_s']:9.1f} {100 * x['floor_fraction']:8.1f}%")
    if "speedup" in r:
        print(f"pandian / lm-eval throughput: {r['speedup']}x; letters agree on {100 * r['letter_agreement']:.2f}%")


if __name__ == "__main__":
    main()
