"""The production server (gunicorn, the same config a deployment uses) on loopback, and its memory."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn -c observatory/gunicorn.conf.py with the given environment; tracks peak worker RSS."""

    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)}
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_worker_rss = 0
        self._watching = False

    def __enter__(self) -> "Server":
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "-c", str(ROOT / "observatory" / "gunicorn.conf.py")],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not become ready within 60 s")
        self._watching = True
        threading.Thread(target=self._watch_memory, daemon=True).start()
        return self

    def _watch_memory(self) -> None:
        master = psutil.Process(self.process.pid)  # type: ignore[union-attr]
        while self._watching:
            try:
                for worker in master.children():
                    self.peak_worker_rss = max(self.peak_worker_rss, worker.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.25)

    def __exit__(self, *exc: object) -> None:
        self._watching = False
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system CPU seconds `root` and its children have used so far, ended children
    included: their time is added to the parent's children times when it reaps them. (A child
    ending at the moment of reading may be missed or counted twice: milliseconds.)"""
    total = 0.0
    for child in root.children():
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    own = root.cpu_times()
    return total + own.user + own.system + own.children_user + own.children_system


def postmaster_of(backend_pid: int, data_directory: str) -> psutil.Process | None:
    """The postmaster of the PostgreSQL server the benchmark uses, if it runs on this machine: the
    parent of the benchmark's own backend, checked against the server's data directory (a remote
    server's backend pid may name any process here, or none)."""
    try:
        postmaster = psutil.Process(backend_pid).parent()
        if postmaster is not None and os.path.samefile(postmaster.cwd(), data_directory):
            return postmaster
    except (psutil.Error, OSError):
        pass
    return None


class CpuMeter:
    """The CPU the server (gunicorn's processes) and PostgreSQL spend between `start` and `stop`.

    Whole process trees are counted, with the processes that end meanwhile: a connection Django
    recycles (every DB_CONN_MAX_AGE seconds) ends its backend. Counting only the processes alive
    at the end lost their CPU: a harness doing so gave PostgreSQL 12.8-60.2 µs a span in some
    runs against 110-150 in the others. The folds, the queue's VACUUM and the identity numbering
    run in these processes, so work done after a request answered is counted too.
    """

    def __init__(self, server: Server, postmaster: psutil.Process | None) -> None:
        self.server = server
        self.postmaster = postmaster
        self._started: tuple[float, float | None] = (0.0, None)

    def _read(self) -> tuple[float, float | None]:
        gunicorn = psutil.Process(self.server.process.pid)  # type: ignore[union-attr]
        return tree_cpu_seconds(gunicorn), None if self.postmaster is None else tree_cpu_seconds(self.postmaster)

    def start(self) -> None:
        self._started = self._read()

    def stop(self) -> tuple[float, float | None]:
        """(the server's CPU seconds, PostgreSQL's or None when its server does not run here)."""
        server, postgres = self._read()
        server_before, postgres_before = self._started
        if postgres is None or postgres_before is None:
            return server - server_before, None
        return server - server_before, postgres - postgres_before


def server_env(database_url: str | None, data_dir: Path, cache_ttl: int) -> dict[str, str]:
    """A production-like environment; only the benchmark's rate limits are raised."""
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "benchmark-secret-key-not-for-deployments-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATA_DIR": str(data_dir),
        "SECURE_COOKIES": "false",
        "RATE_LIMITS": "admin=100000000,developer=100000000,viewer=100000000,api_key=100000000",
        "CACHE_DEFAULT_TTL": str(cache_ttl),
        "LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("DATABASE_URL", None)
    return env
