"""The whole command, as a user runs it: `pandian eval` and lm-eval's `lm_eval` each in a fresh process, timed from
exec to exit (interpreter start-up, imports, reading the benchmark, model load, tokenization, scoring, writing).

lm-eval reads the same CMMLU release files through task configs written by `tests/lmeval_tasks.py`; its dataset
cache is warmed once before timing, as it is for any user's second run. Each run writes its per-question
predictions, from which the letters are compared.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str, module: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


class WholeCommands:
    def __init__(self, model: Path, data_dir: Path, subjects: list[str], shots: int, limit: int | None,
                 lmeval_batch: str, device: str, dtype: str, work: Path):
        from tests.lmeval_tasks import write_tasks

        self.model, self.data_dir, self.subjects, self.shots, self.limit = model, data_dir, subjects, shots, limit
        self.lmeval_batch, self.device, self.dtype, self.work = lmeval_batch, device, dtype, work
        self.tasks_dir = work / "lmeval-tasks"
        self.tasks = write_tasks("cmmlu", data_dir, subjects, self.tasks_dir)
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "HF_DATASETS_CACHE": str(work / "hf-datasets"), "PANDIAN_HOME": str(work / "home"),
                    "PYTHONPATH": str(ROOT)}
        self.runs = 0

    def pandian(self, limit: int | None = None) -> dict:
        out = self.work / f"pandian-{self.runs}"
        self.runs += 1
        cmd = _tool("pandian", "pandian") + [
            "eval", "--model", str(self.model), "--bench", "cmmlu", "--data-dir", str(self.data_dir),
            "--shots", str(self.shots), "--subjects", ",".join(self.subjects), "--prompt-format", "lm-eval",
            "--device", self.device, "--dtype", self.dtype, "--db", str(out / "results.db"), "--out", str(out),
            "--json"]
        if limit or self.limit:
            cmd += ["--limit", str(limit or self.limit)]
        wall, cpu = self._run(cmd)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        preds = {}
        for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            subject, idx = r["qid"].split("/")
            preds[(subject, int(idx))] = "ABCD".index(r["pred"])
        shutil.rmtree(out)
        return {"wall_s": wall, "cpu_s": cpu, "preds": preds,
                "startup": summary.get("resources", {}).get("startup")}

    def lmeval(self, limit: int | None = None) -> dict:
        out = self.work / f"lmeval-{self.runs}"
        self.runs += 1
        cmd = _tool("lm_eval", "lm_eval") + [
            "run", "--model", "hf", "--model_args", f"pretrained={self.model},dtype={self.dtype}",
            "--tasks", ",".join(self.tasks), "--include_path", str(self.tasks_dir), "--num_fewshot", str(self.shots),
            "--batch_size", self.lmeval_batch, "--device", self.device, "--output_path", str(out), "--log_samples"]
        if limit or self.limit:
            cmd += ["--limit", str(limit or self.limit)]
        wall, cpu = self._run(cmd)
        preds = {}
        for f in out.rglob("samples_*.jsonl"):
            subject = f.name.removeprefix("samples_pandian_cmmlu_").rsplit("_", 1)[0]
            for line in f.read_text(encoding="utf-8").splitlines():
                s = json.loads(line)
                lls = [float(r[0]) for r in s["filtered_resps"]]  # written as strings
                preds[(subject, s["doc_id"])] = max(range(len(lls)), key=lambda i: lls[i])
        shutil.rmtree(out)
        return {"wall_s": wall, "cpu_s": cpu, "preds": preds}

    def _run(self, cmd: list[str]) -> tuple[float, float]:
        """(wall seconds, CPU seconds: user + system of the command and its children). On a loaded machine the
        CPU time is the steadier of the two."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=self.env, cwd=self.work, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
