"""Where pandian keeps and finds things: one place that resolves flags and environment variables.

- home:     PANDIAN_HOME, default ~/.pandian (tiny models, the default results store)
- data:     --data-dir, else PANDIAN_DATA_DIR, else ../shared/data (benchmark releases; never copied)
- store:    --db, else PANDIAN_DB, else HOME/results.db
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("PANDIAN_HOME", Path.home() / ".pandian"))


def data_dir(flag: Path | str | None = None) -> Path:
    return Path(flag) if flag else Path(os.environ.get("PANDIAN_DATA_DIR", "../shared/data"))


def store_location(flag: Path | str | None = None) -> str:
    """A SQLite path (or, where a store engine supports it, a database URL)."""
    return str(flag) if flag else os.environ.get("PANDIAN_DB") or str(home() / "results.db")


_hub_reachable: bool | None = None


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub (HF_ENDPOINT) answers a TCP connection, asked once per process. When it does not,
    the hub libraries are put in offline mode, so that they answer from the local cache at once instead of retrying
    for half a minute."""
    global _hub_reachable
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    if _hub_reachable is None:
        import socket
        import sys
        from urllib.parse import urlparse

        url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        try:
            socket.create_connection((url.hostname, url.port or (80 if url.scheme == "http" else 443)),
                                     timeout=timeout).close()
            _hub_reachable = True
        except (OSError, ValueError):
            _hub_reachable = False
            os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
            constants = sys.modules.get("huggingface_hub.constants")  # read at import: tell a loaded one too
            if constants is not None:
                constants.HF_HUB_OFFLINE = True
    return _hub_reachable
