"""Cross-check against OpenCompass 0.5.4 itself, question by question, on the same tiny model and the same local
data: its perplexity configs for CMMLU and C-Eval (the ones its base-model leaderboard cites) and its C-Eval
generation config, against pandian's `opencompass` and `opencompass-gen` prompt formats.

OpenCompass runs in its own virtual environment (its pins conflict with pandian's): `make opencompass-check` builds
it and runs this test; without it the test skips. Per question: the prompts are identical (each choice's whole text
for perplexity, the prompt for generation), the predictions agree on >= 99.5% of questions, OpenCompass's
perplexities are reproduced, and so are its generated texts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.prompts import prompt_hash
from pandian.core.spec import load_spec
from pandian.store import ResultStore

from .conftest import ROOT

pytestmark = pytest.mark.opencompass

CONFIGS = "opencompass.configs.datasets"
CMMLU = ["agronomy", "anatomy", "ancient_chinese", "arts", "astronomy"]
CEVAL = ["computer_network", "operating_system", "computer_architecture", "college_programming", "college_physics"]
# questions per subject (C-Eval's val subjects have fewer); PANDIAN_OPENCOMPASS_LIMIT=0: every question
LIMIT = int(os.environ.get("PANDIAN_OPENCOMPASS_LIMIT", "40")) or 100_000
MAX_OUT_LEN = 32    # generated tokens, both sides
BATCH = 8           # OpenCompass's batch size (its model configs' usual one)
RUNS = [  # (OpenCompass config, its variable, pandian benchmark, prompt format, subjects, abbreviation suffix)
    ("cmmlu.cmmlu_ppl_8b9c76", "cmmlu_datasets", "cmmlu", "opencompass", CMMLU, ""),
    ("ceval.ceval_ppl_578f8d", "ceval_datasets", "ceval", "opencompass", CEVAL, ""),
    ("ceval.ceval_gen_5f30c7", "ceval_datasets", "ceval", "opencompass-gen", CEVAL, "-gen"),
]
RELEASE = {"cmmlu": "cmmlu/data", "ceval": "ceval/ceval-exam"}


@pytest.fixture(scope="module")
def opencompass_python() -> str:
    python = Path(os.environ.get("PANDIAN_OPENCOMPASS_PYTHON", ROOT / ".venv-opencompass" / "bin" / "python"))
    if not python.exists():
        pytest.skip(f"OpenCompass's environment not found at {python}: `make opencompass-check` builds it and runs "
                    "this test")
    return str(python)


@pytest.fixture(scope="module")
def opencompass(opencompass_python, tiny_model_dir, data_dir, tmp_path_factory) -> dict:
    """OpenCompass's per-question results for every run in RUNS, and its wall time. PANDIAN_OPENCOMPASS_RESULTS
    names the out.json of an earlier run to compare against instead (the prompt hashes still have to match)."""
    earlier = os.environ.get("PANDIAN_OPENCOMPASS_RESULTS")
    if earlier:
        return json.loads(Path(earlier).read_text())
    work = tmp_path_factory.mktemp("opencompass")
    job = {"model": str(tiny_model_dir), "max_seq_len": 4096, "max_out_len": MAX_OUT_LEN, "batch_size": BATCH,
           "work_dir": str(work), "datasets": [
               {"module": f"{CONFIGS}.{config}", "variable": var, "subjects": subjects,
                "path": str(data_dir / RELEASE[bench]), "limit": LIMIT, "suffix": suffix}
               for config, var, bench, _, subjects, suffix in RUNS]}
    (work / "job.json").write_text(json.dumps(job))
    proc = subprocess.run([opencompass_python, str(Path(__file__).with_name("opencompass_run.py")),
                           str(work / "job.json"), str(work / "out.json")], capture_output=True, text=True)
    log = work / "log.txt"
    assert proc.returncode == 0, (proc.stderr[-3000:], log.read_text()[-3000:] if log.exists() else "")
    return json.loads((work / "out.json").read_text())


def pandian_run(tiny_model, data_dir, tmp_path, bench, fmt, subjects):
    opts = EvalOptions(data_dir=data_dir, shots=5, subjects=subjects, limit=LIMIT, prompt_format=fmt,
                       max_tokens=MAX_OUT_LEN)
    t0 = time.perf_counter()
    res = evaluate(tiny_model, load_spec(bench), opts, ResultStore(tmp_path / f"{bench}-{fmt}.db"))
    wall = time.perf_counter() - t0
    by_subject: dict[str, list] = {}
    for r in res.records:
        by_subject.setdefault(r.subject, []).append(r)
    return res, by_subject, wall


def unpadded(lengths: list[int]) -> set[int]:
    """Rows OpenCompass ran without padding: the longest of each batch of BATCH consecutive questions."""
    out = set()
    for start in range(0, len(lengths), BATCH):
        batch = lengths[start:start + BATCH]
        out |= {start + i for i, n in enumerate(batch) if n == max(batch)}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("bench,subjects", [("cmmlu", CMMLU), ("ceval", CEVAL)])
def test_perplexity_predictions_agree_with_opencompass(opencompass, bench, subjects, tiny_model, data_dir, tmp_path):
    res, ours, wall = pandian_run(tiny_model, data_dir, tmp_path, bench, "opencompass", subjects)
    source = load_spec(bench).prompts["opencompass"].source
    config = next(c for c, _, b, f, _, _ in RUNS if b == bench and f == "opencompass")
    assert res.summary["config"]["prompt_source"] == source and source.endswith(config.split(".")[1] + ".py")
    n = agree = exact = 0
    worst_shift = 0.0
    for subject in subjects:
        theirs = opencompass["results"][f"{bench}-{subject}"]
        assert len(theirs) == len(ours[subject])
        lengths = [len(tiny_model.tokenizer(theirs[str(i)]["texts"]["A"])["input_ids"]) for i in range(len(theirs))]
        plain = unpadded(lengths)
        for i, rec in enumerate(ours[subject]):
            t = theirs[str(i)]
            labels = sorted(t["texts"])
            context = t["texts"]["A"][:-1]
            # each choice's whole text, character for character
            assert all(t["texts"][lab] == context + lab for lab in labels)
            assert prompt_hash(context, labels) == rec.prompt_hash, (subject, i)
            n += 1
            agree += rec.pred == t["prediction"]
            ppl = [-x for x in rec.logprobs]
            theirs_ppl = [t["ppl"][lab] for lab in labels]
            if i in plain:  # the same number
                exact += 1
                assert max(abs(a - b) for a, b in zip(ppl, theirs_ppl)) < 1e-4, (subject, i)
            # padded rows: OpenCompass adds one loss term read at a pad position (left padding), the same for every
            # choice of a question up to its length; the gaps between choices, which decide, stay the same
            shift = [b - a for a, b in zip(ppl, theirs_ppl)]
            worst_shift = max(worst_shift, max(shift) - min(shift))
    print(f"\nOpenCompass {source.split('/')[-1]}: {agree}/{n} predictions agree ({100 * agree / n:.2f}%), "
          f"{exact} unpadded perplexities equal to 1e-4, choice gaps within {worst_shift:.1e}; "
          f"pandian {wall:.1f} s; OpenCompass {opencompass['wall_s'] or 0:.1f} s for all three configs")
    assert agree / n >= 0.995
    assert worst_shift < 1e-4
    assert exact >= n // BATCH


@pytest.mark.slow
def test_generation_agrees_with_opencompass(opencompass, tiny_model, data_dir, tmp_path):
    res, ours, wall = pandian_run(tiny_model, data_dir, tmp_path, "ceval", "opencompass-gen", CEVAL)
    assert res.summary["config"]["generation"]["max_tokens"] == MAX_OUT_LEN
    n = same_text = agree = 0
    for subject in CEVAL:
        theirs = opencompass["results"][f"ceval-{subject}-gen"]
        assert len(theirs) == len(ours[subject])
        for i, rec in enumerate(ours[subject]):
            t = theirs[str(i)]
            assert prompt_hash(t["prompt"], ()) == rec.prompt_hash, (subject, i)
            n += 1
            same_text += rec.response == t["text"]
            agree += rec.pred == t["prediction"]
    print(f"\nOpenCompass ceval_gen_5f30c7: {same_text}/{n} generated texts identical, {agree}/{n} answers "
          f"(first_capital) agree; pandian {wall:.1f} s")
    assert same_text / n >= 0.995 and agree / n >= 0.995
