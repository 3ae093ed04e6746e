"""Runs a MetricsQuery: plan the sources, build the SQL, execute, shape typed rows.

The only module of the query engine that touches a database cursor.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from django.db import connection

from metrics.query import builder, sources, sql_parts
from metrics.query.catalog import PERCENTILES, Interval
from metrics.query.percentiles import COUNT_ELEMENT, KEY_ELEMENT, batch_quantiles, decode_arrays
from metrics.query.spec import Having, MetricRequest, MetricsQuery

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
    connection.ensure_connection()
    # Server-side binding and binary results: the statement is prepared after a few runs of the
    # same shape, and sketch arrays arrive without text parsing.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(built.sql, built.params, binary=True)
        names = [column.name for column in cursor.description]
        records = [dict(zip(names, record, strict=True)) for record in cursor.fetchall()]
    if built.finish_in_python:
        records = finish(records, query)
    truncated = len(records) > query.limit
    zone = ZoneInfo(query.timezone)
    shape = _shaper(query, zone)
    rows = [shape(record) for record in records[: query.limit]]
    if query.fill_zero and query.interval is not None:
        rows = fill_empty_buckets(rows, query, zone)
        truncated = truncated or len(rows) > query.limit
        rows = rows[: query.limit]
    units = {r.alias: r.metric.unit for r in query.metrics}
    return QueryResult(rows=rows, data_source=sources.data_source(totals), truncated=truncated, units=units)


# ---- sketch percentiles, and what SQL leaves to us when they are involved ----------------------


def percentile_targets(query: MetricsQuery) -> list[tuple[str, list[str], list[float]]]:
    """Per measure: the columns to fill (aliases, and HAVING's hidden ones) and their quantiles."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for request in query.metrics:
        if request.aggregation in PERCENTILES and request.metric.measure:
            wanted.setdefault(request.metric.measure, []).append((request.alias, request.aggregation))
    for index, condition in enumerate(query.having):
        request = condition.request
        if request.aggregation in PERCENTILES and request.metric.measure:
            wanted.setdefault(request.metric.measure, []).append((f"_having_{index}", request.aggregation))
    return [
        (measure, [column for column, _ in targets], [PERCENTILES[a] for _, a in targets])
        for measure, targets in wanted.items()
    ]


_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


def _passes(record: dict[str, Any], having: list[Having]) -> bool:
    for index, condition in enumerate(having):
        value = record.get(f"_having_{index}")
        if value is None or not _COMPARE[condition.operator](Decimal(str(value)), condition.value):
            return False
    return True


def _natural_key(record: dict[str, Any], query: MetricsQuery) -> tuple[Any, ...]:
    dims = tuple(record[d.name] or "" for d in query.group_by)
    return ((record["bucket"],) if query.interval else ()) + dims


def finish(records: list[dict[str, Any]], query: MetricsQuery) -> list[dict[str, Any]]:
    """Percentiles from sketches, then HAVING, ORDER BY and LIMIT (+1), as the SQL would have."""
    having = list(query.having)
    for measure, columns, quantiles in percentile_targets(query):
        lengths, keys = decode_arrays([record.pop(f"_{measure}_keys") for record in records], KEY_ELEMENT)
        _, counts = decode_arrays([record.pop(f"_{measure}_counts") for record in records], COUNT_ELEMENT)
        for record, values in zip(records, batch_quantiles(lengths, keys, counts, quantiles), strict=True):
            record.update(zip(columns, values, strict=True))
    kept = [record for record in records if _passes(record, having)]
    kept.sort(key=lambda record: _natural_key(record, query))
    if query.sort is not None:
        column = "bucket" if query.sort.field == "timestamp" else query.sort.field
        present = [r for r in kept if r[column] is not None]
        missing = [r for r in kept if r[column] is None]  # NULLS LAST either way
        present.sort(key=lambda r: r[column], reverse=query.sort.descending)
        kept = present + missing
    return kept[: query.limit + 1]


def format_timestamp(moment: datetime, zone: ZoneInfo) -> str:
    if zone.key == "UTC":
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.astimezone(zone).isoformat()


def converter(request: MetricRequest) -> Callable[[Any], Any]:
    """Exact decimals for money, integers for counts, floats for the rest; None stays None."""
    unit, aggregation = request.metric.unit, request.aggregation
    if unit == "usd":
        return lambda value: None if value is None else Decimal(value).quantize(COST_QUANTUM)
    if unit in ("requests", "count") or (unit == "tokens" and aggregation != "avg"):
        return lambda value: None if value is None else int(value)
    return lambda value: None if value is None else float(value)


def _shaper(query: MetricsQuery, zone: ZoneInfo) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns SQL records into answer rows; decided once per query, not per row (answers reach
    thousands of rows, with far fewer distinct buckets to format)."""
    converters = [(request.alias, converter(request)) for request in query.metrics]
    dimensions = [dimension.name for dimension in query.group_by]
    stamps: dict[datetime, str] = {}

    def shape(record: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        bucket = record["bucket"]
        if query.interval is not None:
            stamp = stamps.get(bucket)
            if stamp is None:
                stamp = stamps[bucket] = format_timestamp(bucket, zone)
            row["timestamp"] = stamp
        for name in dimensions:
            value = record[name]
            row[name] = value if value != "" else None
        for alias, convert in converters:
            row[alias] = convert(record[alias])
        row["_bucket"] = bucket
        return row

    return shape


def bucket_starts(query: MetricsQuery, zone: ZoneInfo) -> list[datetime]:
    """Every bucket start of the range, as the SQL buckets them."""
    interval: Interval = query.interval  # type: ignore[assignment]
    if not interval.is_calendar:
        origin = sql_parts.local_midnight(query)
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
