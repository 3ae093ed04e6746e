"""Runs a MetricsQuery: plan the sources, build the SQL, execute, shape typed rows.

The only module of the query engine that touches a database cursor.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import pairwise
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from django.db import connection

from metrics.query import builder, parallel, sources, sql_parts
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


Record = tuple[Any, ...]


def run_query(query: MetricsQuery) -> QueryResult:
    plans = plan_parts(query)
    # Each part runs on its own connection (one PostgreSQL process per core) and gets its
    # percentiles while the others are still running; the parts' rows follow each other in time.
    fetched = parallel.run_all([partial(_fetch, plan) for plan in plans])
    records: list[Record] = [record for part_records, _ in fetched for record in part_records]
    positions = fetched[0][1]
    if plans[0].built.finish_in_python:
        records = select_and_order(records, positions, query)
    truncated = len(records) > query.limit
    records = records[: query.limit]
    zone = ZoneInfo(query.timezone)
    shape = _shaper(query, zone, positions)
    rows = [shape(record) for record in records]
    if query.fill_zero and query.interval is not None:
        bucket = positions["bucket"]
        rows = fill_empty_buckets(rows, [record[bucket] for record in records], query, zone)
        truncated = truncated or len(rows) > query.limit
        rows = rows[: query.limit]
    units = {r.alias: r.metric.unit for r in query.metrics}
    segments = [segment for plan in plans for segment in plan.totals]
    return QueryResult(rows=rows, data_source=sources.data_source(segments), truncated=truncated, units=units)


@dataclass(frozen=True)
class Plan:
    query: MetricsQuery
    totals: list[sources.Segment]
    built: builder.BuiltQuery


def plan_query(query: MetricsQuery) -> Plan:
    totals = sources.plan_totals(query)
    return Plan(query, totals, builder.build(query, totals, sources.plan_uniques(query)))


# A percentile series of many buckets is fetched in parts, each a run of whole buckets: every
# answer row lies in one part, so the parts' rows together are the whole answer. Its sketches
# are the slowest thing PostgreSQL sends (S2, S5 in bench/), and one part per core sends them
# side by side. Fewer buckets than this per part are not worth a second connection's trip.
MIN_BUCKETS_PER_PART = 24
PARTS = max(1, min(parallel.MAX_TASKS, os.cpu_count() or 1))


def query_parts(query: MetricsQuery) -> list[MetricsQuery]:
    """The query cut at bucket starts into up to PARTS consecutive queries, or [query] alone."""
    interval = query.interval
    if interval is None:
        return [query]
    start_of: Callable[[int], datetime]
    if interval.is_calendar:
        starts = bucket_starts(query, ZoneInfo(query.timezone))
        count, start_of = len(starts), starts.__getitem__
    else:  # up to 10,000 buckets: counted, not listed
        origin, first, step = fixed_grid(query)
        count = -((first - query.end) // step)

        def start_of(index: int) -> datetime:
            return first + step * index

    parts = min(PARTS, count // MIN_BUCKETS_PER_PART)
    if parts < 2:
        return [query]
    bounds = [query.start, *(start_of(count * i // parts) for i in range(1, parts)), query.end]
    pieces = [replace(query, start=start, end=end) for start, end in pairwise(bounds)]
    # Fixed widths count from each query's local midnight: a part must bucket exactly as the whole
    # does (after a half-hour daylight-saving shift it would not). Calendar buckets do not depend
    # on where a query starts.
    if not interval.is_calendar and any((fixed_grid(piece)[0] - origin) % step for piece in pieces):
        return [query]
    return pieces


def plan_parts(query: MetricsQuery) -> list[Plan]:
    """The query's plan, or its parts' plans when it is a sketched series worth cutting and every
    part is sketched too (a part answered by raw spans alone would give exact percentiles and
    other columns)."""
    whole = plan_query(query)
    if not whole.built.finish_in_python:
        return [whole]
    pieces = query_parts(query)
    if len(pieces) < 2:
        return [whole]
    plans = [plan_query(piece) for piece in pieces]
    return plans if all(p.built.finish_in_python for p in plans) else [whole]


def _fetch(plan: Plan) -> tuple[list[Record], dict[str, int]]:
    """The plan's records (with their percentiles when sketched) and each column's position."""
    built = plan.built
    connection.ensure_connection()
    # Server-side binding and binary results: sketch arrays arrive without text parsing. Never
    # prepared: PostgreSQL then settles on a generic plan, which for S6 (raw spans of 7 days)
    # ran 295-313 ms against 272-274 planned for its values (runs in process, in turn).
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(built.sql, built.params, binary=True, prepare=False)
        # Records stay tuples, read by position: answers reach thousands of rows.
        positions = {column.name: index for index, column in enumerate(cursor.description or ())}
        records: list[Record] = cursor.fetchall()
    if built.finish_in_python:
        return with_percentiles(records, positions, plan.query)
    return records, positions


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


def _passes(record: Record, having: list[tuple[int, Having]]) -> bool:
    for position, condition in having:
        value = record[position]
        if value is None:
            return False
        # A float is compared as the answer shows it (its shortest repr), not by its binary value;
        # ints and Decimals compare with the Decimal exactly as they are.
        if type(value) is float:
            value = Decimal(str(value))
        if not _COMPARE[condition.operator](value, condition.value):
            return False
    return True


def with_percentiles(
    records: list[Record], positions: dict[str, int], query: MetricsQuery
) -> tuple[list[Record], dict[str, int]]:
    """Each record with its percentiles from its sketch columns appended (tuple concatenation, not
    a copy and an assignment per value); the returned positions say where they are."""
    positions = dict(positions)
    width = len(records[0]) if records else len(positions)
    per_measure: list[list[tuple[float | None, ...]]] = []
    stored_levels = builder.stored_levels(query)
    for measure, columns, quantiles in percentile_targets(query):
        keys_at, counts_at = positions[f"_{measure}_keys"], positions[f"_{measure}_counts"]
        lengths, keys = decode_arrays([record[keys_at] for record in records], KEY_ELEMENT)
        _, counts = decode_arrays([record[counts_at] for record in records], COUNT_ELEMENT)
        values = batch_quantiles(lengths, keys, counts, quantiles)
        if measure in stored_levels:
            stored_at = [positions[builder.stored_quantile_column(measure, level)] for level in quantiles]
            values = _read_stored(values, records, keys_at, stored_at)
        per_measure.append(values)
        for column in columns:
            positions[column] = width
            width += 1
    # record + the first measure's values + the next one's … (one concatenation per measure)
    return [sum(values, record) for record, *values in zip(records, *per_measure, strict=True)], positions


def _read_stored(
    sketched: list[tuple[float | None, ...]], records: list[Record], keys_at: int, stored_at: list[int]
) -> list[tuple[float | None, ...]]:
    """Rows made of one rollup row that stores quantiles come without sketch bytes and with that
    row's quantiles of the asked levels (at `stored_at`; NULL when it has no values)."""
    pick = itemgetter(*stored_at) if len(stored_at) > 1 else lambda record: (record[stored_at[0]],)
    return [
        pick(record) if record[keys_at] is None else values for values, record in zip(sketched, records, strict=True)
    ]


def select_and_order(records: list[Record], positions: dict[str, int], query: MetricsQuery) -> list[Record]:
    """HAVING, ORDER BY and LIMIT (+1) over records with their percentiles, as the SQL would have.

    The records come in their natural order (bucket, then dimensions); sorting by a metric is
    stable on top of it.
    """
    having = [(positions[f"_having_{index}"], condition) for index, condition in enumerate(query.having)]
    if having:
        records = [record for record in records if _passes(record, having)]
    if query.sort is not None:
        at = positions["bucket" if query.sort.field == "timestamp" else query.sort.field]
        present = [record for record in records if record[at] is not None]
        missing = [record for record in records if record[at] is None]  # NULLS LAST either way
        present.sort(key=lambda record: record[at], reverse=query.sort.descending)
        records = present + missing
    return records[: query.limit + 1]


def format_timestamp(moment: datetime, zone: ZoneInfo) -> str:
    if zone.key == "UTC":
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.astimezone(zone).isoformat()


def converter(request: MetricRequest) -> Callable[[Any], Any]:
    """Exact decimals for money, integers for counts, floats for the rest; None stays None."""
    kind = request.value_kind
    if kind == "decimal":
        return lambda value: None if value is None else Decimal(value).quantize(COST_QUANTUM)
    if kind == "int":
        return lambda value: None if value is None else int(value)
    return lambda value: None if value is None else float(value)


def _shaper(query: MetricsQuery, zone: ZoneInfo, positions: dict[str, int]) -> Callable[[Record], dict[str, Any]]:
    """Turns SQL records into answer rows; decided once per query, not per row (answers reach
    thousands of rows, with far fewer distinct buckets to format)."""
    # Float answers are floats already (float8 from SQL, Python floats from the sketches): only
    # money and counts need a conversion.
    converters = [
        (r.alias, positions[r.alias], None if r.value_kind == "float" else converter(r)) for r in query.metrics
    ]
    dimensions = [(dimension.name, positions[dimension.name]) for dimension in query.group_by]
    bucket_at = positions["bucket"]
    stamps: dict[datetime, str] = {}

    def shape(record: Record) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if query.interval is not None:
            bucket = record[bucket_at]
            stamp = stamps.get(bucket)
            if stamp is None:
                stamp = stamps[bucket] = format_timestamp(bucket, zone)
            row["timestamp"] = stamp
        for name, at in dimensions:
            value = record[at]
            row[name] = value if value != "" else None
        for alias, at, convert in converters:
            row[alias] = record[at] if convert is None else convert(record[at])
        return row

    return shape


def fixed_grid(query: MetricsQuery) -> tuple[datetime, datetime, timedelta]:
    """A fixed-width series' origin (the local midnight date_bin counts from), first bucket start
    and width, in UTC as date_bin counts: stepping a local time would follow the wall clock
    across a daylight-saving change (an hour twice or not at all)."""
    interval: Interval = query.interval  # type: ignore[assignment]
    origin = sql_parts.local_midnight(query).astimezone(UTC)
    step = timedelta(seconds=interval.seconds or 60)
    return origin, origin + step * ((query.start - origin) // step), step


def bucket_starts(query: MetricsQuery, zone: ZoneInfo) -> list[datetime]:
    """Every bucket start of the range, as the SQL buckets them."""
    interval: Interval = query.interval  # type: ignore[assignment]
    if not interval.is_calendar:
        _, first, step = fixed_grid(query)
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


def fill_empty_buckets(
    rows: list[dict[str, Any]], buckets: list[datetime], query: MetricsQuery, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """`rows` with a zero row for every (bucket, group) missing; `buckets[i]` is the start of `rows[i]`."""
    dims = [d.name for d in query.group_by]
    groups = sorted(
        {tuple(row[d] for d in dims) for row in rows}, key=lambda g: tuple((v is not None, v or "") for v in g)
    )
    if not groups and not dims:
        groups = [()]
    present = {(bucket, tuple(row[d] for d in dims)) for bucket, row in zip(buckets, rows, strict=True)}
    filled = list(zip(buckets, rows, strict=True))
    for start in bucket_starts(query, zone):
        for group in groups:
            if (start, group) not in present:
                row = {"timestamp": format_timestamp(start, zone), **dict(zip(dims, group, strict=True))}
                row.update({r.alias: _empty_value(r) for r in query.metrics})
                filled.append((start, row))
    filled.sort(key=lambda pair: (pair[0], tuple((pair[1][d] is not None, pair[1][d] or "") for d in dims)))
    return [row for _, row in filled]
