"""Failing closed: a server asked for a key that is not there refuses to start, an open bind without a key warns,
credentials in a base URL reach neither the store nor the terminal (yet still authenticate), every call failing
(401) is a non-zero exit with the count, and escape sequences carried by data are shown, not executed. Real
servers on 127.0.0.1 (pandian's own, over a tiny model), the real openai client, a real SQLite store."""

from __future__ import annotations

import base64
import csv
import json
import socket
import sqlite3

import pytest

from pandian.app.serve import exposure_warning

from .conftest import cli, serve_in_thread
from .test_pairing import flat, invoke

SECRET = "s3cret-in-the-url-4242"
SERVER_KEY = "the-right-key"


@pytest.fixture(scope="module")
def servers(tiny_model_dir):
    """(URL of a server that takes no key and records the Authorization headers it saw, that list, URL of a server
    that requires SERVER_KEY)."""
    from pandian.app.serve import create_app

    open_app = create_app(str(tiny_model_dir), device="cpu", served_name="tiny")
    seen = []

    @open_app.middleware("http")
    async def record(request, call_next):
        seen.append(request.headers.get("authorization", ""))
        return await call_next(request)

    keyed_app = create_app(str(tiny_model_dir), device="cpu", served_name="tiny", api_key=SERVER_KEY)
    with serve_in_thread(open_app) as open_url, serve_in_thread(keyed_app) as keyed_url:
        yield f"{open_url}/v1", seen, f"{keyed_url}/v1"


def api_eval(url, data_dir, db, *extra):
    return invoke("eval", "--model", "openai:tiny", "--base-url", url, "--bench", "ceval", "--subjects", "law",
                  "--limit", "4", "--max-tokens", "4", "--max-retries", "1", "--data-dir", data_dir, "--db", db,
                  *extra)


def count(db, table: str) -> int:
    return sqlite3.connect(db).execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_serve_model_refuses_a_named_key_that_is_not_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NOSUCHVAR", raising=False)
    monkeypatch.setenv("EMPTYKEY", "")
    missing_model = tmp_path / "not-loaded"  # the check comes before any model load: this path is never read
    for var, why in (("NOSUCHVAR", "is not set"), ("EMPTYKEY", "is empty")):
        result = invoke("serve-model", missing_model, "--api-key-env", var)
        text = flat(result.output)
        assert result.exit_code == 2, result.output
        assert f"--api-key-env {var}: the environment variable {var} {why}" in text and "refusing to start" in text


def test_binding_beyond_loopback_without_a_key_warns(tiny_model_dir):
    # 192.0.2.1 (TEST-NET-1) belongs to no interface here: the bind fails after the warning and nothing listens
    result = invoke("serve-model", tiny_model_dir, "--host", "192.0.2.1", "--port", "0", "--device", "cpu")
    assert result.exit_code != 0
    assert "WARNING: serving on 192.0.2.1 with no API key" in flat(result.stderr)
    for host in ("0.0.0.0", "::", "192.168.1.10", "gpu-box.example"):
        assert "no API key" in exposure_warning(host, None)
        assert exposure_warning(host, "a-key") is None
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert exposure_warning(host, None) is None


def test_credentials_in_the_base_url_are_used_but_never_stored_or_printed(servers, data_dir, tmp_path):
    url, seen, _ = servers
    with_secret = url.replace("http://", f"http://user:{SECRET}@")
    db, out = tmp_path / "r.db", tmp_path / "out"
    seen.clear()
    result = api_eval(with_secret, data_dir, db, "--out", out)
    assert result.exit_code == 0, result.output
    as_json = api_eval(with_secret, data_dir, db, "--json")  # all cached now: the printed JSON holds the config
    summary = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and summary["config"]["base_url"] == url
    assert summary["extraction_failures"] > 0  # no answer to extract is a wrong answer, flagged: still exit 0
    expected = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
    assert seen and set(seen) == {expected}, "the URL's credentials still authenticate every call"
    assert {r[0] for r in sqlite3.connect(db).execute("SELECT base_url FROM api_responses")} == {url}
    for f in [*tmp_path.glob("r.db*"), *out.iterdir()]:
        assert SECRET.encode() not in f.read_bytes(), f
    assert SECRET not in result.output + as_json.output + cli("runs", "--db", db, "--json")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: the error message names the URL
    dead = api_eval(f"http://user:{SECRET}@127.0.0.1:{port}/v1", data_dir, tmp_path / "dead.db")
    assert dead.exit_code == 1 and f"connection error (http://127.0.0.1:{port}/v1)" in flat(dead.output)
    assert SECRET not in dead.output


def test_every_call_failing_is_a_non_zero_exit_with_the_count(servers, data_dir, tmp_path, monkeypatch):
    _, _, keyed_url = servers
    monkeypatch.setenv("OPENAI_API_KEY", "a-wrong-key")
    db = tmp_path / "r.db"
    result = api_eval(keyed_url, data_dir, db)
    text = flat(result.output)
    assert result.exit_code == 1, result.output
    assert "4 of 4 question(s) computed in this run could not be scored" in text and "HTTP 401" in text
    assert "a-wrong-key" not in result.output
    assert count(db, "records") == 0  # a failed call is never scored as a wrong answer

    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)  # the same command with the right key completes the run
    assert api_eval(keyed_url, data_dir, db).exit_code == 0 and count(db, "records") == 4


def test_escape_sequences_from_data_are_shown_not_sent(tiny_model_dir, tmp_path):
    evil = "\x1b[2J\x1b]0;pwned\x07"
    path = tmp_path / "exam\x1b[31m.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("question", "A", "B", "answer", "subject"),
                                 ("一加一等于几？", "1", "2", "B", f"法律{evil}"), ("二加二等于几？", "4", "3", "A", "数学")])
    db = tmp_path / "r.db"
    outputs = [cli("eval", "--model", tiny_model_dir, "--bench", path, "--db", db, "--per-subject"),
               cli("eval", "--model", tiny_model_dir, "--bench", path, "--db", db, "--prompt-format", "en")]
    ids = [r["run_id"] for r in json.loads(cli("runs", "--db", db, "--json"))]
    outputs += [cli("runs", "--db", db), cli("runs", "show", ids[0], "--db", db, "--per-subject"),
                cli("compare", *ids, "--db", db)]
    missing = invoke("runs", "show", "\x1b[31m", "--db", db)
    assert missing.exit_code == 2
    for text in [*outputs, missing.output]:
        assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in outputs[0] and "exam\\x1b[31m.csv" in outputs[3]
