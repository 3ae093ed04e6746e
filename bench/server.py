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

    def workers(self) -> list[psutil.Process]:
        """The worker processes serving now (gunicorn's master only hands out connections)."""
        try:
            return psutil.Process(self.process.pid).children()  # type: ignore[union-attr]
        except psutil.Error:
            return []

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


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far, by pid (gone or unreadable ones left out)."""
    spent = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        spent[process.pid] = times.user + times.system
    return spent


def postgres_processes() -> list[psutil.Process]:
    """Every PostgreSQL process on this machine: the embedded server's, or the one DATABASE_URL
    names when it runs here (a remote server's are not seen, and its CPU is not reported)."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]


class CpuMeter:
    """The CPU the server's workers and PostgreSQL spend between `start` and `stop`.

    Counted per process: one that starts meanwhile (an autovacuum worker) counts in full, one
    that ends meanwhile (a parallel query worker) is missed. The folds, the queue's VACUUM and
    the identity numbering run in these processes, so work deferred past a request is counted.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self._workers: dict[int, float] = {}
        self._postgres: dict[int, float] = {}

    def start(self) -> None:
        self._workers = cpu_seconds(self.server.workers())
        self._postgres = cpu_seconds(postgres_processes())

    def stop(self) -> tuple[float, float | None]:
        """(workers' CPU seconds, PostgreSQL's or None when no PostgreSQL process runs here)."""
        workers = cpu_seconds(self.server.workers())
        postgres = cpu_seconds(postgres_processes())
        worker_seconds = sum(spent - self._workers.get(pid, 0.0) for pid, spent in workers.items())
        if not postgres:
            return worker_seconds, None
        return worker_seconds, sum(spent - self._postgres.get(pid, 0.0) for pid, spent in postgres.items())


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
