"""Real servers for the cluster tests, each started in a temporary folder, bound to 127.0.0.1, and stopped by pid.

PostgreSQL: Debian's `postgresql` package (initdb / pg_ctl); as root (CI) the server runs as the `postgres` user,
because PostgreSQL refuses to run as root. Ray: `ray start --head` plus worker nodes, each `ray start --block` in a
process group of its own, so that a test can kill one node, and teardown kills exactly what it started.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextmanager
def postgres_server():
    """Yields a postgresql:// URL (trust auth, user pandian) of a fresh server on a free 127.0.0.1 port."""
    bindir = postgres_bindir()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="pandian-pg-"))  # not under pytest's tmp: root's is closed to `postgres`
    if as_root:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "pandian", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8"], check=True, capture_output=True)
        # fsync off: a test server need not survive a power cut, and fsync dominates small commits
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=50"
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                        "start"], check=True, capture_output=True)
        yield f"postgresql://pandian@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():  # our postmaster only (pg_ctl reads its pid from the data folder)
            subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (children first found through /proc)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def titles(pids: list[int]) -> dict[int, str]:
    """Each process's command line; Ray names a worker by the task it runs ("ray::Actor.method")."""
    out = {}
    for pid in pids:
        try:
            out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
    return out


class RayCluster:
    """A local cluster: a head node and worker nodes, each with `cpus` CPUs, token authentication on."""

    def __init__(self, workdir: Path, cpus: int = 1):
        self.workdir, self.cpus = workdir, cpus
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths must stay short
        # every node and driver: one token, and this folder instead of /tmp/ray
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": str(self.ray_tmp)}

    def _start(self, args: list[str], log: str) -> subprocess.Popen:
        ray = Path(sys.executable).with_name("ray")
        with open(self.workdir / log, "w") as fh:
            proc = subprocess.Popen([str(ray), "start", "--block", "--node-ip-address=127.0.0.1",
                                     f"--num-cpus={self.cpus}", "--disable-usage-stats", *args],
                                    env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(proc)
        return proc

    def start_head(self) -> None:
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.ray_tmp}"],
                    "head.log")

    def add_worker(self) -> subprocess.Popen:
        return self._start([f"--address={self.address}"], f"worker{len(self.nodes)}.log")

    def kill(self, proc: subprocess.Popen) -> None:
        """A machine dying: SIGKILL every process of the node at once, its raylet and its actors (which run in
        sessions of their own, so they are found by parentage, not by process group)."""
        for pid in descendants(proc.pid) + [proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)

    def wait_started(self, timeout: float = 180) -> None:
        """Until every node's `ray start` says its runtime is up (it prints that once registered)."""
        deadline = time.monotonic() + timeout
        logs = [self.workdir / ("head.log" if i == 0 else f"worker{i}.log") for i in range(len(self.nodes))]
        while not all(p.exists() and "Ray runtime started" in p.read_text(errors="replace") for p in logs):
            dead = [p.name for p, n in zip(logs, self.nodes) if n.poll() is not None]
            assert not dead and time.monotonic() < deadline, f"ray nodes did not start: {dead or 'timeout'}"
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            self.kill(proc)
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


@contextmanager
def serve_in_thread(app):
    """Run an ASGI app with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
