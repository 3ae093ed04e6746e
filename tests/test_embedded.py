"""The embedded PostgreSQL (pgserver) gets the shared_buffers set for it, with one restart at most."""

import warnings
from pathlib import Path

import psycopg
import pytest

from observatory import embedded


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _shared_buffers(settings: dict) -> str:
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or None
    ) as connection:
        return connection.execute("SHOW shared_buffers").fetchone()[0]


@pytest.fixture
def pgdata(tmp_path):
    path = tmp_path / "pg"
    yield path
    with warnings.catch_warnings():  # pgserver's import warns of no XDG_RUNTIME_DIR on servers
        warnings.simplefilter("ignore")
        import pgserver
    server = pgserver.get_server(path, cleanup_mode=None)
    pgserver.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)


def test_a_new_embedded_server_is_restarted_once_with_its_shared_buffers(pgdata, monkeypatch):
    # Not PostgreSQL's default (128MB), whatever this machine's memory makes the real value.
    monkeypatch.setattr(embedded, "EMBEDDED_SHARED_BUFFERS_MB", 144)
    settings = embedded.embedded_database_settings(pgdata)
    assert _shared_buffers(settings) == "144MB"
    started = _postmaster_pid(pgdata)

    settings = embedded.embedded_database_settings(pgdata)

    assert _postmaster_pid(pgdata) == started  # the value holds: no second restart
    assert _shared_buffers(settings) == "144MB"


def test_a_server_that_will_not_start_with_its_shared_buffers_keeps_the_default(pgdata, monkeypatch):
    # 4 TB: more than this machine lets PostgreSQL map, yet within the setting's range.
    monkeypatch.setattr(embedded, "EMBEDDED_SHARED_BUFFERS_MB", 4 * 2**20)
    settings = embedded.embedded_database_settings(pgdata)
    assert _shared_buffers(settings) == "128MB"  # up, with PostgreSQL's default
    assert "shared_buffers" not in (pgdata / "postgresql.auto.conf").read_text()
    started = _postmaster_pid(pgdata)

    embedded.embedded_database_settings(pgdata)

    assert _postmaster_pid(pgdata) == started  # that size is not tried again
