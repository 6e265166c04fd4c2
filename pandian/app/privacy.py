"""Private data stays local: a user's own file, or a spec marked `private: true`, is never sent to a remote API
without --allow-remote-data. Endpoints on the loopback interface (a server on this machine) are local."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pandian.core.spec import BenchmarkSpec, SpecError


class PrivateDataError(SpecError):
    pass


def remote_host(backend) -> str | None:
    """The host a backend sends prompts to, when that is not this machine; None for in-process models and
    loopback servers."""
    url = getattr(backend, "base_url", None)
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return host or url


def check_private_data(spec: BenchmarkSpec, backend, allowed: bool, questions: int) -> None:
    """Refuse, before anything is sent, to send a private benchmark's questions to a remote endpoint."""
    host = remote_host(backend)
    if not spec.private or allowed or host is None or not questions:
        return
    raise PrivateDataError(
        f"{spec.name} is private data (your own file, or a spec marked private: true): refusing to send its {questions} "
        f"question(s) to {host} ({getattr(backend, 'name', '?')}). Pass --allow-remote-data to send them, or "
        "evaluate a local model or a server on this machine (127.0.0.1 / localhost)")
