"""Spellings: the same checkpoint is written "Internlm-20B-Chat" in one table and "InternLM-20B-Chat" in another.

Only case, spacing and separators are made uniform here. Everything beyond that (Qwen's README calling the base
model "Baichuan2-13B", a typo "Baichun2") is an explicit row of data/variant_aliases.csv with its reason, so that
no two checkpoints are merged by a rule nobody reviewed.
"""

from __future__ import annotations

import re


def spelling_key(name: str) -> str:
    """Lower case, runs of spaces / underscores / hyphens as one hyphen: "Qwen2.5 72B" -> "qwen2.5-72b"."""
    return re.sub(r"[\s_-]+", "-", name.strip().lower())


def part_key(name: str) -> str:
    """A category name without case, separators or a plural s: "SocialScience", "Social Sciences" ->
    "socialscience"; "China-specific", "China specific" -> "chinaspecific"."""
    key = re.sub(r"[^0-9a-z]+", "", name.lower())
    return key[:-1] if key.endswith("s") and len(key) > 3 else key


def hub_key(ref: str) -> str:
    """A hub id or local path compared without case and trailing slashes: "Qwen/Qwen2.5-7B-Instruct/"."""
    return ref.strip().rstrip("/").lower()


def dir_name_key(ref: str) -> str:
    """The last path component of a hub id or local directory, spelled uniformly: /models/Qwen2.5-7B-Instruct
    and Qwen/Qwen2.5-7B-Instruct both give "qwen2.5-7b-instruct"."""
    return spelling_key(ref.strip().rstrip("/").rsplit("/", 1)[-1])
