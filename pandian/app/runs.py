"""Stored runs as a user manages them: a listing with each run's settings and completeness, a run's summary rebuilt
from its stored records (no model is loaded, nothing is recomputed), export to files, deletion."""

from __future__ import annotations

from pathlib import Path

from pandian.app.generation import generation_summary
from pandian.app.lifecycle import RESOURCE_KEYS, EvalResult, answer_kinds, build_summary, write_outputs
from pandian.app.pairing import variant_label
from pandian.core.spec import BenchmarkSpec, SpecError, load_spec
from pandian.store import ResultStore


class RunNotFound(ValueError):
    pass


def find_run(store: ResultStore, ref: str) -> dict:
    """The run whose id is `ref` or starts with it."""
    hits = [r for r in store.runs() if r["run_id"].startswith(ref)] if ref else []
    if not hits:
        raise RunNotFound(f"no stored run has an id starting with '{ref}' in {store.path}; `pandian runs` lists them")
    if len(hits) > 1:
        raise RunNotFound(f"run id prefix '{ref}' is ambiguous: {', '.join(r['run_id'] for r in hits)}")
    return store.run(hits[0]["run_id"])


def completeness(stored: int, total: int | None) -> str:
    if total is None:
        return "unknown"
    return "complete" if stored >= total else "partial"


def _last_stats(store: ResultStore, run_id: str) -> dict:
    sessions = store.sessions(run_id)
    return sessions[-1]["stats"] if sessions else {}


def overview(store: ResultStore) -> list[dict]:
    """Every run with its date, settings, variant, and how many of its benchmark's questions are stored."""
    out = []
    for r in store.runs():
        cfg = r["config"]
        total = _last_stats(store, r["run_id"]).get("questions_total")
        out.append({"run_id": r["run_id"], "created_at": r["created_at"], "model": r["model"],
                    "benchmark": r["benchmark"], "shots": cfg.get("shots"), "prompt_format": cfg.get("prompt_format"),
                    "scoring": cfg.get("scoring"), "chat_template": bool(cfg.get("chat_template")),
                    "variant": variant_label(r), "stored": r["records"], "total": total,
                    "status": completeness(r["records"], total),
                    "accuracy": r["correct"] / r["scored"] if r["scored"] else None})
    return out


def _spec_of(run: dict) -> BenchmarkSpec:
    if "spec" in run["config"]:
        return BenchmarkSpec.model_validate(run["config"]["spec"])
    try:
        return load_spec(run["benchmark"])
    except SpecError:
        raise SpecError(f"run {run['run_id']} was stored without its spec and '{run['benchmark']}' is not a built-in "
                        "benchmark: its summary cannot be rebuilt") from None


def stored_summary(store: ResultStore, run: dict) -> EvalResult:
    """The run's summary over every stored record, with the cost of its sessions: what `eval` printed, without
    loading the model."""
    cfg, run_id = run["config"], run["run_id"]
    spec = _spec_of(run)
    records = store.records(run_id)
    sessions = store.sessions(run_id)
    last = sessions[-1]["stats"] if sessions else {}
    # a local model's name is display only (not identity); the config keeps it beside the identity fields
    drop = {"spec", "data_dir", "catalog_key"} | ({"model"} if cfg.get("weights") is not None else set())
    ident = {k: v for k, v in cfg.items() if k not in drop}
    summary = build_summary(spec, run["model"], run_id, ident, records, last.get("skipped", {}),
                            sum(s["computed"] for s in sessions), sum(s["wall_s"] for s in sessions))
    stored_ids = {r.qid for r in records}
    multi = {q for s in sessions for q in s["stats"].get("multi_answer", ())} & stored_ids
    summary.update(answer_kinds(spec, multi, len(records), records))
    measured = next((s["stats"] for s in reversed(sessions) if s["computed"] > 0), last)
    summary["resources"] = {k: measured.get(k) for k in RESOURCE_KEYS if measured.get(k) is not None}
    summary["hardware"] = measured.get("hardware")
    if "generation" in cfg:
        summary.update(generation_summary(spec, records))
    total = last.get("questions_total")
    summary["stored"] = {"questions": len(records), "total": total, "status": completeness(len(records), total),
                         "sessions": len(sessions), "last_status": last.get("status"),
                         "last_failed_calls": last.get("failed_calls") or 0,
                         "last_failure": last.get("first_failure")}
    return EvalResult(run_id, summary, records)


def export_run(store: ResultStore, run: dict, out: Path) -> EvalResult:
    """OUT/summary.json and OUT/records.jsonl, as `eval --out` writes them, from the store alone."""
    result = stored_summary(store, run)
    write_outputs(out, result)
    return result

