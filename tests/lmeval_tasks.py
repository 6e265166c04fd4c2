"""lm-evaluation-harness task configs for CMMLU subjects read from local files, for cross-checks (tests, bench).

lm-eval's own cmmlu tasks read haonan-li/cmmlu from the hub; offline we point the same template at the release
files. The CSVs are converted to JSONL in a scratch folder because the hub's `csv` loader lets pandas turn
all-numeric columns into floats ("1.50" -> 1.5), which would render different prompts than the hub dataset does.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

TEMPLATE = {
    "dataset_path": "json",
    "test_split": "test",
    "fewshot_split": "dev",
    "fewshot_config": {"sampler": "first_n"},
    "output_type": "multiple_choice",
    "doc_to_text": "{{Question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n答案：",
    "doc_to_choice": ["A", "B", "C", "D"],
    "doc_to_target": "{{['A', 'B', 'C', 'D'].index(Answer)}}",
    "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
}


def write_cmmlu_tasks(data_dir: Path, subjects: list[str], out: Path) -> list[str]:
    """Write one lm-eval task per subject under `out`; return the task names."""
    from pandian.core.spec import load_spec

    spec = load_spec("cmmlu")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for subject in subjects:
        files = {}
        for split in ("dev", "test"):
            with (data_dir / "cmmlu" / "data" / split / f"{subject}.csv").open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            path = out / f"{subject}_{split}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            files[split] = str(path)
        name = f"pandian_cmmlu_{subject}"
        task = {**TEMPLATE, "task": name, "dataset_kwargs": {"data_files": files},
                "description": f"以下是关于{spec.subject_name(subject)}的单项选择题，请直接给出正确答案的选项。\n\n"}
        (out / f"{name}.yaml").write_text(yaml.safe_dump(task, allow_unicode=True), encoding="utf-8")
        names.append(name)
    return names


def lmeval_predictions(model_dir: Path, tasks_dir: Path, tasks: list[str], shots: int, batch_size: int | str):
    """Run lm-eval's HF backend; return ({(subject, doc_id): predicted index}, {subject: acc})."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=tasks, num_fewshot=shots,
        batch_size=batch_size, device="cpu", log_samples=True, task_manager=TaskManager(include_path=str(tasks_dir)))
    preds, acc = {}, {}
    for task, samples in results["samples"].items():
        subject = task.removeprefix("pandian_cmmlu_")
        for s in samples:
            lls = [r[0] for r in s["filtered_resps"]]
            preds[(subject, s["doc_id"])] = max(range(len(lls)), key=lambda i: lls[i])
        acc[subject] = results["results"][task]["acc,none"]
    return preds, acc
