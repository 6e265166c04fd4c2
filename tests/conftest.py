"""Shared fixtures: the real benchmark data (skipped with a reason when absent) and tiny models built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .servers import serve_in_thread  # noqa: F401  (the tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("PANDIAN_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


def need_data(*parts: str) -> Path:
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"benchmark data not found at {path}: set PANDIAN_DATA_DIR to the shared data folder")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    need_data("cmmlu", "data")  # an empty or unrelated folder skips too
    return need_data()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    # Never touch the developer's ~/.pandian from tests.
    monkeypatch.setenv("PANDIAN_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer random-init Qwen2 with a BPE tokenizer trained on CMMLU's text (or the demo sample)."""
    from pandian.backends.tiny import TinyShape, build_tiny_model

    texts = [(ROOT / "pandian" / "samples" / "demo_mc.jsonl").read_text(encoding="utf-8")]
    cmmlu = DATA_DIR / "cmmlu" / "data"
    if cmmlu.is_dir():
        texts += [p.read_text(encoding="utf-8") for p in sorted(cmmlu.glob("*/*.csv"))]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts, TinyShape(vocab_size=4096))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from pandian.backends.hf import load_hf_model

    return load_hf_model(str(tiny_model_dir), device="cpu")


def cli(*args) -> str:
    """Run `pandian ARGS...` in-process; assert success; return its output."""
    from typer.testing import CliRunner

    from pandian.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of the test session's own (Debian's postgresql package), on 127.0.0.1."""
    from .servers import postgres_bindir, postgres_server

    pytest.importorskip("psycopg", reason="the postgresql:// store needs psycopg: pip install -e '.[postgres]'")
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries not found: apt-get install postgresql (.ci/run installs it)")
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server, request):
    """A fresh database on the session's server, for one test."""
    from .servers import create_database

    return create_database(pg_server, "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50])


# Fixtures shared across test modules, registered here once (a fixture imported into several modules would be
# built once per module): the browser, and the store of real runs the report, web and browser tests read.
from .browser import browser, shots, watched  # noqa: E402,F401
from .survey_runs import survey_store  # noqa: E402,F401
