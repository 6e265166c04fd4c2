"""Mistakes in a spec (Jinja, path placeholders, a template that tries to run code) and in a model reference (not a
model, missing or truncated weights, no chat template) are named before any model loads: exit code 2, no
traceback, nothing written. Every entry point gets the same checks: `lifecycle.evaluate` runs them itself."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from .test_bad_options import assert_rejected, eval_cmmlu, invoke

CMMLU = (__import__("pandian.core.spec", fromlist=["BUILTIN_DIR"]).BUILTIN_DIR / "cmmlu.yaml").read_text("utf-8")
SPEC = CMMLU.split("subjects:")[0] + 'subjects:\n  agronomy: {name: "农学", categories: ["Other"]}\n'
PAYLOAD = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"


def spec_file(tmp_path, old: str, new: str):
    assert old in SPEC
    path = tmp_path / "exam.yaml"
    path.write_text(SPEC.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, culprit", [
    ('answer: "{{ label }}"', 'answer: "{{ label }"', "line 23, field 'prompts.native.answer': template line 1: "
                                                       "unexpected '}'"),
    ('answer: "{{ label }}"', 'answer: "{{ labl }}"', "line 23, field 'prompts.native.answer': unknown variable "
                                                      "'labl'"),
    ('answer: "{{ label }}"', 'answer: "{{ row.grade }}"', "field 'prompts.native.answer': row.grade is not a field"),
    ('answer: "{{ label }}"', 'answer: "{{ 1 // 0 }}"', "field 'prompts.native.answer': ZeroDivisionError"),
    ("题目：{{ question }}", "题目：{{ question.nosuch() }}", "field 'prompts.native.question'"),
    ('answer: "{{ label }}"', 'answer: "{{ label | nosuchfilter }}"', "field 'prompts.native.answer'"),
    ("{subject}.csv", "{subject.csv", "line 9, field 'data.local.path'"),
    ("{subject}.csv", "{subject}}.csv", "has a brace outside a placeholder"),
    # a typo of {subject} would otherwise be matched on disk: every file read as one subject named after the spec
    ("{subject}.csv", "{subjec}.csv", "line 9, field 'data.local.path': Value error, 'cmmlu/data/{split}/{subjec}.csv' "
                                      "has the unknown placeholder {subjec} (did you mean {subject}?); the known ones "
                                      "are {split}, {subject}"),
    ('config: "{subject}"', 'config: "{Subject}"', "line 10, field 'data.hub.config': Value error, '{Subject}' has "
                                                   "the unknown placeholder {Subject} (did you mean {subject}?)"),
])
def test_spec_mistake_names_file_line_and_field(tiny_model_dir, data_dir, tmp_path, old, new, culprit):
    path = spec_file(tmp_path, old, new)
    db = tmp_path / "r.db"
    result = invoke("eval", "--model", tiny_model_dir, "--bench", path, "--data-dir", data_dir, "--limit", "2",
                    "--db", db)
    assert_rejected(result, f"{path}, {culprit}" if culprit.startswith("line") else culprit)
    assert str(path) in result.output.replace("\n", "")
    assert not db.exists()


def test_a_template_cannot_run_code(tiny_model_dir, data_dir, tmp_path):
    """The payload that runs `id` through a plain jinja2.Environment fails in the sandbox, by name."""
    marker = tmp_path / "ran"
    payload = PAYLOAD.replace("'id'", f"'touch {marker}'")
    path = spec_file(tmp_path, 'answer: "{{ label }}"', f'answer: "{payload}"')
    db = tmp_path / "r.db"
    result = invoke("eval", "--model", tiny_model_dir, "--bench", path, "--data-dir", data_dir, "--limit", "1",
                    "--db", db)
    text = assert_rejected(result, "field 'prompts.native.answer': access to attribute '__init__'")
    assert "unsafe" in text and "sandboxed" in text
    assert not marker.exists() and not db.exists()


def test_the_sandbox_holds_in_the_renderer_itself(data_dir):
    """Below the pre-run check: rendering the payload raises; no shell command runs."""
    from jinja2.exceptions import SecurityError

    from pandian.core.data import load_split
    from pandian.core.prompts import render
    from pandian.core.spec import PromptFormat, load_spec

    spec = load_spec("cmmlu")
    q = load_split(spec, data_dir, "test", ["agronomy"]).questions[0]
    for template in (PAYLOAD, "{{ question.__class__.__mro__ }}", "{{ options.append(1) }}"):
        with pytest.raises(Exception) as info:
            render(spec, PromptFormat(question=template, answer="{{ label }}"), q, [])
        assert isinstance(info.value, SecurityError) or "unsafe" in str(info.value), info.value


def test_evaluate_itself_refuses_before_writing(tiny_model, data_dir, tmp_path):
    """An entry point that skips check_eval (a plan, a script) gets the input checks from the lifecycle."""
    from pandian.app.lifecycle import EvalOptions, evaluate
    from pandian.core.errors import InputError
    from pandian.core.spec import load_spec
    from pandian.store import open_store

    store = open_store(tmp_path / "r.db")
    for opts in (EvalOptions(data_dir=data_dir, shots=6, subjects=["agronomy"], limit=2),
                 EvalOptions(data_dir=data_dir, limit=0, subjects=["agronomy"]),
                 EvalOptions(data_dir=data_dir, prompt_format="nosuch", subjects=["agronomy"])):
        with pytest.raises(InputError):
            evaluate(tiny_model, load_spec("cmmlu"), opts, store)
    assert store.runs() == []


# ---------------------------------------------------------------- model references


def copy_model(src, dst, drop=(), edit=None):
    shutil.copytree(src, dst)
    for name in drop:
        (dst / name).unlink()
    if edit:
        edit(dst)
    return dst


def truncate(name):
    def cut(d):
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])
    return cut


def shard_index(d):
    (d / "model.safetensors").rename(d / "model-00001-of-00002.safetensors")
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))


def no_chat_template(d):
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    for extra in ("chat_template.jinja", "chat_template.json"):
        (d / extra).unlink(missing_ok=True)


@pytest.mark.parametrize("case, culprit", [
    ("not a model", "not a model directory (no config.json"),
    ("no such dir", "no such directory"),
    ("no weights", "no weights"),
    ("truncated", "model.safetensors: truncated"),
    ("missing shard", "1 of 2 weight shards listed in model.safetensors.index.json are missing: "
                      "model-00002-of-00002.safetensors"),
    ("no tokenizer", "no tokenizer files"),
    ("no chat template", "--chat-template"),
    ("adapter as model", "It holds a PEFT adapter: pass its base model as --model"),
])
def test_model_reference_mistakes_before_loading(tiny_model_dir, data_dir, tmp_path, case, culprit):
    target = tmp_path / "model"
    extra = []
    if case == "not a model":
        target.mkdir()
        (target / "README.md").write_text("notes")
    elif case == "adapter as model":
        target.mkdir()
        (target / "adapter_config.json").write_text("{}")
    elif case == "no weights":
        copy_model(tiny_model_dir, target, drop=["model.safetensors"])
    elif case == "truncated":
        copy_model(tiny_model_dir, target, edit=truncate("model.safetensors"))
    elif case == "missing shard":
        copy_model(tiny_model_dir, target, edit=shard_index)
    elif case == "no tokenizer":
        copy_model(tiny_model_dir, target, drop=["tokenizer.json", "tokenizer_config.json"])
    elif case == "no chat template":
        copy_model(tiny_model_dir, target, edit=no_chat_template)
        extra = ["--chat-template"]
    db = tmp_path / "r.db"
    t0 = time.perf_counter()
    assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, db, *extra, model=target), culprit)
    assert f"{target}" in invoke("eval", "--model", target, "--bench", "cmmlu", "--data-dir", data_dir,
                                 "--db", db, *extra).output.replace("\n", "")
    assert time.perf_counter() - t0 < 30 and not db.exists()


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An unreachable hub (nothing listens on 127.0.0.1:9) and an empty hub cache; returns the cache folder."""
    import pandian.settings as settings

    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(settings, "_hub_reachable", None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    return tmp_path / "hub-cache"


def test_a_model_not_cached_and_no_hub_fails_at_once(tiny_model_dir, data_dir, tmp_path, no_hub):
    db = tmp_path / "r.db"
    t0 = time.perf_counter()
    text = assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, db, model="Qwen/NoSuchModel-0.5B"),
                           "model 'Qwen/NoSuchModel-0.5B' is not a local directory")
    assert "cannot be reached" in text and "--model /path/to/model" in text
    assert time.perf_counter() - t0 < 10 and not db.exists()


def test_a_cached_hub_model_is_used_offline_at_once(tiny_model_dir, data_dir, tmp_path, no_hub):
    """A hub id in the local cache needs no network: the snapshot is found without a call."""
    repo = no_hub / "models--pandian--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    t0 = time.perf_counter()
    result = eval_cmmlu(tiny_model_dir, data_dir, tmp_path / "r.db", "--limit", "1", model="pandian/tiny")
    assert result.exit_code == 0, result.output
    assert "pandian/tiny" in result.output and time.perf_counter() - t0 < 60


def test_not_a_gguf_file(data_dir, tmp_path):
    fake = tmp_path / "m-q4.gguf"
    fake.write_bytes(b"not really\n")
    assert_rejected(eval_cmmlu(None, data_dir, tmp_path / "r.db", model=fake), f"--model {fake}: not a GGUF file")


def test_serve_model_checks_the_directory_too(tmp_path):
    """The check sits in the loader, so every command that loads a model (serve-model, judge) names the problem."""
    target = tmp_path / "model"
    target.mkdir()
    assert_rejected(invoke("serve-model", target, "--port", "0"), f"--model {target}: not a model directory")
