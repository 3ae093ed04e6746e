"""The embedded PostgreSQL used when DATABASE_URL is unset (pgserver: a real server from a wheel)."""

import logging
import os
import warnings
from pathlib import Path

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
