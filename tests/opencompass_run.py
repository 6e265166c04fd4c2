"""OpenCompass's side of the cross-check, run by OpenCompass's own interpreter (its separate virtual environment;
its pins conflict with pandian's): `python opencompass_run.py JOB.json OUT.json`.

It writes an OpenCompass config that takes the shipped dataset configs as they are, changing only where the data is
(local copies), how many questions of each subject run, and the model (OpenCompass's HuggingFaceBaseModel on a
local directory); runs OpenCompass's own command line on it, offline; and flattens the per-question predictions it
writes. Generation answers go through each dataset's own post-processor, as OpenCompass's evaluation step does.
Nothing of pandian is imported here.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONFIG = '''from mmengine.config import read_base
from opencompass.models import HuggingFaceBaseModel

with read_base():
{imports}

_jobs = {jobs!r}
datasets = []
for _configs, _job in zip([{names}], _jobs):
    for _d in _configs:
        if _d['name'] in _job['subjects']:
            _reader = dict(_d['reader_cfg'], test_range='[0:%d]' % _job['limit'])
            datasets.append(dict(_d, path=_job['path'], abbr=_d['abbr'] + _job['suffix'], reader_cfg=_reader))

models = [dict(type=HuggingFaceBaseModel, abbr='tiny', path={model!r}, max_seq_len={max_seq_len},
               max_out_len={max_out_len}, batch_size={batch_size}, run_cfg=dict(num_gpus=0),
               model_kwargs=dict(torch_dtype='float32', device_map='cpu'))]
del _jobs, _configs, _job, _d, _reader{dels}
'''


def write_config(job: dict, path: Path) -> None:
    imports, names = [], []
    for i, d in enumerate(job["datasets"]):
        imports.append(f"    from {d['module']} import {d['variable']} as _c{i}")
        names.append(f"_c{i}")
    jobs = [{k: d[k] for k in ("subjects", "path", "limit", "suffix")} for d in job["datasets"]]
    path.write_text(CONFIG.format(imports="\n".join(imports), jobs=jobs, names=", ".join(names),
                                  model=job["model"], max_seq_len=job["max_seq_len"], max_out_len=job["max_out_len"],
                                  batch_size=job["batch_size"], dels="".join(f", {n}" for n in names)))


def postprocessors(config: Path) -> dict:
    """Each dataset's pred_postprocessor, as OpenCompass's evaluation task builds it."""
    from mmengine.config import Config
    from opencompass.registry import TEXT_POSTPROCESSORS

    out = {}
    for d in Config.fromfile(str(config))["datasets"]:
        spec = dict(d.get("eval_cfg", {}).get("pred_postprocessor") or {})
        if spec:
            proc = spec.pop("type")
            if isinstance(proc, str):
                proc = TEXT_POSTPROCESSORS.get(proc)
            out[d["abbr"]] = (proc, spec)
    return out


def flatten(pred: dict, post) -> dict:
    rows = {}
    for index, r in pred.items():
        if "label: A" in r:  # perplexity: each label's full text and its PPL
            labels = sorted(k.removeprefix("label: ") for k in r if k.startswith("label: "))
            rows[index] = {"prediction": r["prediction"],
                           "texts": {lab: r[f"label: {lab}"]["prompt"] for lab in labels},
                           "ppl": {lab: r[f"label: {lab}"]["PPL"] for lab in labels}}
        else:
            proc, kwargs = post or (lambda text: text, {})
            rows[index] = {"prompt": r["origin_prompt"], "text": r["prediction"],
                           "prediction": proc(r["prediction"], **kwargs)}
    return rows


def main(job_path: str, out_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    work = Path(job["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.py"
    write_config(job, config)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    # --debug: tasks run one after another in this process's child, no task-launcher subprocesses or GPU checks
    subprocess.run([sys.executable, "-m", "opencompass.cli.main", str(config), "-w", str(work / "out"), "--debug"],
                   check=True, env=env, cwd=work, stdout=open(work / "log.txt", "w"), stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    post = postprocessors(config)
    results = {}
    for f in glob.glob(str(work / "out" / "*" / "predictions" / "tiny" / "*.json")):
        abbr = Path(f).stem
        results[abbr] = flatten(json.loads(Path(f).read_text()), post.get(abbr))
    Path(out_path).write_text(json.dumps({"wall_s": wall, "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:])
