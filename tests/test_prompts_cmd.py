"""`pandian prompts`: the exact prompts of a built-in benchmark, token counts with a tokenizer only, JSON output,
and the refusals (a preprocess hook without --trust-spec-code, --field with a spec)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pandian.cli import app

from .conftest import cli

SHAPES = Path(__file__).parent / "fixtures" / "shapes"


def test_cmmlu_prompt_and_token_counts_without_loading_weights(data_dir, tiny_model_dir):
    from transformers import AutoTokenizer

    args = ["prompts", "--bench", "cmmlu", "--data-dir", str(data_dir), "--subjects", "agronomy", "--shots", "1",
            "-n", "2"]
    text = cli(*args)
    assert text.startswith("=== 1/2 agronomy/0 · test · native · 1 shot(s) · answer B ===\n以下是关于农学的单项选择题")
    assert text.count("--- continuations: \"A\" | \"B\" | \"C\" | \"D\"\n") == 2
    items = json.loads(cli(*args, "--json", "--model", str(tiny_model_dir)))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert items[0]["prompt_tokens"] == len(tok(items[0]["text"])["input_ids"])
    assert items[0]["continuation_tokens"] == [len(tok(c, add_special_tokens=False)["input_ids"])
                                               for c in items[0]["continuations"]]
    assert f"--- tokens: prompt {items[1]['prompt_tokens']}; continuations" in cli(*args, "--model",
                                                                                   str(tiny_model_dir))


def test_generate_scoring_shows_no_continuations(data_dir):
    text = cli("prompts", "--bench", "ceval", "--data-dir", str(data_dir), "--subjects", "law", "-n", "1",
               "--scoring", "generate")
    assert "--- the model writes its answer (max_tokens 512)" in text and "continuations" not in text


def test_preprocess_needs_trust_and_field_needs_an_own_file():
    args = ["prompts", "--bench", str(SHAPES / "hook.yaml"), "--data-dir", str(SHAPES / "data"), "-n", "1"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "--trust-spec-code" in refused.output
    assert "地球绕太阳转一圈大约需要多久？\nA. 一天\nB. 一个月\nC. 一年\n答案：" in cli(*args, "--trust-spec-code")
    wrong = CliRunner().invoke(app, ["prompts", "--bench", "cmmlu", "--field", "question=q"])
    assert wrong.exit_code == 2 and "--field names the columns of your own data file" in " ".join(wrong.output.split())


def test_chosen_questions_include_a_multi_answer_one(data_dir):
    text = cli("prompts", "--bench", "cmexam", "--data-dir", str(data_dir), "--qid", "cmexam/2225")
    assert text.startswith("=== 1/1 cmexam/2225 · val · zh · 0 shot(s) · answer ABC ===\n以下是中国执业医师资格考试的多项选择题")
    assert "--- 31 sets of labels: \"A\" | \"B\" |" in text and text.rstrip().endswith('"ABCDE"')
    missing = CliRunner().invoke(app, ["prompts", "--bench", "cmexam", "--data-dir", str(data_dir), "--qid", "x/1"])
    assert missing.exit_code == 2 and "no question 'x/1'" in missing.output
