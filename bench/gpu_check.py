"""Issue 14's check on one CUDA GPU with no network (run by bench/gpu_check.sh, which prepares what it reads).

A random-init Qwen2-7B-shaped model in bf16 is built on the GPU from a config; lm-eval 0.4.13's HF engine and
pandian score the same CMMLU 5-shot questions (lm-eval's recorded requests; pandian renders and tokenizes its own
`--prompt-format lm-eval` prompts), alternating per chunk of subjects as bench/mc_speed.py does. Then, when vLLM can
be imported, pandian's vLLM backend scores them too on the same weights (saved to local disk first). The JSON is
rewritten after each stage, so a run cut short still reports what it measured.

    python bench/gpu_check.py --data-dir .gpu/data --model .gpu/models/qwen2-7b-shape --json OUT.json
    python bench/gpu_check.py ... --device cpu --model .gpu/models/qwen2-small-shape --subjects 2 --limit 8
"""

from __future__ import annotations

import json
import platform
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import mc_speed  # noqa: E402


def write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1), flush=True)


def vllm_importable() -> dict:
    try:
        import vllm
    except Exception as e:  # noqa: BLE001 (any import failure means: not available here)
        return {"importable": False, "error": f"{type(e).__name__}: {e}"[:300]}
    return {"importable": True, "version": vllm.__version__}


def vllm_stage(w, weights: Path, preds_lmeval: dict, gold: dict, args) -> dict:
    """pandian's vLLM backend on the same questions and weights (saved at `weights`)."""
    from pandian.app.lifecycle import EvalOptions, evaluate
    from pandian.backends.vllm import load_vllm_model
    from pandian.core.spec import load_spec
    from pandian.store import ResultStore

    out = {}
    backend = load_vllm_model(str(weights), dtype=args.dtype)
    out["load_s"] = round(backend.load_s, 1)
    t = time.perf_counter()
    res = evaluate(backend, load_spec("cmmlu"), EvalOptions(data_dir=args.data_dir, shots=5, subjects=w.subjects,
                                                            limit=args.limit, prompt_format="lm-eval"),
                   ResultStore(w.dir / "vllm.db"))
    wall = time.perf_counter() - t
    ours = {(r.qid.split("/")[0], int(r.qid.split("/")[1])): "ABCD".index(r.pred) for r in res.records}
    out.update(wall_s=round(wall, 2), q_per_s=round(w.n_q / wall, 1), floor_fraction=round(w.floor_s / wall, 3),
               letter_agreement_lmeval=mc_speed.agreement(ours, preds_lmeval),
               acc=round(sum(ours[k] == gold[k] for k in gold) / w.n_q, 4))
    return out


def main():
    ap = mc_speed.parser()
    ap.add_argument("--scratch", default="/tmp/pandian-gpu-check", help="local disk for the vLLM stage's weights")
    ap.set_defaults(model=str(ROOT / ".gpu" / "models" / "qwen2-7b-shape"), device="cuda", subjects="12",
                    lmeval_batch="64", whole=False, json=Path("gpu_check.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = {"stage": "started", "python": platform.python_version(), "torch": torch.__version__,
              "cuda_available": torch.cuda.is_available()}
    try:
        import lm_eval
        import transformers

        result.update(transformers=transformers.__version__, lm_eval=getattr(lm_eval, "__version__", "0.4.13"))
        w = mc_speed.Work(args)
        result.update(w.header(), stage="questions tokenized, floor measured")
        write(result, args.json)
        model = mc_speed.load_model(w.path, args.device, args.dtype)
        result["model_init_s"] = round(model.load_s, 1)
        preds: dict = {}
        result["engines"] = mc_speed.in_process(args, model, w.requests, w.subjects, w.n_q, w.gold, w.flops, w.rate,
                                                w.dir, preds_out=preds)
        result["stage"] = "lm-eval and pandian measured"
        result["vllm"] = vllm_importable()
        write(result, args.json)
        if result["vllm"]["importable"]:
            weights = Path(args.scratch) / "weights"
            t = time.perf_counter()
            model.model.save_pretrained(weights)
            model.tokenizer.save_pretrained(weights)
            result["vllm"]["save_s"] = round(time.perf_counter() - t, 1)
            del model  # vLLM takes most of the GPU's memory for itself
            torch.cuda.empty_cache()
            result["vllm"].update(vllm_stage(w, weights, preds["lmeval"], w.gold, args))
        result["stage"] = "done"
    except Exception:  # noqa: BLE001 (the JSON must say how far the one device call got)
        result["error"] = traceback.format_exc()[-4000:]
    result["total_s"] = round(time.perf_counter() - t0, 1)
    write(result, args.json)
    if "error" in result:
        sys.exit(1)


if __name__ == "__main__":
    main()
