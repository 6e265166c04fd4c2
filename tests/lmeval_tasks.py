"""lm-evaluation-harness's own task configs for CMMLU, C-Eval and MMLU subjects, pointed at local copies of the
release files, for cross-checks (tests, bench).

Each task includes the yaml lm-eval ships for the subject (its template, description, splits and few-shot sampler)
and overrides only where the data comes from. The release CSVs are converted to JSONL in a scratch folder: lm-eval's
`csv` loader would let pandas turn all-numeric cells into floats ("1.50" -> 1.5) and a cell reading "None" (an
MMLU answer choice) into NaN, rendering prompts that the hub datasets lm-eval reads do not.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

LAYOUT = {  # lm-eval's task file for a subject, and where its splits are in the release layout
    "cmmlu": ("cmmlu/cmmlu_{s}.yaml", {"test": "cmmlu/data/test/{s}.csv", "dev": "cmmlu/data/dev/{s}.csv"}),
    "ceval": ("ceval/ceval-valid_{s}.yaml",
              {"val": "ceval/ceval-exam/val/{s}_val.csv", "dev": "ceval/ceval-exam/dev/{s}_dev.csv"}),
    "mmlu": ("mmlu/default/mmlu_{s}.yaml",
             {"test": "mmlu/data/test/{s}_test.csv", "dev": "mmlu/data/dev/{s}_dev.csv"}),
}


def _rows(bench: str, path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        if bench != "mmlu":
            return list(csv.DictReader(f))
        # the hub's cais/mmlu fields, which lm-eval's mmlu template reads
        return [{"question": r[0], "choices": r[1:5], "answer": "ABCD".index(r[5].strip())} for r in csv.reader(f) if r]


def write_tasks(bench: str, data_dir: Path, subjects: list[str], out: Path) -> list[str]:
    """Write one lm-eval task per subject under `out`; return the task names (pandian_BENCH_SUBJECT)."""
    import lm_eval

    shipped = Path(lm_eval.__file__).parent / "tasks"
    task_file, splits = LAYOUT[bench]
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for subject in subjects:
        files = {}
        for split, rel in splits.items():
            path = out / f"{bench}_{subject}_{split}.jsonl"
            rows = _rows(bench, data_dir / rel.format(s=subject))
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            files[split] = str(path)
        name = f"pandian_{bench}_{subject}"
        task = {"include": str(shipped / task_file.format(s=subject)), "task": name, "dataset_path": "json",
                "dataset_name": None, "dataset_kwargs": {"data_files": files}}
        (out / f"{name}.yaml").write_text(yaml.safe_dump(task, allow_unicode=True), encoding="utf-8")
        names.append(name)
    return names


def lmeval_predictions(model_dir: Path, tasks_dir: Path, tasks: list[str], shots: int, batch_size: int | str):
    """Run lm-eval's HF backend. Returns {(subject, doc_id): [log-likelihood of each choice]} and {subject: acc};
    doc_id is the row's position in its subject's file."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=tasks, num_fewshot=shots,
        batch_size=batch_size, device="cpu", log_samples=True, task_manager=TaskManager(include_path=str(tasks_dir)))
    lls, acc = {}, {}
    for task, samples in results["samples"].items():
        subject = task.split("_", 2)[2]
        for s in samples:
            lls[(subject, s["doc_id"])] = [r[0] for r in s["filtered_resps"]]
        acc[subject] = results["results"][task]["acc,none"]
    return lls, acc
