"""Cross-check against lm-evaluation-harness on the same tiny model, 5-shot, --prompt-format lm-eval: CMMLU, C-Eval
and MMLU subjects through lm-eval's own task configs. Predicted letters agree on >= 99.5% of questions, accuracy to
0.1 point, and every choice's log-likelihood to 1e-3, also on MMLU college_medicine, whose longest 5-shot prompts
overflow the model's 4,096-token context: lm-eval cuts them from the left, and so does the lm-eval format's default
overflow policy (truncate-left)."""

from __future__ import annotations

import time

import pytest

from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.data import load_split
from pandian.core.spec import load_spec
from pandian.store import ResultStore

from .lmeval_tasks import lmeval_predictions, write_tasks

SUBJECTS = {
    "cmmlu": ["agronomy", "anatomy", "ancient_chinese", "arts", "astronomy"],
    "ceval": ["computer_network", "operating_system", "computer_architecture", "college_programming",
              "college_physics", "accountant", "law"],
    "mmlu": ["abstract_algebra", "college_medicine"],  # college_medicine: 5 of its 173 prompts overflow
}
OVERFLOWING = {"mmlu": 5}


def positions(spec, data_dir, subjects) -> dict[str, tuple[str, int]]:
    """qid -> (subject, position in the subject's file): lm-eval's doc_id is the position, pandian's MMLU ids are
    CSV line numbers."""
    qs = load_split(spec, data_dir, spec.splits.eval, subjects).questions
    out, seen = {}, {}
    for q in qs:
        out[q.qid] = (q.subject, seen.setdefault(q.subject, 0))
        seen[q.subject] += 1
    return out


@pytest.mark.slow
@pytest.mark.parametrize("bench", list(SUBJECTS))
def test_letters_logprobs_and_accuracy_agree_with_lm_eval(bench, tiny_model, tiny_model_dir, data_dir, tmp_path):
    pytest.importorskip("lm_eval")
    subjects = SUBJECTS[bench]
    spec = load_spec(bench)
    tasks = write_tasks(bench, data_dir, subjects, tmp_path / "tasks")
    t0 = time.perf_counter()
    theirs, their_acc = lmeval_predictions(tiny_model_dir, tmp_path / "tasks", tasks, shots=5, batch_size=16)
    t_lmeval = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = evaluate(tiny_model, spec, EvalOptions(data_dir=data_dir, shots=5, subjects=subjects,
                                                 prompt_format="lm-eval"), ResultStore(tmp_path / "r.db"))
    t_pandian = time.perf_counter() - t0

    where = positions(spec, data_dir, subjects)
    ours = {where[r.qid]: r for r in res.records}
    assert ours.keys() == theirs.keys() and len(ours) >= 100
    best = {k: max(range(4), key=lambda i: v[i]) for k, v in theirs.items()}
    agree = sum("ABCD".index(r.pred) == best[k] for k, r in ours.items()) / len(ours)
    worst = max(abs(a - b) for k, r in ours.items() for a, b in zip(r.logprobs, theirs[k]))
    their_overall = sum(their_acc[s] * res.summary["accuracy"]["subjects"][s]["n"] for s in subjects) / len(ours)
    our_overall = res.summary["accuracy"]["overall"]["questions"]["acc"]
    over = [k for k, r in ours.items() if r.truncated_tokens]
    print(f"\nlm-eval agreement on {len(ours)} {spec.title} questions ({len(subjects)} subjects, 5-shot): "
          f"{100 * agree:.2f}% letters, largest log-likelihood difference {worst:.1e}; {len(over)} prompts over the "
          f"context, cut from the left; accuracy pandian {100 * our_overall:.2f} vs lm-eval {100 * their_overall:.2f}; "
          f"wall pandian {t_pandian:.1f} s vs lm-eval {t_lmeval:.1f} s")
    assert res.summary["overflow"] == "truncate-left" and res.summary["config"]["overflow"] == "truncate-left"
    assert len(over) == res.summary["truncated"] == OVERFLOWING.get(bench, 0)
    assert res.summary["shots_dropped"] == 0
    assert agree >= 0.995 and worst < 1e-3
    assert all("ABCD".index(ours[k].pred) == best[k] for k in over)
    assert abs(our_overall - their_overall) <= 0.001
    for s in subjects:
        assert abs(res.summary["accuracy"]["subjects"][s]["acc"] - their_acc[s]) <= 0.001 + 1e-9, s


@pytest.mark.slow
def test_drop_shots_is_a_declared_choice_with_its_own_identity(tiny_model, data_dir, tmp_path):
    """The same overflowing MMLU questions under --overflow drop-shots: they keep fewer examples instead, nothing
    is cut, the records say how many examples each kept, and the run is a different run."""
    spec = load_spec("mmlu")
    store = ResultStore(tmp_path / "r.db")
    runs = {}
    for policy in ("truncate-left", "drop-shots"):
        runs[policy] = evaluate(tiny_model, spec, EvalOptions(
            data_dir=data_dir, shots=5, subjects=["college_medicine"], prompt_format="lm-eval", overflow=policy),
            store)
    cut = {r.qid for r in runs["truncate-left"].records if r.truncated_tokens}
    dropped = {r.qid for r in runs["drop-shots"].records if r.n_shots < 5}
    assert len(cut) == 5 and dropped == cut
    assert all(r.truncated_tokens == 0 for r in runs["drop-shots"].records)
    summary = runs["drop-shots"].summary
    assert summary["overflow"] == "drop-shots" and summary["shots_dropped"] == 5 and summary["truncated"] == 0
    assert runs["drop-shots"].run_id != runs["truncate-left"].run_id
    fitted = {r.qid: r.prompt_hash for r in runs["drop-shots"].records}
    assert all(fitted[r.qid] == r.prompt_hash for r in runs["truncate-left"].records if r.qid not in cut)
