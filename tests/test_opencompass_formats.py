"""The OpenCompass prompt formats' joins and its answer post-processors, without OpenCompass installed (the
character-for-character comparison with OpenCompass itself, question by question, is in
test_opencompass_agreement.py)."""

from __future__ import annotations

import pytest

from pandian.core.postprocess import first_capital, first_option
from pandian.core.data import load_split
from pandian.core.prompts import render
from pandian.core.spec import load_spec

CASES = {  # benchmark: (evaluated split, subject)
    "cmmlu": ("test", "agronomy"),
    "ceval": ("val", "computer_network"),
    "mmlu": ("test", "anatomy"),
}


def prompt(data_dir, bench, fmt, shots):
    spec = load_spec(bench)
    split, subject = CASES[bench]
    q = load_split(spec, data_dir, split, [subject]).questions[0]
    pool = load_split(spec, data_dir, "dev", [subject]).questions[:shots]
    return spec.prompts[fmt], render(spec, spec.prompts[fmt], q, pool)


@pytest.mark.parametrize("bench,fmt,no_shots,between,before_question", [
    # OpenCompass joins a round-based config's turns with "\n" and its examples through its template parser: three
    # newlines after each example, two more before the question (perplexity configs), one newline before the
    # question only when there is no example (generation configs, and MMLU's string template's end token).
    ("cmmlu", "opencompass", "\n\n以下是关于农学", "答案是: C\n\n\n以下是", "答案是: D\n\n\n\n\n以下是"),
    ("cmmlu", "opencompass-gen", "\n以下是关于农学", "答案是: C\n以下是", "答案是: D\n以下是"),
    ("ceval", "opencompass", "\n\n以下是中国关于计算机网络", "答案: \nA\n\n\n以下是", "答案: \nA\n\n\n\n\n以下是"),
    ("ceval", "opencompass-gen", "\n以下是中国关于计算机网络", "答案: \nA\n以下是", "答案: \nA\n以下是"),
    ("mmlu", "opencompass", "The following are multiple choice questions (with answers) about  anatomy.\n\n\nA lesion",
     "Answer: D\n\nWhich", "Answer: D\n\nA lesion"),
    ("mmlu", "opencompass-gen", "\nThere is a single choice question about anatomy.", "Answer: \nD\n\nThere",
     "Answer: \nD\n\nThere is a single choice question about anatomy. Answer the question by replying A, B, C or D."
     "\nQuestion: A lesion"),
])
def test_opencompass_joins(data_dir, bench, fmt, no_shots, between, before_question):
    f, p = prompt(data_dir, bench, fmt, 2)
    assert p.text(0).startswith(no_shots)
    assert between in p.text(2) and before_question in p.text(2)
    assert f.source.startswith("OpenCompass 0.5.4 opencompass/configs/datasets/")


def test_opencompass_formats_declare_how_they_score(data_dir):
    for bench in CASES:
        spec = load_spec(bench)
        assert spec.prompts["opencompass"].tokenization == "opencompass"
        assert spec.prompts["opencompass-gen"].scoring == "generate"
        assert spec.prompts["lm-eval"].overflow == "truncate-left"
        assert spec.prompts["native"].overflow == "drop-shots"
    _, p = prompt(data_dir, "cmmlu", "opencompass", 0)
    assert p.continuations == ("A", "B", "C", "D")  # scored as part of each choice's whole text


def test_first_capital_is_any_capital_letter():
    assert first_capital("答案是 b，The end") == "T"  # not a label, and still OpenCompass's answer
    assert first_capital("没有大写字母") == ""
    assert first_capital("\u00c9tude A") == "\u00c9"  # str.isupper, as in OpenCompass


@pytest.mark.parametrize("text,expected", [
    ("答案是C", "C"),
    ("我认为答案为 B。", "B"),
    ("The answer is (D).", "D"),
    ("解析……故选A", "A"),
    ("选项 B 正确", "B"),
    ("Answer: \nC\n", "C"),
    ("答案是XYZ。", ""),  # "答案是(\S+)" captures no option, and no later pattern matches
    ("只有 ABD", "A"),  # the cushion pattern: the first option letter anywhere
    ("nothing here", ""),
])
def test_first_option_follows_opencompass_patterns(text, expected):
    assert first_option(text, "ABCD") == expected


def test_perplexity_scoring_matches_a_plain_forward_over_each_choices_whole_text(tiny_model, data_dir, tmp_path):
    """OpenCompass's get_ppl, recomputed here without the engine: every choice's whole text tokenized as one string,
    one forward, the mean log-likelihood over its tokens (the first has none and still counts, as in OpenCompass).
    pandian computes each question's context once on the subject's shared prefix; the numbers are the same."""
    import torch

    from pandian.app.lifecycle import EvalOptions, evaluate
    from pandian.store import ResultStore

    spec = load_spec("cmmlu")
    subjects = ["agronomy", "arts"]
    res = evaluate(tiny_model, spec, EvalOptions(data_dir=data_dir, shots=5, subjects=subjects, limit=4,
                                                 prompt_format="opencompass"), ResultStore(tmp_path / "r.db"))
    assert res.summary["config"]["prompt_source"].endswith("cmmlu_ppl_8b9c76.py")
    pool = {s: load_split(spec, data_dir, "dev", [s]).questions[:5] for s in subjects}
    questions = {q.qid: q for q in load_split(spec, data_dir, "test", subjects).questions}
    assert len(res.records) == 8
    for rec in res.records:
        p = render(spec, spec.prompts["opencompass"], questions[rec.qid], pool[rec.subject])
        expected = []
        for cont in p.continuations:
            ids = tiny_model.tokenizer(p.text() + cont)["input_ids"]
            with torch.no_grad():
                lp = torch.log_softmax(tiny_model.model(torch.tensor([ids])).logits[0].double(), -1)
            expected.append(sum(lp[t - 1, ids[t]].item() for t in range(1, len(ids))) / len(ids))
        assert max(abs(a - b) for a, b in zip(rec.logprobs, expected)) < 1e-5, rec.qid
        assert rec.pred == "ABCD"[max(range(4), key=lambda i: expected[i])]
