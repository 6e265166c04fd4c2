"""A user's own file, or a spec marked private, never goes to a remote API without --allow-remote-data: the refusal
comes before any call and names what would be sent where; servers on this machine are local and allowed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from pandian.app.privacy import PrivateDataError, check_private_data, remote_host
from pandian.cli import app
from pandian.core.spec import load_spec

from .conftest import cli, serve_in_thread

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
OWN = "id,question,A,B,answer\n1,一加一等于几？,1,2,B\n2,二加二等于几？,4,5,A\n"


@pytest.fixture(scope="module")
def local_server():
    from fastapi import FastAPI

    api, calls = FastAPI(), []

    @api.post("/v1/chat/completions")
    async def chat(body: dict):
        calls.append(body)
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "答案：B"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}

    with serve_in_thread(api) as url:
        yield url, calls


def runs_in(db: Path) -> int:
    return sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] if db.exists() else 0


@pytest.mark.parametrize("bench", ["own", "private_spec"])
def test_private_data_is_refused_for_a_remote_api(tmp_path, monkeypatch, bench):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    if bench == "own":
        path = tmp_path / "mine.csv"
        path.write_text(OWN, encoding="utf-8")
        args, name, n = ["--bench", str(path)], "mine", 2
    else:
        args, name, n = ["--bench", str(SHAPES / "tsv.yaml"), "--data-dir", str(SHAPES / "data")], "tsv", 3
    db = tmp_path / "r.db"
    result = CliRunner().invoke(app, ["eval", "--model", "openai:gpt-x", "--base-url", "https://api.example.com/v1",
                                      *args, "--db", str(db)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{name} is private data" in text and f"refusing to send its {n} question(s) to api.example.com " \
        "(gpt-x)" in text and "--allow-remote-data" in text
    assert runs_in(db) == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_server_on_this_machine_is_local(tmp_path, monkeypatch, local_server, host):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    url, calls = local_server
    path = tmp_path / "mine.csv"
    path.write_text(OWN, encoding="utf-8")
    out = tmp_path / "o"
    before = len(calls)
    cli("eval", "--model", "openai:local", "--base-url", f"{url.replace('127.0.0.1', host)}/v1", "--bench",
        str(path), "--db", str(tmp_path / "r.db"), "--out", str(out))
    assert len(calls) - before == 2
    assert json.loads((out / "summary.json").read_text())["questions"] == 2


def test_the_flag_allows_it_and_public_benchmarks_need_none():
    remote = SimpleNamespace(base_url="https://api.deepseek.com/v1", name="deepseek-chat")
    private = load_spec(str(SHAPES / "tsv.yaml"))
    with pytest.raises(PrivateDataError, match="to api.deepseek.com"):
        check_private_data(private, remote, False, 3)
    check_private_data(private, remote, True, 3)
    check_private_data(load_spec("cmmlu"), remote, False, 3)
    check_private_data(private, SimpleNamespace(name="in-process model"), False, 3)


@pytest.mark.parametrize("url, host", [
    ("http://127.0.0.1:8000/v1", None), ("http://localhost:8000/v1", None), ("http://[::1]:8000/v1", None),
    ("http://127.5.0.1/v1", None), ("https://api.example.com/v1", "api.example.com"),
    ("http://10.0.0.5:8000/v1", "10.0.0.5"), ("http://0.0.0.0:8000/v1", "0.0.0.0"),
])
def test_remote_host(url, host):
    assert remote_host(SimpleNamespace(base_url=url)) == host
