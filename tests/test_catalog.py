"""The catalog of published facts: integrity of the data files, the conflict audit, look-ups from runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pandian.catalog import CONFIG_DIR, DATA_DIR, CatalogError, load_catalog, parse_setting, setting_differences
from pandian.catalog.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    shared = Path(os.environ["PANDIAN_DATA_DIR"]).resolve().parent if os.environ.get("PANDIAN_DATA_DIR") \
        else ROOT.parent / "shared"
    return shared / "reference"


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_counts_and_every_number_has_a_source(cat):
    assert len(cat.models) == 47
    assert len(cat.scores()) == 2783 and len(cat.resources()) == 220
    for s in cat.scores():
        assert s.source.repo and s.source.commit and len(s.source.commit) == 40, s
        assert s.source.url.startswith(f"https://github.com/{s.source.repo}/blob/{s.source.commit}/")
    for r in cat.resources():
        assert r.source.repo, r


def test_package_files_are_the_reference_files():
    ref = reference_dir()
    if not ref.is_dir():
        pytest.skip(f"no reference folder at {ref} (set PANDIAN_DATA_DIR to the shared data folder)")
    for name in ("models.csv", "scores.csv", "resources.csv", "NOTES.md"):
        assert (DATA_DIR / name).read_bytes() == (ref / name).read_bytes(), f"{name} differs from {ref / name}"


def test_the_survey_models_are_all_there(cat):
    survey = ["ernie-bot", "pangu", "qwen", "spark", "chatglm-6b", "aquila", "caozhi", "internlm", "baichuan-7b",
              "baichuan2", "chatlaw", "bentsao", "shanhai", "cpm-bee", "zidong-taichu", "tigerbot", "360zhinao", "k2",
              "mediagpt", "xuanyuan-176b", "techgpt", "moss", "huatuogpt", "deepseek-v3", "yi", "minicpm"]
    keys = {m.key for m in cat.models}
    assert not set(survey) - keys
    # successors that name a catalog key resolve; the rest are free text (ERNIE 4.0, GeoGalactica)
    for m in cat.models:
        if m.successor and " " not in m.successor and m.successor.islower():
            assert m.successor in keys, (m.key, m.successor)


def test_every_model_says_how_pandian_evaluates_it(cat):
    for m in cat.models:
        assert m.routes, m.key
        for r in m.routes:
            if r.how in ("hub", "api", "adapter"):
                assert r.command and r.target in r.command, r
            else:
                assert r.command is None and len(r.note) > 30, r
    how = {m.key: {r.how for r in m.routes} for m in cat.models}
    assert how["caozhi"] == {"none"} and how["shanhai"] == {"none"} and how["pangu"] == {"none"}
    assert how["bentsao"] == {"adapter"} and "api" in how["ernie-bot"] and "hub" in how["qwen2.5"]
    bloom = next(r for r in cat.model("bentsao").routes if "bloom" in r.target)
    assert bloom.command == "pandian eval --model bigscience/bloom-7b1 --adapter lovepon/lora-bloom-med-bloom"
    # the model line's own hub id is one of its routes whenever it has one
    for m in cat.models:
        if m.hf_repo_id:
            assert cat.match(m.hf_repo_id).model.key == m.key, m.key


def test_route_configs_match_the_published_size(cat):
    from pandian.core.fit import read_arch  # the estimator reads the same files `pandian recommend` uses

    used = set()
    for m in cat.models:
        for r in m.routes:
            if r.config:
                used.add(r.config)
                config = json.loads((CONFIG_DIR / f"{r.config}.json").read_text(encoding="utf-8"))
                params = read_arch(config).params / 1e9
                assert abs(params - r.params_b) / r.params_b < 0.15, (r.checkpoint, params, r.params_b)
    assert used == {p.stem for p in CONFIG_DIR.glob("*.json")}, "a config no route uses"


def test_known_conflicts_are_detected_with_every_source(cat):
    conflicts = {(c.variant, c.benchmark, c.setting): c for c in cat.conflicts()}
    qwen = conflicts[("Qwen-7B", "C-Eval", "5-shot")]
    assert qwen.values == [59.6, 63.5] and not qwen.rounding_only
    assert {s.source.repo for s in qwen.scores} == {"QwenLM/Qwen", "Duxiaoman-DI/XuanYuan"}
    yi = conflicts[("Yi-34B", "BBH", "3-shot")]
    assert yi.values == [54.3, 66.4]
    # an alias joins Qwen's "Baichuan2-13B" and XuanYuan's misspelt "Baichun2-13B-base" to the base model
    b13 = conflicts[("Baichuan2-13B-Base", "MMLU", "5-shot")]
    assert {s.variant for s in b13.scores} == {"Baichuan2-13B-Base", "Baichuan2-13B", "Baichun2-13B-base"}
    # 57.07 (Baichuan's README) vs 57.1 (Qwen's) is a rounding, reported as such
    b7 = conflicts[("Baichuan2-7B-Base", "CMMLU", "5-shot")]
    assert b7.rounding_only
    # different settings are not a conflict: ChatGLM-6B's C-Eval 38.9 (0-shot) and 34.5 (5-shot)
    assert not [c for c in cat.conflicts("chatglm-6b") if c.benchmark == "C-Eval"]
    # reading a missing split as C-Eval's leaderboard split (test) joins Baichuan's "test 5-shot" and Qwen's "5-shot"
    loose = [c for c in cat.conflicts("baichuan2", comparable=True)
             if c.variant == "Baichuan2-7B-Base" and c.benchmark == "C-Eval"]
    assert len(loose) == 1 and loose[0].values == [54.0, 56.3]


def test_aliases_name_published_spellings(cat):
    written = {(s.model_key, s.variant) for s in cat.scores()} | {(r.model_key, r.variant) for r in cat.resources()}
    from pandian.catalog.names import spelling_key

    for (key, alias), _ in cat._aliases.items():
        assert any(k == key and spelling_key(v) == alias for k, v in written), (key, alias)


def test_match_run_references(cat):
    assert cat.match("Qwen/Qwen2.5-7B-Instruct").route.checkpoint == "Qwen2.5-7B-Instruct"
    assert cat.match("qwen/qwen2.5-7b-instruct-gptq-int4").route.checkpoint == "Qwen2.5-7B-Instruct"
    local = cat.match("/models/Yi-6B-Chat/")
    assert (local.model.key, local.how) == ("yi", "directory name")
    assert cat.match("deepseek:deepseek-chat").model.key == "deepseek-v3"
    assert cat.match("deepseek-reasoner").model.key == "deepseek-r1"  # API runs are stored under the model name
    assert cat.match("/tmp/tiny-qwen2") is None
    named = cat.match("/tmp/my-finetune", catalog_key="chatlaw")
    assert (named.model.key, named.route, named.how) == ("chatlaw", None, "catalog key")
    with pytest.raises(CatalogError, match="did you mean qwen2.5"):
        cat.model("qwen2.6")


def test_select(cat):
    assert [m.key for m in cat.select(domain="legal")] == ["chatlaw", "tigerbot"]  # TigerBot: legal plugin
    medical = {m.key for m in cat.select(domain="medical")}
    assert {"bentsao", "huatuogpt"} <= medical
    commercial = cat.select(open_weights=True, commercial=True)
    assert all(m.open_weights in ("yes", "partial") and m.commercial_use in ("yes", "application")
               for m in commercial)
    assert "chatlaw" not in {m.key for m in commercial} and "qwen3" in {m.key for m in commercial}


def test_published_settings():
    s = parse_setting("test 5-shot")
    assert (s.shots, s.split, s.harness) == (5, "test", None)
    assert parse_setting("zero-shot").shots == 0 and parse_setting("Zero-shot").key == "0-shot"
    assert parse_setting("0-shot CoT (OpenCompass)").harness == "OpenCompass"
    assert parse_setting("few-shot CoT").few_shot_unnumbered and parse_setting("").shots is None
    diffs = setting_differences(parse_setting("5-shot"), shots=0, split="val", prompt_format="native",
                                default_split="test")
    assert diffs == ["shots: published 5, measured 0",
                     "split: published test (the leaderboard's split; the source states none), measured val"]
    assert setting_differences(parse_setting("test 5-shot"), shots=5, split="test", prompt_format="native") == []


def test_resource_rows_tell_inference_from_fine_tuning(cat):
    not_inference = [r for r in cat.resources() if not r.inference]
    assert len(not_inference) == 9
    assert all("fine-tuning" in r.setting or "RAM" in r.setting for r in not_inference)


def test_bad_files_name_file_line_and_column(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    scores = (data / "scores.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    scores[5] = scores[5].replace(",CMMLU:", ",CMMLU:", 1).rsplit(",", 2)[0] + ",abc,x/y:z@" + "0" * 40 + "\n"
    (data / "scores.csv").write_text("".join(scores), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"scores.csv, line 6, column 'score': 'abc' is not a number"):
        Catalog(data)
    shutil.copy(DATA_DIR / "scores.csv", data / "scores.csv")
    routes = (data / "evaluation.csv").read_text(encoding="utf-8").replace("\ncaozhi,none,", "\ncaozhi,maybe,")
    (data / "evaluation.csv").write_text(routes, encoding="utf-8")
    with pytest.raises(CatalogError, match=r"evaluation.csv, line \d+, column 'how': 'maybe' is not one of"):
        Catalog(data)


def test_catalog_imports_nothing_heavy():
    code = ("import sys, pandian.catalog as c; c.load_catalog(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sqlite3', 'sqlalchemy', 'rich', "
            "'typer', 'transformers', 'numpy') or (m.startswith('pandian.') and not m.startswith('pandian.catalog') "
            "and m not in ('pandian.core', 'pandian.core.errors'))))")  # InputError: the one shared error type
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
