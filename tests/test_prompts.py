"""Golden prompt renderings: the official wordings, and lm-evaluation-harness's exact CMMLU requests."""

from __future__ import annotations

import gzip
import json

import pytest

from pandian.core.data import load_split
from pandian.core.prompts import render
from pandian.app.lifecycle import EvalOptions, evaluate
from pandian.core.spec import load_spec
from pandian.store import ResultStore

from .conftest import need_data


def first_questions(name, data_dir, split, subject, shots=1):
    spec = load_spec(name)
    q = load_split(spec, data_dir, split, [subject]).questions[0]
    pool = load_split(spec, data_dir, spec.splits.fewshot, [subject]).questions[:shots]
    return spec, q, pool


def test_lm_eval_format_reproduces_all_cmmlu_requests(data_dir):
    """Every one of lm-eval 0.4.13's 11,582 CMMLU 5-shot contexts, continuations and targets, character for
    character (the requests lm-eval built, recorded in shared/reference/perf)."""
    ref_path = need_data().parent / "reference" / "perf" / "cmmlu5shot_lmeval_requests.jsonl.gz"
    if not ref_path.exists():
        pytest.skip(f"{ref_path} not found")
    spec = load_spec("cmmlu")
    fmt = spec.prompts["lm-eval"]
    questions: dict[str, list] = {}
    for q in load_split(spec, data_dir, "test").questions:
        questions.setdefault(q.subject, []).append(q)
    shots: dict[str, list] = {}
    for s in load_split(spec, data_dir, "dev").questions:
        shots.setdefault(s.subject, []).append(s)
    n = 0
    for line in gzip.open(ref_path, "rt", encoding="utf-8"):
        r = json.loads(line)
        q = questions[r["subject"]][r["doc_id"]]
        p = render(spec, fmt, q, shots[q.subject][:5])
        assert p.text() == r["context"], (r["subject"], r["doc_id"])
        assert list(p.continuations) == r["continuations"]
        assert q.answer == r["target"]
        n += 1
    assert n == 11582


def test_cmmlu_native_wording(data_dir):
    spec, q, shots = first_questions("cmmlu", data_dir, "test", "agronomy")
    p = render(spec, spec.prompts["native"], q, shots)
    assert p.text() == (
        "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n"
        "题目：肉牛屠宰后，胴体的哪个部位肉质较好\nA. 胸\nB. 腹\nC. 大腿\nD. 小腿\n答案是：C\n\n"
        "题目：在农业生产中被当作极其重要的劳动对象发挥作用，最主要的不可替代的基本生产资料是\n"
        "A. 农业生产工具\nB. 土地\nC. 劳动力\nD. 资金\n答案是：")
    assert p.continuations == ("A", "B", "C", "D")


def test_ceval_native_and_lm_eval_wording(data_dir):
    spec, q, shots = first_questions("ceval", data_dir, "val", "accountant", shots=0)
    native = render(spec, spec.prompts["native"], q, shots).text()
    assert native.startswith("以下是中国关于注册会计师考试的单项选择题，请选出其中的正确答案。\n\n下列关于税法基本原则的表述中，不正确的是____。\n"
                             "A. 税收法定原则包括税收要件法定原则和税务合法性原则\n")
    assert native.endswith("\n答案：")
    lm = render(spec, spec.prompts["lm-eval"], q, shots)
    assert lm.text().startswith("以下是中国关于注册会计师的单项选择题，请选出其中的正确答案。\n\n")
    assert lm.continuations == (" A", " B", " C", " D")


def test_mmlu_native_wording(data_dir):
    spec, q, shots = first_questions("mmlu", data_dir, "test", "abstract_algebra", shots=0)
    p = render(spec, spec.prompts["native"], q, shots)
    assert p.text() == ("The following are multiple choice questions (with answers) about abstract algebra.\n\n"
                        "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
                        "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:")
    assert p.continuations == (" A", " B", " C", " D")


def test_choice_scoring_continuations_are_choice_texts(data_dir):
    spec, q, shots = first_questions("mmlu", data_dir, "test", "abstract_algebra", shots=0)
    p = render(spec, spec.prompts["lm-eval"], q, shots, scoring="choice")
    assert p.continuations == (" 0", " 4", " 2", " 6")


def test_lm_eval_tokenization_rule(tiny_model):
    (ctx, conts), = tiny_model.tokenize(["答案： "], [(" A", "B")], "lm-eval")
    tok = tiny_model.tokenizer
    # the trailing space moves to the continuation before encoding, as lm-eval does
    assert ctx == tok.encode("答案：")
    assert conts[0] == tok.encode("答案：  A")[len(ctx):]
    (ctx2, conts2), = tiny_model.tokenize(["答案："], [(" A",)], "separate")
    assert ctx2 == tok.encode("答案：") and conts2 == [tok.encode(" A")]


def test_prompts_too_long_drop_shots_and_say_so(tmp_path, data_dir):
    """A model with a 400-token context: 5-shot prompts drop shots from the end, recorded per question; nothing is
    silently truncated."""
    from pandian.backends.hf import load_hf_model
    from pandian.backends.tiny import TinyShape, build_tiny_model

    texts = [p.read_text(encoding="utf-8") for p in sorted((data_dir / "cmmlu" / "data" / "dev").glob("*.csv"))]
    small = build_tiny_model(tmp_path / "m", texts, TinyShape(vocab_size=2048, max_positions=400))
    model = load_hf_model(str(small), device="cpu")
    store = ResultStore(tmp_path / "r.db")
    res = evaluate(model, load_spec("cmmlu"), EvalOptions(data_dir=data_dir, shots=5, subjects=["agronomy"],
                                                          limit=20), store)
    shots = [r.n_shots for r in res.records]
    assert min(shots) < 5 and res.summary["shots_dropped"] == sum(s < 5 for s in shots) > 0
    assert res.summary["truncated"] == 0
