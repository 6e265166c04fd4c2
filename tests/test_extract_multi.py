"""Extraction of a set of labels (multi-select questions) against a corpus of model outputs written for this
project (tests/data/extraction_multi_cases.jsonl), and the exact-set / partial-credit rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pandian.core.extract import extract_choices
from pandian.core.metrics import set_credit

CORPUS = Path(__file__).parent / "data" / "extraction_multi_cases.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[f"line{i}" for i in range(1, len(CASES) + 1)])
def test_corpus_case(case):
    assert extract_choices(case["text"], case["labels"]) == case["expected"], case["text"]


def test_corpus_mix():
    assert len(CASES) >= 40
    assert sum(len(c["expected"] or "") >= 2 for c in CASES) >= 25
    assert sum(c["expected"] is None for c in CASES) >= 4


@pytest.mark.parametrize("pred, gold, expected", [
    ("AC", "AC", (1, 1.0)),
    ("A", "AC", (0, 0.5)),    # right but incomplete: half, as exams mark 不定项选择题
    ("ABC", "AC", (0, 0.0)),  # any wrong label: nothing
    ("B", "AC", (0, 0.0)),
    (None, "AC", (0, 0.0)),
    ("C", "C", (1, 1.0)),
])
def test_set_credit(pred, gold, expected):
    assert set_credit(pred, gold) == expected
