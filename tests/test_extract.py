"""Answer extraction against a corpus of realistic model outputs (tests/data/extraction_cases.jsonl, one case a
line, written for this project), plus the reasoning stripper and numeric comparison on their own."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from pandian.core.extract import extract_choice, extract_number, numbers_equal, strip_reasoning

CORPUS = Path(__file__).parent / "data" / "extraction_cases.jsonl"
CASES = [
    (number, json.loads(line))
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1)
    if line.strip()
]


def _is_chinese(case: dict) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", case["text"]))


@pytest.mark.parametrize("case", [case for _, case in CASES], ids=[f"line{number}" for number, _ in CASES])
def test_corpus_case(case):
    if case["kind"] == "choice":
        got = extract_choice(case["text"], case["labels"], case.get("choices"))
    else:
        got = extract_number(case["text"])
    # Exact equality: a number must also come back in its canonical form ("1234.5", not "1,234.50").
    assert got == case["expected"], f"{case['text']!r}"


def test_corpus_size_and_mix():
    cases = [case for _, case in CASES]
    assert all(case["kind"] in ("choice", "number") for case in cases)
    assert all(set(case["labels"]) >= set(case["expected"] or "") for case in cases if case["kind"] == "choice")
    assert len(cases) >= 100
    assert sum(map(_is_chinese, cases)) >= 40
    assert sum(case["kind"] == "number" for case in cases) >= 30
    # Failures to extract are an outcome the caller counts, so the corpus must test them in both kinds.
    assert {case["kind"] for case in cases if case["expected"] is None} == {"choice", "number"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>A？B？</think>答案：C", "答案：C"),
        ("<THINKING>\nmaybe 3\n</THINKING>\n\n4", "4"),
        ("the prompt opened the tag, so only its end is here</think>\n\n42", "42"),
        ("<think>first</think> between <think>second</think> end", "between  end"),
        ("<think>\ncut off while still thinking about 12", ""),
        ("no reasoning at all", "no reasoning at all"),
    ],
)
def test_strip_reasoning(text, expected):
    assert strip_reasoning(text) == expected


@pytest.mark.parametrize(
    "a, b, equal",
    [
        ("3/4", "0.75", True),
        ("1,234", "1234.0", True),
        ("75%", "0.75", True),
        ("75%", "75", True),
        ("-3.5", "-7/2", True),
        ("$12", "12", True),
        ("１２", "12", True),
        ("0.33", "1/3", False),
        ("42", "43", False),
        ("0", "-0.0", True),
        ("42", None, False),
        ("forty-two", "42", False),
        ("1/0", "1/0", False),
    ],
)
def test_numbers_equal(a, b, equal):
    assert numbers_equal(a, b) is equal
    assert numbers_equal(b, a) is equal


def test_extracted_numbers_compare_with_gold_answers():
    assert numbers_equal(extract_number("The answer is $1,234.50."), "1234.50")
    assert numbers_equal(extract_number("所以概率为 $\\frac{3}{4}$。"), "0.75")


def test_labels_must_be_letters_and_cover_the_choices():
    with pytest.raises(ValueError, match="ASCII letters"):
        extract_choice("答案是1", labels="1234")
    with pytest.raises(ValueError, match="one label per choice"):
        extract_choice("Paris", labels="AB", choices=["London", "Paris", "Rome"])
    # Fewer choices than labels is fine: a ten-label set used for a question with four options.
    assert extract_choice("Paris", labels="ABCDEFGHIJ", choices=["London", "Paris", "Rome", "Oslo"]) == "B"


def test_adversarial_inputs_take_linear_time():
    # Model outputs can degenerate into long runs of one token; a pattern that backtracks quadratically on them
    # would stall a whole evaluation. Each of these took seconds before the patterns were made linear.
    runs = ["答案" + " " * 20000 + "是", "A" + " " * 20000 + "x", "<think>" * 5000, "\\boxed{" * 3000, "A " * 10000]
    start = time.perf_counter()
    for text in runs:
        extract_choice(text)
        extract_number(text)
    assert time.perf_counter() - start < 2.0
