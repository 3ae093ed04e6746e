"""The pieces every metrics statement is made of: parameters, buckets, filters, group columns.

Identifiers come only from the catalog, values only as parameters; the organization
predicate is part of every WHERE built here (`where_sql`), never left to callers.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metrics.query import catalog
from metrics.query.sources import Segment
from metrics.query.spec import Filter, MetricRequest, MetricsQuery
from metrics.rollups.measures import PARTIAL_MERGE


@dataclass
class Params:
    """Named query parameters; `add` returns the placeholder."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


# ---- what the metrics need -----------------------------------------------------------------------


def requests_of(query: MetricsQuery) -> list[MetricRequest]:
    return [*query.metrics, *(h.request for h in query.having)]


# The partial aggregates (rollup columns `<measure>_<partial>`) each aggregation is computed from.
PARTIALS_OF_AGGREGATION: dict[str, tuple[str, ...]] = {
    "sum": ("sum",),
    "avg": ("count", "sum"),
    "min": ("min",),
    "max": ("max",),
    "count": ("count",),
    "stddev": ("count", "sum", "sumsq"),
}  # percentiles come from sketches or percentile_disc, not from partials


def needed_partials(query: MetricsQuery) -> dict[str, list[str]]:
    """measure → the partial aggregates its requested aggregations need (only those are computed:
    summing unused columns over thousands of rollup rows or raw spans is wasted work)."""
    wanted: dict[str, set[str]] = {}
    for request in requests_of(query):
        if request.metric.measure:
            parts = PARTIALS_OF_AGGREGATION.get(request.aggregation or "", ())
            wanted.setdefault(request.metric.measure, set()).update(parts)
    return {measure: [p for p in PARTIAL_MERGE if p in parts] for measure, parts in sorted(wanted.items()) if parts}


def needed_percentiles(query: MetricsQuery) -> dict[str, set[str]]:
    """measure → percentile aggregations asked of it."""
    result: dict[str, set[str]] = {}
    for request in requests_of(query):
        if request.aggregation in catalog.PERCENTILES and request.metric.measure:
            result.setdefault(request.metric.measure, set()).add(request.aggregation)
    return result


def needed_identities(query: MetricsQuery) -> list[str]:
    return sorted({r.metric.identity for r in requests_of(query) if r.metric.identity})


def needs_errors(query: MetricsQuery) -> bool:
    return any(
        r.metric.name in ("error_count", "success_count", "error_rate", "success_rate") for r in requests_of(query)
    )


# ---- buckets -------------------------------------------------------------------------------------


def bucket_expression(query: MetricsQuery, column: str, params: Params) -> str:
    """The start of the requested bucket holding `column` (a timestamptz), in the query's time zone."""
    interval = query.interval
    if interval is None:
        return f"{params.add(query.start)}::timestamptz"
    if interval.is_calendar:
        return f"date_trunc('{interval.calendar_unit}', {column}, {params.add(query.timezone)})"
    # Fixed widths count from a local midnight, so 1hour buckets follow e.g. +05:30 zones.
    origin = local_midnight(query)
    return (
        f"date_bin({params.add(f'{interval.seconds} seconds')}::interval, {column}, {params.add(origin)}::timestamptz)"
    )


def local_midnight(query: MetricsQuery) -> datetime:
    from zoneinfo import ZoneInfo

    local = query.start.astimezone(ZoneInfo(query.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_seconds_expression(query: MetricsQuery, params: Params) -> str:
    """Seconds of the requested range inside a bucket (for throughput)."""
    start, end = params.add(query.start), params.add(query.end)
    interval = query.interval
    if interval is None:
        return f"extract(epoch FROM {end}::timestamptz - {start}::timestamptz)"
    if interval.is_calendar:
        zone = params.add(query.timezone)
        bucket_end = f"((a.bucket AT TIME ZONE {zone}) + interval '1 {interval.calendar_unit}') AT TIME ZONE {zone}"
    else:
        bucket_end = f"a.bucket + {params.add(f'{interval.seconds} seconds')}::interval"
    return f"extract(epoch FROM least({bucket_end}, {end}::timestamptz) - greatest(a.bucket, {start}::timestamptz))"


# ---- filters -------------------------------------------------------------------------------------


def _like_literal(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_conditions(filters: Iterable[Filter], alias: str, params: Params) -> list[str]:
    conditions = []
    for item in filters:
        column = f"{alias}.{item.dimension.column}"
        values = list(item.values)
        if item.operator == "eq":
            conditions.append(f"{column} = {params.add(values[0])}")
        elif item.operator == "ne":
            conditions.append(f"{column} IS DISTINCT FROM {params.add(values[0])}")
        elif item.operator == "in":
            conditions.append(f"{column} = ANY({params.add(values)}::text[])")
        elif item.operator == "not_in":
            conditions.append(f"NOT coalesce({column} = ANY({params.add(values)}::text[]), false)")
        elif item.operator == "contains":
            conditions.append(f"{column} LIKE {params.add('%' + _like_literal(values[0]) + '%')}")
        else:  # starts_with
            conditions.append(f"{column} LIKE {params.add(_like_literal(values[0]) + '%')}")
    return conditions


def where_sql(query: MetricsQuery, alias: str, time_column: str, segment: Segment, params: Params) -> str:
    conditions = [
        f"{alias}.org_id = {params.add(query.org_id)}",
        f"{alias}.{time_column} >= {params.add(segment.start)}",
        f"{alias}.{time_column} < {params.add(segment.end)}",
        *filter_conditions(query.filters, alias, params),
    ]
    return " AND ".join(conditions)


def group_columns(query: MetricsQuery, alias: str) -> list[str]:
    # user_id/session_id may be NULL; '' stands for "none" so that CTEs join on plain equality
    # (the runner reports '' as null, as it does for an unknown provider or environment).
    return [
        f"{alias}.{d.column} AS {d.name}" if d.in_rollups else f"coalesce({alias}.{d.column}, '') AS {d.name}"
        for d in query.group_by
    ]


def group_positions(query: MetricsQuery, extra: int = 0) -> str:
    return ", ".join(str(i) for i in range(1, 2 + len(query.group_by) + extra))
