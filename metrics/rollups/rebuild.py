"""Recompute rollups from llm_traces over a time range, with the SQL the ingest path uses."""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from metrics.rollups.fold import QUEUE
from metrics.rollups.identities import ORDINALS_TABLE_SQL, number_identities
from metrics.rollups.maintenance import SPAN_COLUMNS_FOR_ROLLUPS, all_rollup_upserts
from metrics.rollups.measures import IDENTITY_BITMAPS, IDENTITY_COLUMNS, ROLLUP_TABLES

SOURCE = "rebuild_source"


@dataclass(frozen=True)
class RebuiltDay:
    day: datetime
    spans: int
    rows: dict[str, int]


def utc_days(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every UTC day overlapping [start, end), as the midnight it starts at."""
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        yield day
        day += timedelta(days=1)


def rebuild_rollups(
    *, start: datetime, end: datetime, org_id: int | None = None, tables: Collection[str] = ROLLUP_TABLES
) -> list[RebuiltDay]:
    """Replaces every rollup bucket overlapping [start, end) with a fresh aggregate of the raw spans.

    Works one UTC day at a time (every grain's buckets nest inside UTC days), each day in its
    own transaction. The day's spans still queued for the rollups are counted here and taken
    off the queue; ingest and folding wait while a day is rebuilt (the rollup queue and the
    rollups are locked in SHARE ROW EXCLUSIVE mode, in the order a fold takes them), so no
    span can be counted twice or missed. `tables` limits the work to some rollups (e.g. new
    ones being filled for the first time; the queue is then left alone).
    """
    unknown = set(tables) - set(ROLLUP_TABLES)
    if unknown:
        raise ValueError(f"not rollup tables: {sorted(unknown)}")
    return [_rebuild_day(day, org_id, tables) for day in utc_days(start, end)]


def _rebuild_day(day: datetime, org_id: int | None, tables: Collection[str]) -> RebuiltDay:
    org_filter = "" if org_id is None else " AND org_id = %(org_id)s"
    params = {"low": day, "high": day + timedelta(days=1), "org_id": org_id}
    chosen = [table for table in ROLLUP_TABLES if table in tables]
    rows = {}
    every_table = set(chosen) == set(ROLLUP_TABLES)
    with transaction.atomic(), connection.cursor() as cursor:
        if every_table:
            cursor.execute(f"LOCK TABLE {QUEUE} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"LOCK TABLE {', '.join(chosen)} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SET LOCAL work_mem = '256MB'")  # in-memory hash aggregates for a whole day
        # The day's spans are read once into a temporary table that every upsert then scans.
        # (Dropped explicitly too: inside an outer transaction ON COMMIT comes too late.)
        cursor.execute(f"DROP TABLE IF EXISTS {SOURCE}")
        cursor.execute(
            f"CREATE TEMP TABLE {SOURCE} ON COMMIT DROP AS SELECT {', '.join(SPAN_COLUMNS_FOR_ROLLUPS)}"
            f" FROM llm_traces WHERE ts >= %(low)s AND ts < %(high)s{org_filter}",
            params,
        )
        spans = cursor.rowcount
        if any(bitmap.table in chosen for bitmap in IDENTITY_BITMAPS):
            for identity in IDENTITY_COLUMNS:
                number_identities(cursor, SOURCE, identity)
        for table in chosen:
            cursor.execute(f"DELETE FROM {table} WHERE bucket >= %(low)s AND bucket < %(high)s{org_filter}", params)
        if every_table:  # counted above from llm_traces: a later fold must not add them again
            cursor.execute(f"DELETE FROM {QUEUE} WHERE ts >= %(low)s AND ts < %(high)s{org_filter}", params)
        ordinals = {identity: ORDINALS_TABLE_SQL.format(kind=identity) for identity in IDENTITY_COLUMNS}
        for table, sql in all_rollup_upserts(SOURCE, ordinals):
            if table in chosen:
                cursor.execute(sql)
                rows[table] = cursor.rowcount
        cursor.execute(f"DROP TABLE {SOURCE}")
    return RebuiltDay(day=day, spans=spans, rows=rows)
