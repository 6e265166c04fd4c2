"""The package's layers, checked on the source: imports run one way (cli -> app -> core/backends/store; backends
and store -> core), nothing imports the command line, and the core uses no torch, SQL or terminal library. Every
import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pandian"

# room -> the pandian rooms it may import (itself always allowed; `pandian` itself means __version__)
ALLOWED = {
    "core": {"core"},
    "catalog": {"core"},
    "settings": set(),
    "backends": {"core", "settings", "pandian"},
    "store": {"core", "settings"},
    "report": {"core", "catalog", "store", "settings", "pandian"},
    "web": {"core", "catalog", "store", "settings", "report", "pandian"},
    "app": {"core", "catalog", "backends", "store", "settings", "pandian"},
    "cli": {"core", "catalog", "backends", "store", "settings", "app", "report", "web", "pandian"},
}
FORBIDDEN_LIBRARIES = {
    "core": {"torch", "transformers", "sqlite3", "sqlalchemy", "psycopg", "rich", "typer", "fastapi"},
    "catalog": {"torch", "transformers", "sqlite3", "rich", "typer"},
    "store": {"torch", "transformers", "rich", "typer"},
    "report": {"torch", "transformers", "typer"},
    "web": {"torch", "transformers", "typer"},
    "app": {"rich", "typer"},
}


def room_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else "pandian"


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["pandian", *path.relative_to(PACKAGE).with_suffix("").parts][:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append((node.lineno, mod))
            if not node.module:  # from . import x: x is a module
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


SOURCES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    room = room_of(path)
    if room in ("pandian", "__main__"):
        return  # the package root and `python -m pandian` sit above the layers
    allowed = ALLOWED[room] | {room}
    for line, mod in imports(path):
        parts = mod.split(".")
        if parts[0] == "pandian":
            target = parts[1] if len(parts) > 1 else "pandian"
            assert target in allowed, f"{path.relative_to(PACKAGE)}:{line} ({room}) imports {mod}"
        else:
            assert parts[0] not in FORBIDDEN_LIBRARIES.get(room, set()), \
                f"{path.relative_to(PACKAGE)}:{line} ({room}) imports {parts[0]}"


def test_every_room_is_known():
    rooms = {room_of(p) for p in SOURCES}
    assert rooms <= set(ALLOWED) | {"pandian", "__main__"}, rooms - set(ALLOWED)


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_the_checker_sees_a_violation(tmp_path):
    bad = PACKAGE / "core" / "_probe_layers.py"
    bad.write_text("def f():\n    from pandian.store import open_store\n    import torch\n")
    try:
        mods = [m for _, m in imports(bad)]
        assert "pandian.store" in mods and "torch" in mods
        with pytest.raises(AssertionError, match="imports pandian.store"):
            test_imports_follow_the_layers(bad)
    finally:
        bad.unlink()
