"""Which runs a comparison pairs, and whether their questions really are the same questions.

A question id (`subject/row` or the file's own id) says where a question sits, not what it says: two files both
called exam.csv, or a CSV (whose rows are numbered from its header line) and a JSONL of the same questions, reuse
ids for other questions. Each record therefore carries its question's content hash, and a comparison pairs an id
only when the hashes agree. Records written before the hash existed fall back on the run's data fingerprint, then
on the prompt hash when the prompt settings agree; a pairing that cannot be verified is refused like a wrong one.

Runs named by model or variant instead of by id are picked so that every run shares the same settings (shots, prompt
format, scoring, chat template, data, ...); when the names do not determine one run each, the candidates are listed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pandian.core.records import Record

# settings that must agree for two runs to measure the same thing; model-side ones (weights, dtype, quantization,
# context length, a chat template's own text) are what a comparison varies
MATCH_KEYS = ("benchmark", "split", "data", "spec_hash", "prompt_format", "shots", "scoring", "system_prompt",
              "generation")
PROMPT_KEYS = ("prompt_format", "shots", "scoring", "chat_template", "system_prompt")
NOT_SETTINGS = {"spec", "data_dir", "benchmark", "catalog_key"}  # travel with a run but are not its settings


class PairingError(ValueError):
    """Runs that cannot be compared question by question; the message says why and what to do."""


def variant_label(run: dict) -> str:
    tag = run["config"].get("quant") or run["config"].get("dtype")  # an API model has neither: no "name[]"
    name = run["model"].rstrip("/").split("/")[-1]
    return f"{name}[{tag}]" if tag else name


def settings_key(cfg: dict) -> str:
    return json.dumps({**{k: cfg.get(k) for k in MATCH_KEYS}, "chat": bool(cfg.get("chat_template"))},
                      sort_keys=True)


def describe(run: dict) -> str:
    """One line naming a run and the settings a comparison cares about."""
    cfg = run["config"]
    parts = [f"shots={cfg.get('shots')}", f"format={cfg.get('prompt_format')}", f"scoring={cfg.get('scoring')}",
             f"chat-template={'yes' if cfg.get('chat_template') else 'no'}", f"split={cfg.get('split')}",
             f"data={str(cfg.get('data'))[:8]}"]
    if cfg.get("system_prompt"):
        parts.append(f"system-prompt={cfg['system_prompt'][:30]!r}")
    if cfg.get("generation"):
        g = cfg["generation"]
        parts.append(f"generation=T{g.get('temperature')}/max{g.get('max_tokens')}")
    date = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["created_at"]))
    return f"{run['run_id']}  {variant_label(run)} on {run['benchmark']}  {' '.join(parts)}  ({date})"


def _listing(refs: list[str], candidates: list[list[dict]]) -> str:
    return "\n".join(f"  '{ref}':\n" + "\n".join(f"    {describe(r)}" for r in c) for ref, c in zip(refs, candidates))


def resolve(runs: list[dict], refs: list[str], benchmark: str | None) -> list[str]:
    """Run ids from run-id prefixes, model names or variant labels (`model[dtype]`). Names pick the runs whose
    settings agree with every other reference's; a name that still matches several runs is refused."""
    candidates, named = [], []
    for ref in refs:
        by_id = [r for r in runs if r["run_id"].startswith(ref)]
        if len(by_id) > 1:
            raise PairingError(f"run id prefix '{ref}' is ambiguous: {', '.join(r['run_id'] for r in by_id)}")
        hits = by_id or [r for r in runs if ref in (r["model"], variant_label(r))
                         and (benchmark is None or r["benchmark"] == benchmark)]
        if not hits:
            raise PairingError(f"no stored run matches '{ref}'" + (f" on {benchmark}" if benchmark else "") +
                               "; `pandian runs` lists them")
        candidates.append(hits)
        named.append(not by_id)
    if not any(named):
        return [c[0]["run_id"] for c in candidates]
    shared = set.intersection(*({settings_key(r["config"]) for r in c} for c in candidates))
    if not shared:
        raise PairingError("the runs these references name share no settings (benchmark, split, data, shots, "
                           "prompt format, scoring, chat template, generation): a comparison would pair different "
                           "measurements. Candidates:\n" + _listing(refs, candidates) +
                           "\nName runs by id to compare them anyway (the differing settings are shown).")
    if len(shared) > 1:
        raise PairingError("the references match runs under more than one set of shared settings; name the runs "
                           "by id. Candidates:\n" + _listing(refs, candidates))
    key = shared.pop()
    chosen = [[r for r in c if settings_key(r["config"]) == key] for c in candidates]
    changed = True
    while changed:  # a name picks among the runs that no other reference has already picked
        fixed = {c[0]["run_id"] for c in chosen if len(c) == 1}
        changed = False
        for i, c in enumerate(chosen):
            rest = [r for r in c if r["run_id"] not in fixed]
            if len(c) > 1 and len(rest) < len(c):
                chosen[i], changed = rest, True
    unclear = [(ref, c) for ref, c in zip(refs, chosen) if len(c) != 1]
    if unclear:
        raise PairingError("a name matches more than one run with the same settings (other variants of the model); "
                           "name one by id or by variant label. Candidates:\n" +
                           _listing([u[0] for u in unclear], [u[1] or candidates[refs.index(u[0])] for u in unclear]))
    return [c[0]["run_id"] for c in chosen]


def differences(runs: list[dict]) -> dict[str, list]:
    """The settings (identity fields) whose values differ between the runs, each with one value per run."""
    keys = sorted({k for r in runs for k in r["config"]} - NOT_SETTINGS)
    out = {}
    for k in keys:
        values = [r["config"].get(k) for r in runs]
        if any(v != values[0] for v in values[1:]):
            out[k] = values
    return out


def source_of(cfg: dict) -> str:
    """Where a run read its questions: the file itself for a single-file benchmark, else the data folder."""
    local = (cfg.get("spec") or {}).get("data", {}).get("local", {})
    path, data_dir = local.get("path"), cfg.get("data_dir")
    if path and data_dir and "{subject}" not in path:
        where = str(Path(data_dir) / path.replace("{split}", str(cfg.get("split"))))
    else:
        where = str(data_dir)
    return f"{where} (data fingerprint {cfg.get('data')})"


def check_questions(runs: list[dict], records: dict[str, dict[str, Record]], common: list[str]) -> list[str]:
    """Reasons the runs' shared question ids do not hold the same questions (empty: they do), each run against the
    first (the baseline)."""
    base = runs[0]
    problems = []
    for run in runs[1:]:
        a, b = records[base["run_id"]], records[run["run_id"]]
        ca, cb = base["config"], run["config"]
        same_source = all(ca.get(k) == cb.get(k) for k in ("data", "spec_hash", "split"))
        same_prompts = all(ca.get(k) == cb.get(k) for k in PROMPT_KEYS)
        differ, unknown = [], []
        for q in common:
            ha, hb = a[q].question_hash, b[q].question_hash
            if ha and hb:
                if ha != hb:
                    differ.append(q)
            elif not same_source:
                if not same_prompts:
                    unknown.append(q)
                elif a[q].prompt_hash != b[q].prompt_hash:
                    differ.append(q)
        if differ:
            where = {h: q for q, r in a.items() if (h := r.question_hash)}
            moved = sorted((q, where[r.question_hash]) for q, r in b.items()
                           if r.question_hash in where and where[r.question_hash] != q)
            msg = (f"run {run['run_id']} and the baseline {base['run_id']} hold different questions under the same "
                   f"ids: {len(differ)} of {len(common)} shared ids differ in content ({', '.join(differ[:5])}"
                   f"{' …' if len(differ) > 5 else ''}). Baseline read {source_of(ca)}; the other read "
                   f"{source_of(cb)}.")
            if moved:
                q, was = moved[0]
                msg += (f" {len(moved)} of its questions sit under other ids in the baseline (its {q} is the "
                        f"baseline's {was}): the files number their rows differently (a CSV counts its header line); "
                        "give both an id column (--field id=COLUMN).")
            problems.append(msg)
        elif unknown:
            problems.append(f"run {run['run_id']}'s records predate question hashes, and it read other data than the "
                            f"baseline {base['run_id']} ({source_of(cb)} vs {source_of(ca)}) with other prompt "
                            f"settings: whether its {len(unknown)} shared ids hold the same questions cannot be "
                            "verified.")
    return problems
