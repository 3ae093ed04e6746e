"""The embedded PostgreSQL used when DATABASE_URL is unset (pgserver: a real server from a wheel)."""

import fcntl
import logging
import os
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any

from dj_database_url import DBConfig

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "observatory"
# The server runs on this machine: a parallel scan gets half its cores (on 2 cores, the
# leader and one worker scanned 7 days of raw spans ~15 % faster than with two workers).
PARALLEL_WORKERS = max(1, (os.cpu_count() or 2) // 2)
EMBEDDED_TUNING = f"""
ALTER SYSTEM SET max_wal_size = '2GB';
ALTER SYSTEM SET checkpoint_timeout = '15min';
ALTER SYSTEM SET random_page_cost = 1.1;
ALTER SYSTEM SET effective_cache_size = '2GB';
ALTER SYSTEM SET jit = off;
ALTER SYSTEM SET max_parallel_workers_per_gather = {PARALLEL_WORKERS};
SELECT pg_reload_conf();
"""


def _memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): assume a small laptop
        return 8192


# PostgreSQL's own default (128MB) holds too little of a large database: at 10M spans, ingest
# inserts into today's user and session indexes (~100 MB each) at random places, and every
# batch read ~300 pages back from the operating system and wrote ~400 dirty ones out to make
# room (EXPLAIN of a 500-span batch: 19-20 ms at 128MB, 13 ms at 1GB). An eighth of the memory,
# at most 1GB (what docker/compose.yaml gives a deployment). Taking effect needs a restart.
EMBEDDED_SHARED_BUFFERS_MB = max(128, min(1024, _memory_mb() // 8))
_SHARED_BUFFERS_MB = re.compile(r"shared_buffers_mb=(\d+)")


def embedded_database_settings(data_dir: Path, database: str = EMBEDDED_DATABASE_NAME) -> DBConfig:
    """Start (or reuse) the server under `data_dir` and return a Django DATABASES entry for it.

    The server is left running when this process exits so that later commands, gunicorn
    workers and test runs reuse it instead of paying the start-up again.
    """
    # pgserver warns about XDG_RUNTIME_DIR on headless machines; the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server
        from psycopg.conninfo import conninfo_to_dict

        data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir, cleanup_mode=None)
    # Settings that suit a metrics workload and take effect without a restart (see README).
    server.psql(EMBEDDED_TUNING)
    ensure_shared_buffers(server, data_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        logger.info("created embedded database %s under %s", database, data_dir)
    params = {name: str(value) for name, value in conninfo_to_dict(server.get_uri(database)).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.get("dbname", database),
        "USER": params.get("user", "postgres"),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", ""),
        "PORT": params.get("port", ""),
    }


def running_shared_buffers_mb(server: Any) -> int:
    found = _SHARED_BUFFERS_MB.search(
        server.psql(
            "SELECT 'shared_buffers_mb=' || setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers';"
        )
    )
    return int(found.group(1)) if found else 0


def ensure_shared_buffers(server: Any, data_dir: Path) -> None:
    """Restarts the server once if its shared_buffers is not EMBEDDED_SHARED_BUFFERS_MB (a new
    server, or one set up on another machine); under a lock, so that processes starting together
    (gunicorn's workers) restart it once between them, before any of them connects.

    If the server will not start with it (the machine lets it have less memory than that), it is
    started again with PostgreSQL's default, and that size is not tried again on this data
    directory (`*.settings.failed` says which).
    """
    import pgserver

    pg_ctl = pgserver.pg_ctl  # type: ignore[attr-defined]  # pgserver makes one per PostgreSQL program
    failed = data_dir.with_name(f"{data_dir.name}.settings.failed")
    wanted = f"{EMBEDDED_SHARED_BUFFERS_MB}MB"
    with open(data_dir.with_name(f"{data_dir.name}.settings.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if running_shared_buffers_mb(server) == EMBEDDED_SHARED_BUFFERS_MB:
            return
        if failed.exists() and failed.read_text().strip() == wanted:
            return
        socket_dir = server.get_postmaster_info().socket_dir
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{wanted}';")
        try:
            # The restart keeps the options the server was started with (its socket directory),
            # and logs where pgserver started it logging.
            pg_ctl(
                ["-w", "-m", "fast", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user
            )
        except subprocess.CalledProcessError:
            _forget_setting(Path(server.pgdata) / "postgresql.auto.conf", "shared_buffers")
            started_as_pgserver_does = ["-w", "-l", str(server.log), "-o", '-h ""', "-o", f"-k {socket_dir}", "start"]
            pg_ctl(started_as_pgserver_does, pgdata=server.pgdata, user=server.system_user)
            failed.write_text(wanted)
            logger.warning("the embedded PostgreSQL did not start with shared_buffers %s; it keeps the default", wanted)
            return
        logger.info("restarted the embedded PostgreSQL with shared_buffers %s", wanted)


def _forget_setting(auto_conf: Path, name: str) -> None:
    """Drops what ALTER SYSTEM wrote for `name`, while the server is down (ALTER SYSTEM RESET needs it up)."""
    lines = auto_conf.read_text().splitlines(keepends=True)
    auto_conf.write_text("".join(line for line in lines if line.split("=")[0].strip() != name))
