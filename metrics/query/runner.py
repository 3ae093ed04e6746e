"""Runs a MetricsQuery: plan the sources, build the SQL, execute, shape typed rows.

The only module of the query engine that touches a database cursor.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from metrics.query import builder, sources
from metrics.query.catalog import Interval
from metrics.query.spec import MetricRequest, MetricsQuery

COST_QUANTUM = Decimal("1e-10")


@dataclass
class QueryResult:
    rows: list[dict[str, Any]]
    data_source: str
    truncated: bool
    units: dict[str, str] = field(default_factory=dict)


def run_query(query: MetricsQuery) -> QueryResult:
    totals = sources.plan_totals(query)
    uniques = sources.plan_uniques(query)
    built = builder.build(query, totals, uniques)
    with connection.cursor() as cursor:
        cursor.execute(built.sql, built.params)
        names = [column.name for column in cursor.description]
        records = cursor.fetchall()
    truncated = len(records) > query.limit
    zone = ZoneInfo(query.timezone)
    rows = [_shape(dict(zip(names, record, strict=True)), query, zone) for record in records[: query.limit]]
    if query.fill_zero and query.interval is not None:
        rows = fill_empty_buckets(rows, query, zone)
        truncated = truncated or len(rows) > query.limit
        rows = rows[: query.limit]
    units = {r.alias: r.metric.unit for r in query.metrics}
    return QueryResult(rows=rows, data_source=sources.data_source(totals), truncated=truncated, units=units)


def format_timestamp(moment: datetime, zone: ZoneInfo) -> str:
    if zone.key == "UTC":
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.astimezone(zone).isoformat()


def convert(value: Any, request: MetricRequest) -> Any:
    """Exact decimals for money, integers for counts, floats for the rest; None stays None."""
    if value is None:
        return None
    unit, aggregation = request.metric.unit, request.aggregation
    if unit == "usd":
        return Decimal(value).quantize(COST_QUANTUM)
    if unit in ("requests", "count") or (unit == "tokens" and aggregation != "avg"):
        return int(value)
    return float(value)


def _shape(record: dict[str, Any], query: MetricsQuery, zone: ZoneInfo) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if query.interval is not None:
        row["timestamp"] = format_timestamp(record["bucket"], zone)
    for dimension in query.group_by:
        value = record[dimension.name]
        row[dimension.name] = value if value != "" else None
    for request in query.metrics:
        row[request.alias] = convert(record[request.alias], request)
    row["_bucket"] = record["bucket"]
    return row


def bucket_starts(query: MetricsQuery, zone: ZoneInfo) -> list[datetime]:
    """Every bucket start of the range, as the SQL buckets them."""
    interval: Interval = query.interval  # type: ignore[assignment]
    if not interval.is_calendar:
        origin = builder.local_midnight(query)
        step = timedelta(seconds=interval.seconds or 60)
        first = origin + step * ((query.start - origin) // step)
        starts, moment = [], first
        while moment < query.end:
            starts.append(moment)
            moment += step
        return starts
    local = query.start.astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    if interval.calendar_unit == "week":
        local -= timedelta(days=local.weekday())
    elif interval.calendar_unit == "month":
        local = local.replace(day=1)
    starts = []
    while (moment := local.replace(tzinfo=zone).astimezone(UTC)) < query.end:
        starts.append(moment)
        if interval.calendar_unit == "month":
            local = local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
        else:
            local += timedelta(days=7 if interval.calendar_unit == "week" else 1)
    return starts


def _empty_value(request: MetricRequest) -> Any:
    kind, aggregation = request.metric.kind, request.aggregation
    if kind in ("count", "unique", "throughput") or aggregation in ("sum", "count"):
        return Decimal(0) if request.metric.unit == "usd" else 0
    return None


def fill_empty_buckets(rows: list[dict[str, Any]], query: MetricsQuery, zone: ZoneInfo) -> list[dict[str, Any]]:
    dims = [d.name for d in query.group_by]
    groups = sorted(
        {tuple(row[d] for d in dims) for row in rows}, key=lambda g: tuple((v is not None, v or "") for v in g)
    )
    if not groups and not dims:
        groups = [()]
    present = {(row["_bucket"], tuple(row[d] for d in dims)) for row in rows}
    filled = list(rows)
    for start in bucket_starts(query, zone):
        for group in groups:
            if (start, group) not in present:
                row = {"timestamp": format_timestamp(start, zone), **dict(zip(dims, group, strict=True))}
                row.update({r.alias: _empty_value(r) for r in query.metrics})
                row["_bucket"] = start
                filled.append(row)
    filled.sort(key=lambda r: (r["_bucket"], tuple((r[d] is not None, r[d] or "") for d in dims)))
    return filled


def public_rows(result: QueryResult) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "_bucket"} for row in result.rows]
