"""docs/specs.md's worked examples, run: every `file=` block is written to a folder, and `pandian prompts` on each
`prompts=` block's spec and arguments must print exactly what the block shows. The docs cannot rot."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .conftest import ROOT, cli

DOC = ROOT / "docs" / "specs.md"
BLOCK = re.compile(r"^```(\w+) (file|prompts)=(\S+)(?: args=([^\n]*))?\n(.*?)^```$", re.M | re.S)


def blocks():
    return [(m[2], m[3], m[4] or "", m[5]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_doc_has_three_worked_examples():
    kinds = [kind for kind, *_ in blocks()]
    assert kinds.count("prompts") == 3 and kinds.count("file") >= 8


@pytest.mark.parametrize("spec, args, shown", [(b[1], b[2], b[3]) for b in blocks() if b[0] == "prompts"],
                         ids=lambda x: x if isinstance(x, str) and x.endswith(".yaml") else "")
def test_worked_example_prints_what_the_doc_shows(tmp_path, spec, args, shown):
    for kind, name, _, body in blocks():
        if kind == "file":
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
    out = cli("prompts", "--bench", str(tmp_path / spec), "--data-dir", str(tmp_path), *shlex.split(args))
    assert out == shown
