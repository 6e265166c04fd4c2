"""Report and web app on a large store: 20 runs x 10k records (5 models x 4 variants on CMMLU's subjects), plus one
run of 100k records.

Records are synthetic but go through the store's own interface (ensure_run, add_records, add_session), so the
tables, indexes and JSON encodings are the real ones. Measured:
  * `pandian report`: build time and file size, against the peer a report without SQL aggregates would be, reading
    every record of every run into Python (store.records); and the report as the command writes it by default,
    with the catalog and the judgement sections (bias, strengths and weaknesses, recommendations), each timed;
  * the web app on 127.0.0.1 through uvicorn and httpx: leaderboard, a run's drill-down (first page, a page deep
    in the 100k run, a search, right/wrong filter), one question, a compare of two variants with flipped questions,
    and the JSON API. Median of repeated requests.

    python bench/report_speed.py --json bench/out/report_speed.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pandian.core.records import Record  # noqa: E402
from pandian.core.spec import load_spec  # noqa: E402
from pandian.store import open_store  # noqa: E402
from tests.servers import serve_in_thread  # noqa: E402

MODELS = ["Qwen/Qwen2-7B", "THUDM/chatglm3-6b", "01-ai/Yi-6B", "baichuan-inc/Baichuan2-7B-Base", "internlm/internlm-7b"]
VARIANTS = [("fp32", None, 28.0, 1.0), ("bf16", None, 14.5, 1.6), ("fp32", "int8", 8.1, 0.7),
            ("fp32", "int4", 4.9, 0.9)]  # dtype, quant, peak GB, relative speed


def add_run(store, rng, run_no: int, model: str, dtype: str, quant: str | None, peak: float, speed: float,
            subjects: list[str], n: int, base_correct: np.ndarray | None, skill: float) -> tuple[str, np.ndarray]:
    config = {"weights": hashlib.sha256(model.encode()).hexdigest()[:16], "dtype": dtype, "quant": quant,
              "benchmark": "cmmlu", "split": "test", "shots": 5, "prompt_format": "native", "scoring": "letter",
              "data": "synthetic", "spec_hash": "synthetic", "model": model}
    run_id = hashlib.sha256(json.dumps([run_no, config], sort_keys=True).encode()).hexdigest()[:16]
    store.ensure_run(run_id, model, "cmmlu", config, {"pandian": "bench"})
    if base_correct is None:
        correct = (rng.random(n) < skill).astype(int)
    else:  # a variant: the base model's answers with a few flipped, as quantization does
        flip = rng.random(n) < 0.06
        correct = np.where(flip, 1 - base_correct, base_correct)
    labels = "ABCD"
    gold = rng.integers(0, 4, n)
    recs = []
    for i in range(n):
        g = int(gold[i])
        p = g if correct[i] else (g + 1 + int(rng.integers(0, 3))) % 4
        lp = (rng.normal(-2.5, 0.6, 4)).round(4)
        lp[p] = -0.4
        subject = subjects[i % len(subjects)]
        recs.append(Record(qid=f"{subject}/{i}", subject=subject, prompt_hash=f"{i:016x}", n_shots=5,
                           pred=labels[p], gold=labels[g], correct=int(correct[i]), logprobs=lp.tolist()))
        if len(recs) == 2000:
            store.add_records(run_id, recs)
            recs = []
    store.add_records(run_id, recs)
    store.add_session(run_id, time.time(), n / (20 * speed), n,
                      {"peak_rss_gb": peak, "weights_gb": peak * 0.9, "load_s": 3.0,
                       "hardware": {"cpu": "synthetic"}})
    return run_id, correct


def build_store(path: Path, per_run: int, big: int) -> dict:
    store = open_store(path)
    subjects = sorted(load_spec("cmmlu").subjects)
    rng = np.random.default_rng(0)
    t0, ids = time.perf_counter(), {}
    for m, model in enumerate(MODELS):
        base = None
        for v, (dtype, quant, peak, speed) in enumerate(VARIANTS):
            rid, correct = add_run(store, rng, m * 10 + v, model, dtype, quant, peak, speed, subjects, per_run,
                                   base, 0.4 + 0.08 * m)
            base = correct if base is None else base
            ids[(model, dtype, quant)] = rid
    big_id = None
    if big:
        big_id, _ = add_run(store, rng, 999, "big/model-100k", "bf16", None, 16.0, 1.0, subjects, big, None, 0.5)
    store.close()
    return {"build_s": time.perf_counter() - t0, "ids": ids, "big": big_id}


def time_report(path: Path, out: Path, with_records: bool, full: bool = False) -> dict:
    """full: as `pandian report` writes it by default, with the catalog and the judgement sections (bias,
    strengths and weaknesses with their bootstrap, recommendations for every suite measured) and their times."""
    from pandian.report import write_report

    store = open_store(path)
    t0 = time.perf_counter()
    catalog, sections, parts = None, None, {}
    if full:
        from pandian.app import survey
        from pandian.catalog import load_catalog

        catalog = load_catalog()
        sections = {}
        for key, compute in (("bias", lambda: survey.bias_section(store)),
                             ("profiles", lambda: survey.profile_section(store)),
                             ("recommendations", lambda: survey.recommendation_section(store, catalog, 24.0))):
            t = time.perf_counter()
            sections[key] = compute()
            parts[key] = round(time.perf_counter() - t, 3)
    write_report(store, out, fmt=out.suffix.lstrip("."), with_records=with_records, catalog=catalog,
                 sections=sections)
    took = time.perf_counter() - t0
    store.close()
    return {"seconds": round(took, 3), "bytes": out.stat().st_size, **({"sections_s": parts} if full else {})}


def time_read_all(path: Path) -> float:
    """The peer: every record of every run into Python, as a report without SQL aggregates would need."""
    store = open_store(path)
    t0 = time.perf_counter()
    for r in store.runs():
        store.records(r["run_id"])
    took = time.perf_counter() - t0
    store.close()
    return took


def time_web(path: Path, built: dict, repeats: int) -> dict:
    import httpx

    from pandian.web import create_app

    m0 = MODELS[0]
    base, int4 = built["ids"][(m0, "fp32", None)], built["ids"][(m0, "fp32", "int4")]
    big = built["big"] or base
    subject = sorted(load_spec("cmmlu").subjects)[3]
    urls = {
        "leaderboard": "/",
        "leaderboard, filtered and sorted": "/?benchmark=cmmlu&kind=open&gpu=16&sort=memory&order=asc",
        "drill-down, first page (10k run)": f"/runs/{base}",
        "drill-down, first page (100k run)": f"/runs/{big}",
        "drill-down, page 1500 (100k run)": f"/runs/{big}?page=1500",
        "drill-down, wrong only + subject (100k run)": f"/runs/{big}?outcome=wrong&subject={subject}",
        "drill-down, search (100k run)": f"/runs/{big}?search={subject}/9999",
        "one question": f"/runs/{big}/question?qid={subject}/{3}",
        "compare fp32 vs int4 with flips": f"/compare?runs={base}&runs={int4}",
        "api: records page (100k run)": f"/api/runs/{big}/records?page=100",
    }
    store = open_store(path)
    out = {}
    with serve_in_thread(create_app(store)) as url, httpx.Client(base_url=url, timeout=60) as client:
        for name, u in urls.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                r = client.get(u)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, (u, r.status_code, r.text[:300])
            out[name] = {"url": u, "median_ms": round(1000 * statistics.median(times), 1),
                         "max_ms": round(1000 * max(times), 1), "bytes": len(r.content)}
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-run", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=100_000, help="records of the one large run (0: none)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "results.db"
        built = build_store(db, args.per_run, args.big)
        print(f"store: {len(built['ids'])} runs x {args.per_run} records + {args.big} in {built['build_s']:.1f}s, "
              f"{db.stat().st_size / 2**20:.1f} MiB")
        report = time_report(db, Path(tmp) / "report.html", False)
        report_md = time_report(db, Path(tmp) / "report.md", False)
        full = time_report(db, Path(tmp) / "full.html", False, full=True)
        peer = time_read_all(db)
        print(f"report: {report['seconds']:.2f}s, {report['bytes'] / 2**20:.2f} MiB; reading every record instead "
              f"(the peer) takes {peer:.2f}s alone, {peer / report['seconds']:.1f}x the whole report")
        print(f"report with the catalog and the judgement sections (pandian report's default): {full['seconds']:.2f}s, "
              f"{full['bytes'] / 2**20:.2f} MiB; sections: " + ", ".join(f"{k} {v:.2f}s"
                                                                       for k, v in full["sections_s"].items()))
        web = time_web(db, built, args.repeats)
        for name, w in web.items():
            print(f"web {name}: {w['median_ms']:.0f} ms median (max {w['max_ms']:.0f}), {w['bytes'] / 1024:.0f} KiB")
        result = {"runs": len(built["ids"]) + bool(args.big), "records_per_run": args.per_run, "big_run": args.big,
                  "store_mib": round(db.stat().st_size / 2**20, 1), "report": report, "report_md": report_md,
                  "report_full": full,
                  "peer_read_all_records_s": round(peer, 3), "web": web}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
