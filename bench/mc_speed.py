"""Multiple-choice scoring speed: pandian vs lm-evaluation-harness 0.4.13, same model, questions and prompts.

Two figures in one invocation, on one machine:
  * whole command: `pandian eval ... --prompt-format lm-eval` and `lm_eval run --model hf ...` each in a fresh
    process, exec to exit (start-up, reading the benchmark, model load, tokenization, scoring, writing results);
  * in process (scoring): one model object in memory for both; lm-eval's HF engine (`HFLM.loglikelihood`) on
    exactly the requests lm-eval builds for CMMLU 5-shot (shared/reference/perf/cmmlu5shot_lmeval_requests.jsonl.gz)
    against pandian's `evaluate()` (prompt rendering and tokenization included).
The engines alternate (whole commands by repeat, in-process runs by chunk of subjects, and which goes first
alternates too) so that this machine's speed drifts fall on both alike. Reported: wall time, questions/s, the
ratio, letter agreement, and the floor (bench/floor.py) with each engine's fraction of it.

    python bench/mc_speed.py --subjects 5                     # CPU, 30M model: 806 questions, ~12 minutes
    python bench/mc_speed.py --model 135m --subjects 2 --limit 40
    python bench/mc_speed.py --device cuda --model 7b --subjects 12 --lmeval-batch 64 --no-whole
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

from bench import bench_models, floor  # noqa: E402
from pandian.app.lifecycle import EvalOptions, evaluate  # noqa: E402
from pandian.core.spec import load_spec  # noqa: E402
from pandian.store import ResultStore  # noqa: E402


def timed(dev, fn):
    """(seconds, result) of fn(), waiting for the device."""
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


def agreement(a: dict, b: dict) -> float:
    assert a.keys() == b.keys(), f"different questions: {len(a)} vs {len(b)}"
    return round(sum(a[k] == b[k] for k in a) / len(a), 5)


def load_model(path: Path, device: str, dtype: str):
    if bench_models.has_weights(path):
        from pandian.backends.hf import load_hf_model

        return load_hf_model(str(path), device=device, dtype=dtype)
    return bench_models.load_random(path, device, dtype)


def whole_commands(args, path: Path, subjects: list[str], n_q: int, gold: dict, floor_s: float, work: Path):
    """Each engine's whole command `--repeats` times, alternating (A B B A ...), after an untimed warm-up each."""
    from bench.whole_command import WholeCommands

    runner = WholeCommands(path, args.data_dir, subjects, 5, args.limit, args.lmeval_batch, args.device, args.dtype,
                           work)
    runner.pandian(limit=1)
    runner.lmeval(limit=1)  # builds lm-eval's dataset cache, as any second run finds it
    walls, cpus = {"pandian": [], "lmeval": []}, {"pandian": [], "lmeval": []}
    preds, startups = {}, []
    for rep in range(args.repeats):
        order = ("pandian", "lmeval") if rep % 2 == 0 else ("lmeval", "pandian")
        for name in order:
            out = runner.pandian() if name == "pandian" else runner.lmeval()
            walls[name].append(round(out["wall_s"], 2))
            cpus[name].append(round(out["cpu_s"], 2))
            preds[name] = out["preds"]
            if name == "pandian" and out.get("startup"):
                startups.append(out["startup"])
            print(f"  whole command {name}: {out['wall_s']:.1f} s wall, {out['cpu_s']:.1f} s CPU", flush=True)
    res = {}
    for name, w in walls.items():
        total = sum(w)
        res[name] = {"wall_s": w, "cpu_s": cpus[name], "mean_s": round(total / len(w), 2), "q_per_s": round(n_q * len(w) / total, 2),
                     "floor_fraction": round(floor_s * len(w) / total, 3),
                     "acc": round(sum(preds[name][k] == gold[k] for k in gold) / n_q, 4)}
    if startups:
        res["pandian"]["startup"] = startups[-1]
    res["ratio"] = round(sum(walls["lmeval"]) / sum(walls["pandian"]), 2)
    res["cpu_ratio"] = round(sum(cpus["lmeval"]) / sum(cpus["pandian"]), 2)
    res["letter_agreement"] = agreement(preds["pandian"], preds["lmeval"])
    return res


def in_process(args, model, requests: list, subjects: list[str], n_q: int, gold: dict, fl: dict, rate: float,
               work: Path, preds_out: dict | None = None):
    """Both engines on one model object, alternating per chunk of subjects (predicted letters into preds_out)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    dev = model.device
    bs = int(args.lmeval_batch) if args.lmeval_batch.isdigit() else args.lmeval_batch
    lm = HFLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=bs, device=str(dev))
    store = ResultStore(work / "in-process.db")
    t_pandian = t_lm = 0.0
    ours, theirs, peak = {}, {}, {"pandian": 0.0, "lmeval": 0.0}
    for c, start in enumerate(range(0, len(subjects), args.chunk)):
        chunk = subjects[start:start + args.chunk]
        steps = ("pandian", "lmeval") if c % 2 == 0 else ("lmeval", "pandian")
        for name in steps:
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            if name == "pandian":
                t, res = timed(dev, lambda: evaluate(model, load_spec("cmmlu"), EvalOptions(
                    data_dir=args.data_dir, shots=5, subjects=chunk, limit=args.limit, prompt_format="lm-eval"),
                    store))
                t_pandian += t
                for rec in res.records:
                    subject, idx = rec.qid.split("/")
                    ours[(subject, int(idx))] = "ABCD".index(rec.pred)
            else:
                reqs = [r for r in requests if r["subject"] in chunk]
                inst = [Instance("loglikelihood", {}, (r["context"], x), i)
                        for i, r in enumerate(reqs) for x in r["continuations"]]
                t, out = timed(dev, lambda: lm.loglikelihood(inst, disable_tqdm=True))
                t_lm += t
                k = 0
                for r in reqs:
                    lls = [o[0] for o in out[k:k + len(r["continuations"])]]
                    k += len(r["continuations"])
                    theirs[(r["subject"], r["doc_id"])] = max(range(len(lls)), key=lambda i: lls[i])
            if dev.type == "cuda":
                peak[name] = max(peak[name], torch.cuda.max_memory_allocated() / 2**30)
    if preds_out is not None:
        preds_out.update(pandian=ours, lmeval=theirs)
    engine, budget = {}, None
    for sess in store.sessions(store.runs()[0]["run_id"]):  # one run: the chunks extend it
        budget = sess["stats"].get("token_budget")
        for k, v in sess["stats"]["engine"].items():
            engine[k] = engine.get(k, 0) + v
    floor_s = fl["floor_flop"] / rate
    res = {
        "pandian": {"wall_s": round(t_pandian, 2), "q_per_s": round(n_q / t_pandian, 1),
                    "floor_fraction": round(floor_s / t_pandian, 3),
                    "engine_floor_fraction": round(floor_s / engine["forward_s"], 3),
                    "acc": round(sum(ours[k] == gold[k] for k in gold) / n_q, 4), "token_budget": budget,
                    "rows_per_forward": round(n_q / max(1, engine["forwards"] - len(subjects)), 1),
                    "engine": engine},
        "lmeval": {"batch_size": bs, "wall_s": round(t_lm, 2), "q_per_s": round(n_q / t_lm, 1),
                   "floor_fraction": round(floor_s / t_lm, 3),
                   "achieved_tflops": round(fl["lmeval_flop"] / t_lm / 1e12, 3),
                   "acc": round(sum(theirs[k] == gold[k] for k in gold) / n_q, 4)},
        "ratio": round(t_lm / t_pandian, 2),
        "letter_agreement": agreement(ours, theirs),
        "pandian_achieved_tflops": round(fl["floor_flop"] / t_pandian / 1e12, 3),
    }
    if dev.type == "cuda":
        for name in peak:
            res[name]["peak_gpu_mem_gb"] = round(peak[name], 1)
    return res


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="30m", help="30m, 135m, 7b (random-init, from a config) or a model directory")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="auto", help="auto: fp32 on CPU, bf16 on CUDA")
    ap.add_argument("--subjects", default="5", help="first N CMMLU subjects, alphabetical (67 = all), or a list a,b")
    ap.add_argument("--limit", type=int, default=None, help="the first N questions of each subject")
    ap.add_argument("--lmeval-batch", default="16", help="lm-eval batch size (its best setting on the machine)")
    ap.add_argument("--whole", action=argparse.BooleanOptionalAction, default=True,
                    help="time the whole commands in fresh processes")
    ap.add_argument("--in-process", action=argparse.BooleanOptionalAction, default=True,
                    help="time both engines on one loaded model")
    ap.add_argument("--repeats", type=int, default=2, help="whole-command runs of each engine (order alternates)")
    ap.add_argument("--chunk", type=int, default=3, help="subjects per in-process alternation")
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("PANDIAN_DATA_DIR", ROOT.parent / "shared" / "data")))
    ap.add_argument("--requests", type=Path, default=None, help="lm-eval's CMMLU request file")
    ap.add_argument("--cache", type=Path, default=None, help="where built bench models are kept")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    return ap


class Work:
    """What both figures share: the questions, lm-eval's requests with their token ids, the model, the floor."""

    def __init__(self, args):
        from transformers import AutoConfig, AutoTokenizer

        from pandian.settings import home

        if args.dtype == "auto":
            args.dtype = "bfloat16" if args.device == "cuda" else "float32"
        self.args = args
        ref = args.requests or args.data_dir.parent / "reference" / "perf" / "cmmlu5shot_lmeval_requests.jsonl.gz"
        requests = [json.loads(line) for line in gzip.open(ref, "rt", encoding="utf-8")]
        names = sorted({r["subject"] for r in requests})
        self.subjects = names[: int(args.subjects)] if args.subjects.isdigit() else args.subjects.split(",")
        self.requests = [r for r in requests
                         if r["subject"] in self.subjects and (args.limit is None or r["doc_id"] < args.limit)]
        self.gold = {(r["subject"], r["doc_id"]): r["target"] for r in self.requests}
        self.n_q = len(self.requests)
        self.dir = Path(tempfile.mkdtemp(prefix="pandian-bench-"))
        self.path = bench_models.model_dir(args.model, args.data_dir, args.cache or home() / "bench-models")
        cfg, tokenizer = AutoConfig.from_pretrained(self.path), AutoTokenizer.from_pretrained(self.path)
        for r in self.requests:  # token ids as lm-eval computes them (the context; its continuation split rule)
            r["ids"] = tokenizer.encode(r["context"])
        dev = torch.device(args.device)
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[args.dtype]
        self.rate = floor.matmul_rate(dev, dtype)
        self.flops = floor.flops(self.requests, cfg)
        self.floor_s = self.flops["floor_flop"] / self.rate

    def header(self) -> dict:
        a, fl = self.args, self.flops
        return {"model": a.model, "device": a.device, "dtype": a.dtype, "threads": torch.get_num_threads(),
                "gpu": torch.cuda.get_device_name() if a.device == "cuda" else None,
                "load_average_start": os.getloadavg()[0], "params_m": fl["params_m"], "subjects": len(self.subjects),
                "questions": self.n_q, "tokens_lmeval": fl["tokens_lmeval"], "tokens_unique": fl["tokens_unique"],
                "matmul_tflops": round(self.rate / 1e12, 3), "floor_s": round(self.floor_s, 2)}


def main():
    args = parser().parse_args()
    w = Work(args)
    result = w.header()
    print(json.dumps(result), flush=True)
    if args.whole:
        if not bench_models.has_weights(w.path):
            print("  whole command skipped: the model has no weight files (a random-init shape built in memory)")
        else:
            result["whole_command"] = whole_commands(args, w.path, w.subjects, w.n_q, w.gold, w.floor_s, w.dir)
    if args.in_process:
        model = load_model(w.path, args.device, args.dtype)
        result["in_process"] = in_process(args, model, w.requests, w.subjects, w.n_q, w.gold, w.flops, w.rate,
                                          w.dir)
    result["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


def print_table(r: dict) -> None:
    print(f"\nCMMLU 5-shot, {r['subjects']} subjects, {r['questions']} questions, {r['model']} ({r['params_m']}M "
          f"params), {r['device']} {r['gpu'] or ''} {r['dtype']}, {r['threads']} threads, matmul "
          f"{r['matmul_tflops']} TFLOP/s, load average {r['load_average_start']:.1f} -> {r['load_average_end']:.1f}")
    print(f"tokens: lm-eval computes {r['tokens_lmeval']:,}; distinct needed {r['tokens_unique']:,}; "
          f"floor {r['floor_s']} s")
    print(f"{'':16} {'engine':8} {'wall s':>9} {'q/s':>8} {'of floor':>9}")
    for part, label in (("whole_command", "whole command"), ("in_process", "in process")):
        if part not in r:
            continue
        for name in ("lmeval", "pandian"):
            x = r[part][name]
            wall = x.get("mean_s", x["wall_s"])
            print(f"{label:16} {name:8} {wall:9.2f} {x['q_per_s']:8.1f} {100 * x['floor_fraction']:8.1f}%")
        print(f"{label:16} pandian / lm-eval: {r[part]['ratio']}x; letters agree on "
              f"{100 * r[part]['letter_agreement']:.2f}%")


if __name__ == "__main__":
    main()
