"""Recompute rollups from llm_traces over a time range, with the SQL the ingest path uses."""

import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.db import connection, connections, transaction

from metrics.rollups.fold import FOLD_LOCK, QUEUE
from metrics.rollups.identities import number_identities
from metrics.rollups.maintenance import SPAN_COLUMNS_FOR_ROLLUPS, add_gathered, gather_spans
from metrics.rollups.measures import IDENTITY_BITMAPS, IDENTITY_COLUMNS, ROLLUP_RETENTION_DAYS, ROLLUP_TABLES

SOURCE = "rebuild_source"
REBUILD_DAY_LOCK = 7_362_105  # pg advisory lock class: one rebuild of a given day at a time
T = TypeVar("T")
R = TypeVar("R")


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
    *,
    start: datetime,
    end: datetime,
    org_id: int | None = None,
    tables: Collection[str] = ROLLUP_TABLES,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[RebuiltDay]:
    """Replaces every rollup bucket overlapping [start, end) with a fresh aggregate of the raw spans
    (buckets past their table's retention are only emptied, see `still_kept`).

    Works one UTC day at a time (every grain's buckets nest inside UTC days), each day in its
    own transaction, `workers` days at once (each on its own connection; one at a time inside
    a caller's transaction). While any day is rebuilt no fold runs (they share the fold's
    advisory lock), and each day's statement that reads the spans also takes the same spans
    off the rollup queue, with one snapshot: a span is counted by the rebuild or by a later
    fold, never both, never neither. Ingest goes on meanwhile.

    `tables` limits the work to some rollups, for filling new tables before any span was
    queued (the queue is then left alone). `progress(days done, days)` is called after each day.
    """
    unknown = set(tables) - set(ROLLUP_TABLES)
    if unknown:
        raise ValueError(f"not rollup tables: {sorted(unknown)}")
    chosen = [table for table in ROLLUP_TABLES if table in tables]
    days = list(utc_days(start, end))
    if any(bitmap.table in chosen for bitmap in IDENTITY_BITMAPS):
        _number_identities(days, org_id)
    done, lock = [0], threading.Lock()

    def rebuild_one(day: datetime) -> RebuiltDay:
        rebuilt = _rebuild_day(day, org_id, chosen)
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(days))
        return rebuilt

    return each_on_own_connection(rebuild_one, days, workers)


def each_on_own_connection(work: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """work(item) for every item, `workers` at once, each thread on its own connection (closed
    when done); one after another inside a transaction, whose rows other connections cannot see."""
    if workers <= 1 or connection.in_atomic_block or len(items) < 2:
        return [work(item) for item in items]

    def on_own_connection(item: T) -> R:
        try:
            return work(item)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rollups") as pool:
        return list(pool.map(on_own_connection, items))


def fill_new_rollup_tables(tables: Collection[str]) -> None:
    """Builds rollup tables a migration just created from the spans already stored (if any)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(ts), max(ts) FROM llm_traces")
        first, last = cursor.fetchone()
    if first is not None:
        rebuild_rollups(start=first, end=last + timedelta(microseconds=1), tables=tables)


def _number_identities(days: list[datetime], org_id: int | None) -> None:
    """Numbers every user and session of the range first (committed before any day reads them)."""
    if not days:
        return
    org_filter = "" if org_id is None else " AND org_id = %(org_id)s"
    params = {"low": days[0], "high": days[-1] + timedelta(days=1), "org_id": org_id}
    span_range = f"(SELECT * FROM llm_traces WHERE ts >= %(low)s AND ts < %(high)s{org_filter}) AS spans"
    with connection.cursor() as cursor:
        for identity in IDENTITY_COLUMNS:
            number_identities(cursor, span_range, identity, params)
        # Fresh statistics before every day joins its spans to the numbers: a new organization's
        # identities counted as none once made one day's join take minutes instead of 50 ms.
        cursor.execute("ANALYZE llm_identities")


def still_kept(tables: list[str], day: datetime, now: datetime) -> list[str]:
    """The tables among `tables` whose retention still keeps buckets of `day`.

    Rows that retention would delete are not built: a 90-day load spent a quarter of its
    rollup time on 1-minute rows of the 53 days past their 37.
    """
    return [table for table in tables if day + timedelta(days=1) > now - timedelta(days=ROLLUP_RETENTION_DAYS[table])]


def _rebuild_day(day: datetime, org_id: int | None, chosen: list[str]) -> RebuiltDay:
    org_filter = "" if org_id is None else " AND org_id = %(org_id)s"
    params = {"low": day, "high": day + timedelta(days=1), "org_id": org_id}
    # Whether the day's spans leave the queue depends on what was asked, not on what is kept.
    every_table = set(chosen) == set(ROLLUP_TABLES)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [FOLD_LOCK])
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REBUILD_DAY_LOCK, int(day.timestamp()) // 86400])
        cursor.execute("SET LOCAL work_mem = '256MB'")  # in-memory hash aggregates for a whole day
        # The day's spans are read once into a temporary table that every upsert then scans; in
        # the same statement (one snapshot) exactly those spans are taken off the rollup queue.
        dequeue = (
            f"dequeued AS (DELETE FROM {QUEUE} WHERE ts >= %(low)s AND ts < %(high)s{org_filter}), "
            if every_table
            else ""
        )
        day_spans = (
            f"SELECT {', '.join(SPAN_COLUMNS_FOR_ROLLUPS)} FROM llm_traces"
            f" WHERE ts >= %(low)s AND ts < %(high)s{org_filter}"
        )
        spans = gather_spans(cursor, SOURCE, f"{dequeue}day_spans AS ({day_spans})", "day_spans", params)
        for table in chosen:
            cursor.execute(f"DELETE FROM {table} WHERE bucket >= %(low)s AND bucket < %(high)s{org_filter}", params)
        rows = add_gathered(cursor, SOURCE, spans, still_kept(chosen, day, datetime.now(UTC)))
    return RebuiltDay(day=day, spans=spans, rows=rows)
