"""Paired comparison statistics against scipy / hand-computed values, and fp32 vs int8 vs int4 end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

from pandian.backends.hf import load_hf_model
from pandian.cli import app
from pandian.core.stats import mcnemar_exact, mean_kl, paired_diff_ci, pareto
from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.spec import load_spec
from pandian.store import ResultStore


@pytest.mark.parametrize("b, c", [(0, 0), (1, 0), (5, 5), (3, 12), (40, 25), (100, 140)])
def test_mcnemar_exact_matches_scipy(b, c):
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_hand_table():
    # 2 discordant pairs both one way: p = 2 * (1/2)^2 = 0.5
    assert mcnemar_exact(2, 0) == pytest.approx(0.5)


def test_paired_bootstrap_equals_resampling_questions():
    rng = np.random.default_rng(1)
    base = rng.random(400) < 0.5
    other = np.where(rng.random(400) < 0.2, ~base, base)
    lo, hi = paired_diff_ci(base, other, draws=20000)
    idx = rng.integers(0, 400, size=(20000, 400))  # the textbook way: resample question indices
    diffs = other[idx].mean(1) - base[idx].mean(1)
    assert lo == pytest.approx(np.quantile(diffs, 0.025), abs=0.004)
    assert hi == pytest.approx(np.quantile(diffs, 0.975), abs=0.004)
    assert paired_diff_ci(base, base) == (0.0, 0.0)


def test_mean_kl_by_hand():
    a, b = [math.log(0.5), math.log(0.5)], [math.log(0.9), math.log(0.1)]
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert mean_kl([a], [b]) == pytest.approx(expected)
    assert mean_kl([a, a], [a, a]) == 0


def test_pareto_marks_dominated():
    d = pareto({"fp32": (0.60, 30.0), "int8": (0.59, 16.0), "int4": (0.55, 9.0), "bad": (0.55, 20.0)})
    assert d == {"fp32": False, "int8": False, "int4": False, "bad": True}


def test_fp32_int8_int4_end_to_end(tiny_model_dir, data_dir, tmp_path):
    pytest.importorskip("bitsandbytes")
    db = tmp_path / "r.db"
    store = ResultStore(db)
    opts = EvalOptions(data_dir=data_dir, shots=5, subjects=["agronomy", "anatomy"], limit=30)
    ids, recs = [], []
    for quant in (None, "int8", "int4"):
        model = load_hf_model(str(tiny_model_dir), device="cpu", quant=quant)
        res = evaluate(model, load_spec("cmmlu"), opts, store)
        ids.append(res.run_id)
        recs.append({r.qid: r for r in res.records})
        assert res.summary["resources"]["weights_gb"] > 0 and res.summary["questions"] == 60
    assert len(set(ids)) == 3  # the variant is part of the run's identity

    out = CliRunner().invoke(app, ["compare", *ids, "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    cmp = json.loads(out.output)
    assert [v["label"].split("[")[1] for v in cmp["variants"]] == ["float32]", "int8]", "int4]"]
    for v, r in zip(cmp["variants"][1:], recs[1:]):
        assert set(v["right_to_wrong"]) == {q for q in r if recs[0][q].correct and not r[q].correct}
        assert set(v["wrong_to_right"]) == {q for q in r if r[q].correct and not recs[0][q].correct}
        assert v["weights_gb"] < cmp["variants"][0]["weights_gb"]
        assert v["mean_kl"] >= 0 and "Other" in v["categories"]
    text = CliRunner().invoke(app, ["compare", *ids, "--db", str(db)]).output
    assert "McNemar" in text and "int4" in text and "baseline" in text
