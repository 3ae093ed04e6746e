"""GET /metrics/summary: the current period, the one before, changes, top items and quality."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.db import connection

from metrics.query import catalog
from metrics.query.parallel import run_all
from metrics.query.runner import COST_QUANTUM, format_timestamp, run_query
from metrics.query.sources import RAW, split
from metrics.query.spec import Filter, MetricRequest, MetricsQuery
from metrics.query.sql_parts import Params, filter_conditions
from metrics.rollups.measures import ERROR_DIMENSIONS, ERROR_ROLLUPS_BY_GRAIN

MOST_COMMON_ERRORS = 10


def _request(metric: str, aggregation: str | None, alias: str) -> MetricRequest:
    return MetricRequest(catalog.METRICS[metric], aggregation, alias)


PERIOD_METRICS = (
    _request("request_count", "sum", "total_requests"),
    _request("total_cost", "sum", "total_cost_usd"),
    _request("total_tokens", "sum", "total_tokens"),
    _request("duration", "avg", "avg_duration_ms"),
    _request("duration", "p95", "p95_duration_ms"),
    _request("error_rate", None, "error_rate"),
    _request("success_rate", None, "success_rate"),
    _request("unique_users", None, "unique_users"),
    _request("unique_sessions", None, "unique_sessions"),
    _request("error_count", "sum", "error_count"),
    _request("success_count", "sum", "success_count"),
)
PERIOD_FIELDS = (
    "total_requests",
    "total_cost_usd",
    "total_tokens",
    "avg_duration_ms",
    "p95_duration_ms",
    "error_rate",
    "success_rate",
    "unique_users",
    "unique_sessions",
)
CHANGES = {
    "requests_change_pct": "total_requests",
    "cost_change_pct": "total_cost_usd",
    "duration_change_pct": "avg_duration_ms",
    "error_rate_change_pct": "error_rate",
}


@dataclass(frozen=True)
class SummaryRequest:
    org_id: int
    start: datetime
    end: datetime
    filters: tuple[Filter, ...]
    compare_previous: bool
    top_n: int
    now: datetime

    def cache_identity(self) -> tuple[Any, ...]:
        filters = tuple(sorted((f.dimension.name, f.operator, tuple(sorted(f.values))) for f in self.filters))
        return (self.org_id, self.start.isoformat(), self.end.isoformat(), filters, self.compare_previous, self.top_n)


def _period(request: SummaryRequest, start: datetime, end: datetime) -> dict[str, Any]:
    query = MetricsQuery(
        org_id=request.org_id,
        metrics=PERIOD_METRICS,
        start=start,
        end=end,
        interval=None,
        timezone="UTC",
        filters=request.filters,
        now=request.now,
    )
    rows = run_query(query).rows
    values = rows[0] if rows else {}
    period: dict[str, Any] = {"start_time": format_timestamp(start, _utc()), "end_time": format_timestamp(end, _utc())}
    for field in PERIOD_FIELDS:
        period[field] = values.get(field)
    if not rows:
        period.update(total_requests=0, total_cost_usd=Decimal(0).quantize(COST_QUANTUM), total_tokens=0)
        period.update(unique_users=0, unique_sessions=0)
    period["_errors"] = (values.get("error_count") or 0, values.get("success_count") or 0)
    return period


def _utc() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


def _change(current: Any, previous: Any) -> float | None:
    if current is None or previous in (None, 0):
        return None
    return round(float((Decimal(str(current)) - Decimal(str(previous))) / Decimal(str(previous)) * 100), 2)


def _ranking_key(value_key: str, row: dict[str, Any]) -> tuple[Decimal, str, str]:
    """Largest value first; ties by provider, then model."""
    return -Decimal(str(row[value_key])), row["provider"] or "", row["model"] or ""


def _top_items(request: SummaryRequest) -> dict[str, list[dict[str, Any]]]:
    query = MetricsQuery(
        org_id=request.org_id,
        metrics=(
            _request("request_count", "sum", "requests"),
            _request("total_cost", "sum", "cost"),
            _request("duration", "avg", "avg_duration"),
            _request("duration", "count", "timed"),
            _request("error_count", "sum", "errors"),
        ),
        start=request.start,
        end=request.end,
        interval=None,
        timezone="UTC",
        group_by=(catalog.DIMENSIONS["provider"], catalog.DIMENSIONS["model"]),
        filters=request.filters,
        now=request.now,
    )
    rows = run_query(query).rows
    # Time spent per model (avg × calls with a duration): where the latency budget goes.
    for row in rows:
        row["time_spent"] = (row["avg_duration"] or 0) * row["timed"]
    rankings = {
        "by_cost": ("cost", "cost"),
        "by_requests": ("requests", "requests"),
        "by_duration": ("avg_duration", "time_spent"),
        "by_errors": ("errors", "errors"),
    }
    result = {}
    for name, (value_key, share_key) in rankings.items():
        total = sum((Decimal(str(row[share_key] or 0)) for row in rows), Decimal(0))
        ranked = sorted(
            (row for row in rows if row[value_key] not in (None, 0)),
            key=partial(_ranking_key, value_key),
        )
        result[name] = [
            {
                "provider": row["provider"],
                "model": row["model"],
                "value": row[value_key],
                "percentage": percentage(Decimal(str(row[share_key] or 0)), total),
            }
            for row in ranked[: request.top_n]
        ]
    return result


def _most_common_errors(request: SummaryRequest) -> list[tuple[str, str, int, str | None]]:
    """Failed spans by error type, from the error rollups where whole hours nest, raw spans elsewhere."""
    params = Params()
    usable = all(f.dimension.name in ERROR_DIMENSIONS for f in request.filters)
    ladder = ("1day", "1hour") if usable else ()
    parts = []
    for segment in split(request.start, request.end, ladder, request.now):
        if segment.source == RAW:
            alias, table, time_column = "t", "llm_traces", "ts"
            kept = [f"{alias}.status_code = 'ERROR'"]
            aggregates = "count(*), min(t.error_message)"
        else:
            alias, table, time_column = "r", ERROR_ROLLUPS_BY_GRAIN[segment.source].table, "bucket"
            kept = []
            aggregates = "sum(r.error_count), min(r.sample_message)"
        conditions = [
            f"{alias}.org_id = {params.add(request.org_id)}",
            f"{alias}.{time_column} >= {params.add(segment.start)}",
            f"{alias}.{time_column} < {params.add(segment.end)}",
            *kept,
            *filter_conditions(request.filters, alias, params),
        ]
        # A missing and an empty error type are both "unknown".
        error_type = f"coalesce(nullif({alias}.error_type, ''), 'unknown')"
        parts.append(
            f"SELECT {error_type}, {aggregates} FROM {table} {alias} WHERE {' AND '.join(conditions)} GROUP BY 1"
        )
    sql = (
        "SELECT 'ERROR', error_type, sum(n)::bigint AS n, min(sample) AS sample_message"
        f" FROM ({' UNION ALL '.join(parts)}) AS parts(error_type, n, sample)"
        f" GROUP BY error_type ORDER BY n DESC, error_type LIMIT {MOST_COMMON_ERRORS}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params.values)
        errors: list[tuple[str, str, int, str | None]] = cursor.fetchall()
    return errors


PERCENT_QUANTUM = Decimal("0.01")


def percentage(part: Decimal, whole: Decimal) -> float:
    """part / whole in percent to two decimals, halves rounded up (3.125 → 3.13) as PostgreSQL's
    round() does: exact decimals, not a binary float rounded half to even (which gave 3.12)."""
    if not whole:
        return 0.0
    return float((part / whole * 100).quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP))


def _error_items(rows: list[tuple[str, str, int, str | None]], error_count: int) -> list[dict[str, Any]]:
    return [
        {
            "status_code": status,
            "error_type": error_type,
            "count": count,
            "percentage": percentage(Decimal(count), Decimal(error_count)),
            "sample_message": message,
        }
        for status, error_type, count, message in rows
    ]


def summarize(request: SummaryRequest) -> dict[str, Any]:
    length = request.end - request.start
    tasks = [
        lambda: _period(request, request.start, request.end),
        lambda: _top_items(request),
        lambda: _most_common_errors(request),
    ]
    if request.compare_previous:
        tasks.append(lambda: _period(request, request.start - length, request.start))
    current, top_items, error_rows, *rest = run_all(tasks)
    previous = rest[0] if rest else None
    errors, successes = current.pop("_errors")
    if previous is not None:
        previous.pop("_errors")
    changes = {name: _change(current[field], previous[field]) if previous else None for name, field in CHANGES.items()}
    return {
        "current_period": current,
        "previous_period": previous,
        "changes": changes,
        "top_items": top_items,
        "quality": {
            "error_count": errors,
            "success_count": successes,
            "error_rate": current["error_rate"],
            "success_rate": current["success_rate"],
            "most_common_errors": _error_items(error_rows, errors),
        },
    }
