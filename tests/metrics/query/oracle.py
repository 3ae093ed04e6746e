"""Metrics computed in plain Python over stored spans: the independent answer the engine must match."""

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}
MEASURE_COLUMNS = {
    "duration": "duration_ms",
    "time_to_first_token": "ttft_ms",
    "total_cost": "total_cost",
    "prompt_cost": "prompt_cost",
    "completion_cost": "completion_cost",
    "total_tokens": "total_tokens",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "reasoning_tokens": "reasoning_tokens",
}
CALENDAR = {"1day": "day", "1week": "week", "1month": "month"}
FIXED = {"1min": 60, "5min": 300, "15min": 900, "1hour": 3600}


def matches(span: dict[str, Any], flt: dict[str, Any]) -> bool:
    value, operator, wanted = span[flt["dimension"]], flt["operator"], flt["value"]
    if operator == "eq":
        return value == wanted
    if operator == "ne":
        return value != wanted
    if operator == "in":
        return value in wanted
    if operator == "not_in":
        return value not in wanted
    if value is None:
        return False
    if operator == "contains":
        return wanted in value
    return value.startswith(wanted)


def bucket_of(ts: datetime, interval: str | None, zone: ZoneInfo, start: datetime) -> datetime:
    if interval is None:
        return start
    if interval in FIXED:
        origin = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        step = timedelta(seconds=FIXED[interval])
        return (origin + step * ((ts - origin) // step)).astimezone(UTC)
    local = ts.astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    if CALENDAR[interval] == "week":
        local -= timedelta(days=local.weekday())
    elif CALENDAR[interval] == "month":
        local = local.replace(day=1)
    return local.replace(tzinfo=zone).astimezone(UTC)


def bucket_end(bucket: datetime, interval: str | None, zone: ZoneInfo, end: datetime) -> datetime:
    if interval is None:
        return end
    if interval in FIXED:
        return bucket + timedelta(seconds=FIXED[interval])
    local = bucket.astimezone(zone).replace(tzinfo=None)
    if CALENDAR[interval] == "month":
        local = local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
    else:
        local += timedelta(days=7 if CALENDAR[interval] == "week" else 1)
    return local.replace(tzinfo=zone).astimezone(UTC)


def percentile_disc(values: list[Decimal], q: float) -> Decimal:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def metric_value(metric: str, aggregation: str | None, spans: list[dict[str, Any]], seconds: float) -> Any:
    n = len(spans)
    errors = sum(1 for s in spans if s["status_code"] == "ERROR")
    simple = {
        "request_count": n,
        "error_count": errors,
        "success_count": n - errors,
        "error_rate": Decimal(errors) / n if n else None,
        "success_rate": Decimal(n - errors) / n if n else None,
        "throughput": Decimal(n) / Decimal(str(seconds)) if seconds else None,
        "unique_users": len({s["user_id"] for s in spans if s["user_id"] is not None}),
        "unique_sessions": len({s["session_id"] for s in spans if s["session_id"] is not None}),
    }
    if metric in simple:
        return simple[metric]
    values = [s[MEASURE_COLUMNS[metric]] for s in spans if s[MEASURE_COLUMNS[metric]] is not None]
    if aggregation == "sum":
        return sum(values, Decimal(0))
    if aggregation == "count":
        return len(values)
    if not values:
        return None
    if aggregation == "avg":
        return Decimal(sum(values)) / len(values)
    if aggregation == "min":
        return min(values)
    if aggregation == "max":
        return max(values)
    if aggregation == "stddev":
        return Decimal(str(statistics.stdev(float(v) for v in values))) if len(values) > 1 else None
    return percentile_disc(values, PERCENTILES[aggregation])


def expected_rows(spans: list[dict[str, Any]], body: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    """Rows keyed by (bucket, *group values) with each alias's value, before HAVING/sort/limit."""
    zone = ZoneInfo(body.get("timezone", "UTC"))
    start, end = body["start"], body["end"]
    interval = body.get("interval")
    group_by = body.get("group_by", [])
    selected = [s for s in spans if start <= s["ts"] < end and all(matches(s, f) for f in body.get("filters", []))]
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for span in selected:
        groups[(bucket_of(span["ts"], interval, zone, start), *(span[d] for d in group_by))].append(span)
    rows = {}
    for key, members in groups.items():
        bucket = key[0]
        seconds = (min(bucket_end(bucket, interval, zone, end), end) - max(bucket, start)).total_seconds()
        row = {}
        for item in body["metrics"]:
            row[item["alias"]] = metric_value(item["metric"], item.get("aggregation"), members, seconds)
        for index, condition in enumerate(body.get("having", [])):
            row[f"_having_{index}"] = metric_value(condition["metric"], condition.get("aggregation"), members, seconds)
        rows[key] = row
    return rows


def passes_having(row: dict[str, Any], having: list[dict[str, Any]]) -> bool:
    for index, condition in enumerate(having):
        value = row[f"_having_{index}"]
        if value is None:
            return False
        target = Decimal(str(condition["value"]))
        value = Decimal(str(value))
        ok = {
            "gt": value > target,
            "gte": value >= target,
            "lt": value < target,
            "lte": value <= target,
            "eq": value == target,
        }[condition["operator"]]
        if not ok:
            return False
    return True
