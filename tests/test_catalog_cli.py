"""`pandian catalog` on the command line, and a run of a catalog model set beside the published numbers."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pandian.cli import app

from .conftest import cli


def test_list_filters_and_json():
    text = cli("catalog", "--domain", "legal")
    assert "chatlaw" in text and "qwen2.5" not in text
    rows = json.loads(cli("catalog", "--open", "--commercial", "--json"))["models"]
    assert rows and all(m["open_weights"] in ("yes", "partial") for m in rows)
    assert all(m["commercial_use"] in ("yes", "application") for m in rows)
    bentsao = json.loads(cli("catalog", "--domain", "medical", "--json"))["models"]
    routes = {m["key"]: m["evaluation"] for m in bentsao}
    assert routes["bentsao"][0]["command"].startswith("pandian eval --model bigscience/bloom-7b1 --adapter")


def test_show_and_conflicts(tmp_path):
    qwen = json.loads(cli("catalog", "show", "qwen", "--db", tmp_path / "r.db", "--json"))
    assert len(qwen["scores"]) == 147 and qwen["measured"] == []
    c = [c for c in qwen["conflicts"] if c["benchmark"] == "C-Eval" and c["variant"] == "Qwen-7B"]
    assert c and c[0]["values"] == [59.6, 63.5]
    text = cli("catalog", "show", "qwen", "--db", tmp_path / "r.db")
    assert "QwenLM/Qwen:README.md" in text and "sources disagree" in text and "Qwen/Qwen-7B" in text
    conflicts = json.loads(cli("catalog", "conflicts", "--json"))
    assert len(conflicts) == 62
    result = CliRunner().invoke(app, ["catalog", "show", "qwen2.6"])
    assert result.exit_code == 2 and "did you mean qwen2.5" in result.output and "Traceback" not in result.output


def test_measured_beside_published(tiny_model_dir, data_dir, tmp_path):
    """A local copy named with --catalog-key: the summary and `catalog show` put the measured C-Eval next to every
    published C-Eval of the model line, with the delta and the settings that differ."""
    db, out = tmp_path / "r.db", tmp_path / "out"
    text = cli("eval", "--model", tiny_model_dir, "--bench", "ceval", "--subjects", "law,logic", "--limit", "10",
               "--data-dir", data_dir, "--db", db, "--catalog-key", "qwen", "--out", out)
    assert "measured beside published" in text
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = summary["published"]["rows"]
    assert summary["published"]["catalog_key"] == "qwen" and summary["published"]["matched_by"] == "catalog key"
    row = next(r for r in rows if r["variant"] == "Qwen-7B" and r["source"]["repo"] == "QwenLM/Qwen")
    assert row["published"] == 63.5 and row["measured_as"] == "subject_mean"
    assert row["delta_pts"] == round(row["measured"] - 63.5, 2)
    assert row["differences"] == ["shots: published 5, measured 0",
                                  "split: published test (the leaderboard's split; the source states none), "
                                  "measured val"]
    shown = json.loads(cli("catalog", "show", "qwen", "--db", db, "--json"))["measured"]
    assert len(shown) == 1 and shown[0]["questions"] == 20 and shown[0]["published"] == rows
