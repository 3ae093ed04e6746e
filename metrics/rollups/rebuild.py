"""Recompute rollups from llm_traces over a time range, with the SQL the ingest path uses."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from metrics.rollups.maintenance import activity_upsert_sql, rollup_upsert_sql
from metrics.rollups.measures import ACTIVITY_ROLLUPS, GRAINS, GRAINS_BY_NAME, Grain

ROLLUP_TABLES = tuple(g.table for g in GRAINS) + tuple(a.table for a in ACTIVITY_ROLLUPS)


@dataclass(frozen=True)
class RebuiltRange:
    table: str
    start: datetime
    end: datetime
    rows: int


def aligned_range(grain: Grain, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole buckets of the grain (UTC buckets have fixed lengths)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc(%(unit)s, %(start)s::timestamptz, 'UTC'),"
            " date_trunc(%(unit)s, %(end)s::timestamptz - interval '1 microsecond', 'UTC')",
            {"unit": grain.date_trunc, "start": start, "end": end},
        )
        first_bucket, last_bucket = cursor.fetchone()
    return first_bucket, last_bucket + timedelta(seconds=grain.seconds)


def rebuild_rollups(*, start: datetime, end: datetime, org_id: int | None = None) -> list[RebuiltRange]:
    """Replaces every rollup bucket overlapping [start, end) with a fresh aggregate of the raw spans.

    Ingest waits while this runs (SHARE ROW EXCLUSIVE conflicts with the row locks of its
    upserts), so no span can be counted twice or missed between the delete and the insert.
    """
    org_filter = "" if org_id is None else " AND org_id = %(org_id)s"
    jobs = [(grain.table, grain, rollup_upsert_sql) for grain in GRAINS]
    jobs += [(activity.table, GRAINS_BY_NAME["1day"], activity) for activity in ACTIVITY_ROLLUPS]
    results = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(ROLLUP_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
        for table, grain, builder in jobs:
            low, high = aligned_range(grain, start, end)
            params = {"low": low, "high": high, "org_id": org_id}
            cursor.execute(f"DELETE FROM {table} WHERE bucket >= %(low)s AND bucket < %(high)s{org_filter}", params)
            source = f"(SELECT * FROM llm_traces WHERE ts >= %(low)s AND ts < %(high)s{org_filter}) AS source_spans"
            sql = builder(grain, source) if callable(builder) else activity_upsert_sql(builder, source)
            cursor.execute(sql, params)
            results.append(RebuiltRange(table=table, start=low, end=high, rows=cursor.rowcount))
    return results
