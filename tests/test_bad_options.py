"""Every class of ordinary mistake is one paragraph naming its culprit, exit code 2, no traceback, and nothing
written (no database, no run row, no folder), and it is caught before the model loads."""

from __future__ import annotations

import importlib.util
import time

import pytest
from typer.testing import CliRunner

from pandian.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_rejected(result, culprit: str):
    """Exit code 2 from pandian's own error path (a traceback would be exit code 1 with the exception kept)."""
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert text.startswith("error:") or "Error" in text, text
    assert culprit in text, text
    return text


NO_SPLIT = "cmmlu has no split 'nosuch': it has test (evaluated by default), dev (few-shot examples)"


def eval_cmmlu(tiny_model_dir, data_dir, db, *extra, model=None):
    return invoke("eval", "--model", model or tiny_model_dir, "--bench", "cmmlu", "--data-dir", data_dir,
                  "--subjects", "agronomy", "--limit", "2", "--db", db, *extra)


@pytest.mark.parametrize("flags, culprit", [
    (["--shots", "-2"], "--shots -2"),
    (["--limit", "0"], "--limit 0"),
    (["--batch-size", "-1"], "--batch-size -1"),
    (["--backend", "bogus"], "--backend 'bogus'"),
    (["--prompt-format", "nosuch"], "--prompt-format nosuch: cmmlu has native, lm-eval"),
    (["--scoring", "nosuch"], "--scoring nosuch"),
    (["--dtype", "float8"], "--dtype 'float8'"),
    (["--quant", "int3"], "--quant 'int3'"),
    (["--device", "gpu0"], "--device 'gpu0'"),
    (["--temperature", "-1"], "--temperature -1"),
    (["--top-p", "1.5"], "--top-p 1.5"),
    (["--subjects", "agronomy,"], "--subjects agronomy,"),
    (["--subjects", "nosuch"], "unknown subject(s) nosuch"),
    (["--shots", "6"], "subject 'agronomy' has 5 few-shot examples in 'dev', fewer than --shots 6"),
    (["--base-url", "http://127.0.0.1:9/v1"], "--base-url is for API models"),
    (["--system-prompt", "你是助手。"], "--system-prompt is sent as a chat message: add --chat-template"),
    (["--split", "nosuch"], NO_SPLIT),  # was "no local copy of CMMLU (…/data/nosuch/agronomy.csv is missing)"
])
def test_bad_option_is_named_before_anything_is_written(tiny_model_dir, data_dir, tmp_path, flags, culprit):
    db = tmp_path / "r.db"
    assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, db, *flags), culprit)
    assert not db.exists()


@pytest.mark.parametrize("flags, culprit", [
    (["--shots", "-2"], "--shots -2: the number of few-shot examples is 0 or more"),  # was a traceback
    (["--prompt-format", "nosuch"], "--prompt-format nosuch: cmmlu has native, lm-eval"),
    (["--shots", "6"], "subject 'agronomy' has 5 few-shot examples in 'dev', fewer than --shots 6"),
    (["-n", "0"], "-n 0: at least 1 question to show"),
    (["-n", "-1"], "-n -1: at least 1 question to show"),  # was every question but the last
    (["--split", "nosuch"], NO_SPLIT),
])
def test_prompts_checks_what_eval_checks(data_dir, flags, culprit):
    assert_rejected(invoke("prompts", "--bench", "cmmlu", "--subjects", "agronomy", "--data-dir", data_dir, *flags),
                    culprit)


@pytest.mark.parametrize("flags, culprit", [
    (["--adapter", "/tmp/x"], "--adapter merges a PEFT adapter into a transformers model; an API model"),
    (["--quant", "int8"], "--quant int8 quantizes transformers or vLLM weights; an API model"),
    (["--scoring", "choice"], "--scoring choice needs each choice's log-likelihood"),
])
def test_flags_an_api_model_cannot_honour(data_dir, tmp_path, flags, culprit):
    pytest.importorskip("openai")
    db = tmp_path / "r.db"
    assert_rejected(eval_cmmlu(None, data_dir, db, *flags, model="deepseek:deepseek-chat"), culprit)
    assert not db.exists()


def test_scoring_choice_on_a_task_without_choices(tiny_model_dir, data_dir, tmp_path):
    db = tmp_path / "r.db"
    result = invoke("eval", "--model", tiny_model_dir, "--bench", "gsm8k", "--data-dir", data_dir, "--limit", "1",
                    "--scoring", "choice", "--db", db)
    assert_rejected(result, "--scoring choice scores each choice's text; gsm8k is short answer")
    assert not db.exists()


def test_cuda_on_a_cpu_build_of_torch(tiny_model_dir, data_dir, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is valid here")
    db = tmp_path / "r.db"
    assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, db, "--device", "cuda"), "--device cuda: this torch")
    assert not db.exists()


def test_a_flag_the_backend_ignores_is_one_warning(tiny_model_dir, data_dir, tmp_path):
    result = eval_cmmlu(tiny_model_dir, data_dir, tmp_path / "r.db", "--limit", "1", "--concurrency", "4",
                        "--temperature", "0.7")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: --concurrency does not apply to a transformers model; ignored" in text
    assert "warning: --temperature: this run scores log-likelihoods and generates nothing" in text


@pytest.mark.parametrize("kind", ["file", "inside a file"])
def test_out_that_cannot_be_a_folder(tiny_model_dir, data_dir, tmp_path, kind):
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    out = existing if kind == "file" else existing / "out"
    db = tmp_path / "r.db"
    assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, db, "--out", out), f"--out {out}")
    assert not db.exists() and existing.read_text() == "keep me"


@pytest.mark.parametrize("command", ["runs", "eval"])
def test_db_that_is_not_a_database(tiny_model_dir, data_dir, tmp_path, command):
    db = tmp_path / "notes.db"
    db.write_text("my notes, not a database\n")
    args = ["runs", "--db", db] if command == "runs" else ["eval", "--model", tiny_model_dir, "--bench", "cmmlu",
                                                            "--data-dir", data_dir, "--subjects", "agronomy",
                                                            "--limit", "1", "--db", db]
    assert_rejected(invoke(*args), f"--db {db}: not a results database")
    assert db.read_text() == "my notes, not a database\n"
    assert not any(p.name.startswith("notes.db-") for p in tmp_path.iterdir())  # no -wal / -journal


@pytest.mark.parametrize("config, flags, culprit", [
    ('{"hidden_size": 64, "model_type": "qwen2"}', [], "config.json: config.json has no num_hidden_layers, "
                                                       "num_attention_heads, vocab_size"),
    ('{"model_type": "qwen2"}', [], "has no hidden_size"),
    ('{"hidden_size": 64,', [], "not a valid config.json"),
    (None, ["--context", "0"], "--context 0 --batch 1: both must be at least 1"),
    (None, ["--batch", "0"], "--context 2048 --batch 0: both must be at least 1"),
])
def test_fit_on_a_partial_config_or_bad_sizes(tiny_model_dir, tmp_path, config, flags, culprit):
    target = tiny_model_dir
    if config is not None:
        target = tmp_path / "config.json"
        target.write_text(config)
    assert_rejected(invoke("fit", target, "--gpu", "24GB", *flags), culprit)


def test_literal_paths_and_install_hints(tiny_model_dir, data_dir, tmp_path):
    """Rich markup would read [v2] and [vllm] as tags and drop them."""
    missing = tmp_path / "exam[v2].csv"
    assert_rejected(invoke("eval", "--model", tiny_model_dir, "--bench", missing, "--db", tmp_path / "r.db"),
                    f"{missing}: file not found")
    missing.write_text("id,question,A,B,answer\n1,一加一等于几？,1,2,B\n", encoding="utf-8")
    shown = invoke("eval", "--model", tiny_model_dir, "--bench", missing, "--db", tmp_path / "r.db")
    assert shown.exit_code == 0 and "exam[v2].csv — " in shown.output, shown.output
    braces = tmp_path / "exam{1}.csv"
    braces.write_text(missing.read_text(encoding="utf-8"), encoding="utf-8")
    assert_rejected(invoke("eval", "--model", tiny_model_dir, "--bench", braces, "--db", tmp_path / "b.db"),
                    f"{braces}: a file name with {{ or }} cannot be read as a benchmark of your own")
    if importlib.util.find_spec("vllm") is None:
        assert_rejected(eval_cmmlu(tiny_model_dir, data_dir, tmp_path / "r.db", "--backend", "vllm"),
                        "pip install 'pandian[vllm]'")
    assert not (tmp_path / "b.db").exists()


def test_help_keeps_its_brackets():
    text = " ".join(invoke("eval", "--help").output.split())
    assert "[env PANDIAN_DATA_DIR]" in text and "[env PANDIAN_DB, default ~/.pandian/results.db]" in text
    # a bool option named no_x gets typer's --no-x / --no-no-x pair unless it names its one flag
    assert "--no-prefix-reuse" in text and "--no-no-" not in text


@pytest.fixture
def unreachable_hub(monkeypatch):
    """No network, as a user who never set HF_HUB_OFFLINE (all of it restored after the test)."""
    import pandian.settings as settings

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    # .invalid never resolves (RFC 2606); the hub libraries retry a name that does not resolve for 25 s
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")
    monkeypatch.setattr(settings, "_hub_reachable", None)
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)


def test_a_split_on_disk_that_the_spec_does_not_name(tiny_model_dir, data_dir, tmp_path, unreachable_hub):
    """A release's split the spec does not declare (MMLU's val) is read when its files are there, and a typo lists
    it with the declared ones. The folder holds one subject only: that is enough to evaluate it (counting the
    whole split asked the hub for the other 66, and failed)."""
    for split in ("test", "dev", "val"):
        (tmp_path / "cmmlu" / "data" / split).mkdir(parents=True)
        (tmp_path / "cmmlu" / "data" / split / "agronomy.csv").symlink_to(
            data_dir / "cmmlu" / "data" / "test" / "agronomy.csv")
    prompts = ["prompts", "--bench", "cmmlu", "--subjects", "agronomy", "--data-dir", tmp_path, "-n", "1"]
    shown = invoke(*prompts, "--split", "val")
    assert shown.exit_code == 0 and "agronomy/0 · val · native" in shown.output, shown.output
    assert_rejected(invoke(*prompts, "--split", "vall"),
                    f"cmmlu has no split 'vall': it has test (evaluated by default), dev (few-shot examples), and "
                    f"under {tmp_path}: val")
    evaluated = eval_cmmlu(tiny_model_dir, tmp_path, tmp_path / "r.db", "--shots", "1")
    assert evaluated.exit_code == 0, evaluated.output


@pytest.mark.parametrize("command", ["eval", "prompts"])
def test_offline_a_missing_dataset_fails_at_once_with_the_local_route(command, tiny_model_dir, tmp_path,
                                                                      unreachable_hub):
    """No network: the hub is not retried for half a minute; the error says what to download and where. `prompts`
    too (it loads the data the same way, and retried for 25 s)."""
    t0 = time.perf_counter()
    model = ["--model", tiny_model_dir, "--db", tmp_path / "r.db"] if command == "eval" else []
    result = invoke(command, *model, "--bench", "cmmlu", "--data-dir", tmp_path / "empty", "--subjects", "agronomy")
    assert_rejected(result, "no local copy of CMMLU")
    assert "--data-dir" in result.output and time.perf_counter() - t0 < 10
    assert not (tmp_path / "r.db").exists()


def test_offline_what_reads_a_stored_runs_data_fails_at_once(tiny_model_dir, data_dir, tmp_path, unreachable_hub):
    """`judge` and a suite's chance level (`recommend`, `eval --suite`) read the benchmark of a stored run outside
    a run; with the run's data folder gone they retried the hub for 25 s."""
    import sqlite3

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cmmlu").symlink_to(data_dir / "cmmlu")
    db = tmp_path / "r.db"
    assert eval_cmmlu(tiny_model_dir, tmp_path / "data", db).exit_code == 0
    run_id = sqlite3.connect(db).execute("SELECT run_id FROM runs").fetchone()[0]
    (tmp_path / "data" / "cmmlu").unlink()
    suite = tmp_path / "mini.yaml"
    suite.write_text("name: mini\ntitle: Mini\ndescription: one CMMLU subject\nlanguage: zh\n"
                     "parts: [{bench: cmmlu, subjects: [agronomy]}]\npublished: [CMMLU]\n", encoding="utf-8")
    t0 = time.perf_counter()
    judged = invoke("judge", "grade", run_id, "--judge", "openai:x", "--base-url", "http://127.0.0.1:9/v1",
                    "--data-dir", tmp_path / "data", "--db", db)
    assert_rejected(judged, "no local copy of CMMLU")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM judgments").fetchone()[0] == 0
    ranked = invoke("recommend", "--scenario", suite, "--gpu", "24GB", "--db", db, "--json")
    assert ranked.exit_code == 0, ranked.output
    assert time.perf_counter() - t0 < 10


def test_builtin_specs_render_in_the_sandbox(data_dir):
    """Every built-in spec's formats pass the pre-run render check on real data (the sandbox refuses none)."""
    from pandian.app.lifecycle import EvalOptions
    from pandian.app.validate import check_inputs
    from pandian.core.spec import builtin_names, load_spec

    checked = 0
    for name in builtin_names():
        spec = load_spec(name)
        for fmt in spec.prompts:
            try:
                check_inputs(spec, EvalOptions(data_dir=data_dir, limit=1, prompt_format=fmt,
                                               shots=1 if spec.splits.fewshot else 0))
            except Exception as e:
                if "no local copy" in str(e):
                    continue  # that benchmark is not in this data folder
                raise
            checked += 1
    assert checked >= 10, checked


def test_an_internal_error_keeps_its_traceback_and_debug_shows_all_of_it():
    """Only input errors become exit code 2; a bug stays an exception (typer prints its traceback)."""
    from pandian.cli.common import Typer
    from pandian.core.errors import InputError

    probe = Typer()

    @probe.command()
    def run(kind: str):
        raise InputError("--kind input: a named mistake") if kind == "input" else RuntimeError("a bug")

    @probe.command()
    def other():
        pass

    assert_rejected(CliRunner().invoke(probe, ["run", "input"]), "error: --kind input: a named mistake")
    bug = CliRunner().invoke(probe, ["run", "bug"])
    assert bug.exit_code == 1 and isinstance(bug.exception, RuntimeError)
    assert not app.pretty_exceptions_show_locals  # locals can hold API keys
    try:
        assert invoke("--debug", "benchmarks").exit_code == 0 and app.pretty_exceptions_short is False
    finally:
        app.pretty_exceptions_short = True
