"""Cross-check against lm-evaluation-harness on the same tiny model and CMMLU questions, 5-shot,
--prompt-format lm-eval: predicted letters agree on >= 99.5% of questions and accuracy to 0.1 point."""

from __future__ import annotations

import time

import pytest

from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.spec import load_spec
from pandian.store import ResultStore

from .lmeval_tasks import lmeval_predictions, write_cmmlu_tasks

SUBJECTS = ["agronomy", "anatomy", "ancient_chinese", "arts", "astronomy"]


@pytest.mark.slow
def test_letters_and_accuracy_agree_with_lm_eval(tiny_model, tiny_model_dir, data_dir, tmp_path):
    pytest.importorskip("lm_eval")
    tasks = write_cmmlu_tasks(data_dir, SUBJECTS, tmp_path / "tasks")
    t0 = time.perf_counter()
    theirs, their_acc = lmeval_predictions(tiny_model_dir, tmp_path / "tasks", tasks, shots=5, batch_size=16)
    t_lmeval = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = evaluate(tiny_model, load_spec("cmmlu"),
                   EvalOptions(data_dir=data_dir, shots=5, subjects=SUBJECTS, prompt_format="lm-eval"),
                   ResultStore(tmp_path / "r.db"))
    t_pandian = time.perf_counter() - t0

    ours = {}
    for r in res.records:
        subject, idx = r.qid.split("/")
        ours[(subject, int(idx))] = "ABCD".index(r.pred)
    assert ours.keys() == theirs.keys() and len(ours) > 800
    agree = sum(ours[k] == theirs[k] for k in ours) / len(ours)
    their_overall = sum(their_acc[s] * res.summary["accuracy"]["subjects"][s]["n"] for s in SUBJECTS) / len(ours)
    our_overall = res.summary["accuracy"]["overall"]["questions"]["acc"]
    print(f"\nlm-eval agreement on {len(ours)} CMMLU questions (5 subjects, 5-shot): {100 * agree:.2f}% letters; "
          f"accuracy pandian {100 * our_overall:.2f} vs lm-eval {100 * their_overall:.2f}; "
          f"wall pandian {t_pandian:.1f} s vs lm-eval {t_lmeval:.1f} s")
    assert agree >= 0.995
    assert abs(our_overall - their_overall) <= 0.001
    for s in SUBJECTS:
        assert abs(res.summary["accuracy"]["subjects"][s]["acc"] - their_acc[s]) <= 0.001 + 1e-9, s
