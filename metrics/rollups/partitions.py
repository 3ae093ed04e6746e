"""Daily partitions of llm_traces: created ahead of need, on demand, and dropped by retention."""

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import connection

_known_days: set[date] = set()
_lock = threading.Lock()

PARTITION_PREFIX = "llm_traces_p"


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Makes sure a partition exists for every day, so no insert can fail for want of one.

    Runs in its own short transaction (autocommit) before the ingest transaction, so the
    brief lock CREATE TABLE takes on the parent is never held while spans are written.
    """
    missing = sorted(set(days) - _known_days)
    if not missing:
        return
    with connection.cursor() as cursor:
        for day in missing:
            cursor.execute("SELECT llm_traces_ensure_partition(%s)", [day])
    with _lock:
        _known_days.update(missing)


def forget_partitions() -> None:
    """Drops the in-process memory of existing partitions (after retention dropped some)."""
    with _lock:
        _known_days.clear()


def existing_partitions() -> dict[date, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname
            FROM pg_inherits
            JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE parent.relname = 'llm_traces'
            """
        )
        names = [row[0] for row in cursor.fetchall()]
    result = {}
    for name in names:
        if name.startswith(PARTITION_PREFIX):
            day = datetime.strptime(name[len(PARTITION_PREFIX) :], "%Y%m%d").replace(tzinfo=UTC).date()
            result[day] = name
    return result


def create_partitions_ahead(days_ahead: int = 7, today: date | None = None) -> None:
    start = today or datetime.now(UTC).date()
    ensure_partitions(start + timedelta(days=offset) for offset in range(days_ahead + 1))
