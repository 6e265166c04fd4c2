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


class RayCluster:
    """A local cluster: a head node and worker nodes, each with `cpus` CPUs, token authentication on."""

    def __init__(self, workdir: Path, cpus: int = 1):
        self.workdir, self.cpus = workdir, cpus
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: list[subprocess.Popen] = []

    def _start(self, args: list[str], log: str) -> subprocess.Popen:
        ray = Path(sys.executable).with_name("ray")
        with open(self.workdir / log, "w") as fh:
            proc = subprocess.Popen([str(ray), "start", "--block", "--node-ip-address=127.0.0.1",
                                     f"--num-cpus={self.cpus}", "--disable-usage-stats", *args],
                                    env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(proc)
        return proc

    def start_head(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths must stay short
        self.ray_tmp = tmp
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={tmp}"], "head.log")

    def add_worker(self) -> subprocess.Popen:
        return self._start([f"--address={self.address}"], f"worker{len(self.nodes)}.log")

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL a node's whole process group: its raylet, and with it every actor on that node."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        shutil.rmtree(getattr(self, "ray_tmp", ""), ignore_errors=True)
