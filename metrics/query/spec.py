"""A validated, frozen metrics query. Everything from the outside is checked here, by whitelist,
against the catalog; after this nothing re-validates.
"""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from metrics.ingest.validation import parse_iso_time
from metrics.postgres_text import storable
from metrics.query import catalog
from metrics.query.catalog import Dimension, Interval, Metric

# Messages the tests import.
MSG_UNKNOWN = "Unknown {kind} '{name}'. Valid: {valid}."
MSG_BAD_AGGREGATION = "Aggregation '{aggregation}' is not valid for {metric}. Valid: {valid}."
MSG_NO_AGGREGATION = "{metric} is computed and takes no aggregation."
MSG_REQUIRED = "This field is required."
MSG_TIME = "Must be an ISO 8601 timestamp, e.g. 2026-11-26T10:00:00Z (no offset means UTC)."
MSG_START_AFTER_END = "start_time must be before end_time."
MSG_RANGE_TOO_LONG = "The time range may span at most {days} days."
MSG_BEYOND_RETENTION = "start_time is older than any data is kept ({days} days)."
MSG_TOO_FAR_AHEAD = "end_time may be at most {days} days from now."
MSG_TOO_MANY = "At most {limit} {what}."
MSG_TOO_MANY_BUCKETS = "This range and interval give {count} buckets; the limit is {limit}. Use a coarser interval."
MSG_BAD_ALIAS = "Aliases are lowercase identifiers (a-z, 0-9, _; at most 63 characters, not starting with a digit)."
MSG_DUPLICATE_ALIAS = "Alias '{alias}' is used twice."
MSG_RESERVED_ALIAS = "Alias '{alias}' clashes with a dimension, 'timestamp' or 'bucket'."
MSG_FILTER_VALUE = "Must be a string of at most 256 characters."
MSG_FILTER_LIST = "Operator '{operator}' needs a list of 1 to {limit} strings."
MSG_STATUS_VALUE = "status_code values are OK, ERROR or UNSET."
MSG_NUMBER = "Must be a number."
MSG_SORT_FIELD = "Sort by an alias, a requested metric, a grouped dimension or 'timestamp'. Valid: {valid}."
MSG_LIMIT = "Must be an integer from 1 to {limit}."
MSG_DUPLICATE_DIMENSION = "Dimension '{name}' is listed twice."

ALIAS_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAX_VALUE_LENGTH = 256
OLDEST_DATA_DAYS = 1095  # the longest retention (llm_metrics_1day)
# Nothing is stored more than a day ahead; the bound keeps bucket arithmetic far from year 9999.
LATEST_END_DAYS = 366


class QueryValidationError(Exception):
    """Every problem found in a request, as [{field, message}]."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__(details[0]["message"] if details else "invalid query")
        self.details = details


@dataclass(frozen=True, slots=True)
class MetricRequest:
    metric: Metric
    aggregation: str | None  # None for computed metrics
    alias: str

    @property
    def value_kind(self) -> str:
        """How answers carry the value: 'decimal' (money, exact), 'int' (counts) or 'float'."""
        unit = self.metric.unit
        if unit == "usd":
            return "decimal"
        if unit in ("requests", "count") or (unit == "tokens" and self.aggregation != "avg"):
            return "int"
        return "float"


@dataclass(frozen=True, slots=True)
class Filter:
    dimension: Dimension
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Having:
    request: MetricRequest  # the metric × aggregation compared (alias is internal)
    operator: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Sort:
    field: str  # an output column: alias, dimension name or 'timestamp'
    descending: bool


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    org_id: int
    metrics: tuple[MetricRequest, ...]
    start: datetime
    end: datetime
    interval: Interval | None  # None: one row per group over the whole range
    timezone: str
    group_by: tuple[Dimension, ...] = ()
    filters: tuple[Filter, ...] = ()
    having: tuple[Having, ...] = ()
    sort: Sort | None = None
    limit: int = 10_000
    fill_zero: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)

    @property
    def dimensions_used(self) -> set[str]:
        return {d.name for d in self.group_by} | {f.dimension.name for f in self.filters}

    def cache_identity(self) -> tuple[Any, ...]:
        """Everything that determines the answer; equal queries give equal tuples."""
        return (
            self.org_id,
            tuple((r.metric.name, r.aggregation, r.alias) for r in self.metrics),
            self.start.isoformat(),
            self.end.isoformat(),
            self.interval.name if self.interval else None,
            self.timezone,
            tuple(d.name for d in self.group_by),
            tuple(sorted((f.dimension.name, f.operator, tuple(sorted(f.values))) for f in self.filters)),
            tuple((h.request.metric.name, h.request.aggregation, h.operator, str(h.value)) for h in self.having),
            (self.sort.field, self.sort.descending) if self.sort else None,
            self.limit,
            self.fill_zero,
        )


# ---- parsing helpers -------------------------------------------------------------------------


class Problems:
    """Collects [{field, message}] while parsing; raise() if any."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.details.append({"field": field_name, "message": message})

    def raise_if_any(self) -> None:
        if self.details:
            raise QueryValidationError(self.details)


def valid_list(names: Any) -> str:
    return ", ".join(names)


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_iso_time(value.strip()) if isinstance(value, str) else None


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_timezone(value: Any, problems: Problems, field_name: str = "timezone") -> str:
    name = value or "UTC"
    if not isinstance(name, str) or (name != "UTC" and name not in _time_zones()):
        problems.add(field_name, "Unknown time zone; use an IANA name such as Europe/Berlin or UTC.")
        return "UTC"
    return name


def _optional_time(value: Any, problems: Problems, field_name: str) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_time(value)
    if parsed is None:
        problems.add(field_name, MSG_TIME)
    return parsed


def parse_range(
    start_value: Any, end_value: Any, problems: Problems, *, now: datetime, required: bool = False
) -> tuple[datetime, datetime]:
    """[start, end); by default the 24 hours up to the end of the current minute."""
    if required:
        for name, value in (("start_time", start_value), ("end_time", end_value)):
            if value in (None, ""):
                problems.add(name, MSG_REQUIRED)
    # Rounded up to the minute: default ranges then align with the rollups and cache well.
    end = _optional_time(end_value, problems, "end_time") or (now + timedelta(minutes=1)).replace(
        second=0, microsecond=0
    )
    start = _optional_time(start_value, problems, "start_time") or end - timedelta(hours=24)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    limits = catalog.limits()
    if start >= end:
        problems.add("start_time", MSG_START_AFTER_END)
    elif end - start > timedelta(days=limits["max_range_days"]):
        problems.add("start_time", MSG_RANGE_TOO_LONG.format(days=limits["max_range_days"]))
    if start < now - timedelta(days=OLDEST_DATA_DAYS):
        problems.add("start_time", MSG_BEYOND_RETENTION.format(days=OLDEST_DATA_DAYS))
    if end > now + timedelta(days=LATEST_END_DAYS):
        problems.add("end_time", MSG_TOO_FAR_AHEAD.format(days=LATEST_END_DAYS))
    return start, end


def parse_interval(
    value: Any, start: datetime, end: datetime, problems: Problems, *, allow_none: bool = False
) -> Interval | None:
    if value is None and allow_none:
        return None
    name = value or "1hour"
    if not isinstance(name, str) or name not in catalog.INTERVAL_CHOICES:
        problems.add(
            "interval", MSG_UNKNOWN.format(kind="interval", name=name, valid=valid_list(catalog.INTERVAL_CHOICES))
        )
        return catalog.INTERVALS["1hour"]
    seconds = max(1.0, (end - start).total_seconds())
    if name == catalog.AUTO_INTERVAL:
        for interval in catalog.INTERVALS.values():
            if seconds / interval.nominal_seconds <= catalog.AUTO_MAX_BUCKETS:
                return interval
        return catalog.INTERVALS["1month"]
    interval = catalog.INTERVALS[name]
    buckets = int(seconds // interval.nominal_seconds) + 1
    limit = catalog.limits()["max_buckets"]
    if buckets > limit:
        problems.add("interval", MSG_TOO_MANY_BUCKETS.format(count=buckets, limit=limit))
    return interval


def parse_metric(
    name: Any, aggregation: Any, alias: Any, problems: Problems, field_name: str, *, strict: bool = True
) -> MetricRequest | None:
    """A metric × aggregation; `strict=False` ignores an aggregation a metric cannot take (GET's shared one)."""
    if not isinstance(name, str) or name not in catalog.METRICS:
        problems.add(
            field_name, MSG_UNKNOWN.format(kind="metric", name=str(name)[:64], valid=valid_list(catalog.METRICS))
        )
        return None
    metric = catalog.METRICS[name]
    chosen = aggregation if aggregation not in (None, "") else metric.default_aggregation
    if metric.computed:
        if aggregation not in (None, "") and strict:
            problems.add(field_name, MSG_NO_AGGREGATION.format(metric=name))
        chosen = None
    elif chosen not in metric.aggregations:
        if strict or aggregation not in catalog.AGGREGATIONS:
            valid = valid_list(metric.aggregations)
            problems.add(field_name, MSG_BAD_AGGREGATION.format(aggregation=str(chosen)[:32], metric=name, valid=valid))
            return None
        chosen = metric.default_aggregation
    label = alias if alias not in (None, "") else name
    return MetricRequest(metric=metric, aggregation=chosen, alias=label)


def parse_dimensions(values: Any, problems: Problems, field_name: str = "group_by") -> tuple[Dimension, ...]:
    if values in (None, ""):
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.add(field_name, "Must be a list of dimension names.")
        return ()
    dimensions: list[Dimension] = []
    for value in values:
        if value not in catalog.DIMENSIONS:
            problems.add(
                field_name, MSG_UNKNOWN.format(kind="dimension", name=value[:64], valid=valid_list(catalog.DIMENSIONS))
            )
        elif catalog.DIMENSIONS[value] in dimensions:
            problems.add(field_name, MSG_DUPLICATE_DIMENSION.format(name=value))
        else:
            dimensions.append(catalog.DIMENSIONS[value])
    if len(dimensions) > catalog.limits()["max_group_by"]:
        problems.add(
            field_name, MSG_TOO_MANY.format(limit=catalog.limits()["max_group_by"], what="group-by dimensions")
        )
    return tuple(dimensions)


def parse_filter(
    dimension_name: Any, operator: Any, value: Any, problems: Problems, field_name: str, value_field: str | None = None
) -> Filter | None:
    """A filter; errors about the value go to `value_field` (GET names the parameter itself)."""
    value_field = value_field or f"{field_name}.value"
    if not isinstance(dimension_name, str) or dimension_name not in catalog.DIMENSIONS:
        valid = valid_list(catalog.DIMENSIONS)
        problems.add(
            f"{field_name}.dimension", MSG_UNKNOWN.format(kind="dimension", name=str(dimension_name)[:64], valid=valid)
        )
        return None
    if not isinstance(operator, str) or operator not in catalog.FILTER_OPERATORS:
        valid = valid_list(catalog.FILTER_OPERATORS)
        problems.add(
            f"{field_name}.operator", MSG_UNKNOWN.format(kind="operator", name=str(operator)[:32], valid=valid)
        )
        return None
    limit = catalog.limits()["max_filter_values"]
    if operator in catalog.LIST_OPERATORS:
        ok = isinstance(value, list) and 1 <= len(value) <= limit
        values = tuple(value) if ok else ()
        if not ok:
            problems.add(value_field, MSG_FILTER_LIST.format(operator=operator, limit=limit))
            return None
    else:
        values = (value,)
    if not all(isinstance(v, str) and len(v) <= MAX_VALUE_LENGTH for v in values):
        problems.add(value_field, MSG_FILTER_VALUE)
        return None
    values = tuple(storable(v) for v in values)  # as ingest stored them
    dimension = catalog.DIMENSIONS[dimension_name]
    if dimension.name == "status_code" and operator in ("eq", "ne", "in", "not_in"):
        values = tuple(v.upper() for v in values)
        if not set(values) <= set(catalog.STATUS_VALUES):
            problems.add(value_field, MSG_STATUS_VALUE)
            return None
    return Filter(dimension=dimension, operator=operator, values=values)


def parse_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_limit(value: Any, problems: Problems, default: int) -> int:
    maximum = catalog.limits()["max_rows"]
    if value in (None, ""):
        return min(default, maximum)
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if isinstance(value, bool) or not 1 <= limit <= maximum:
        problems.add("limit", MSG_LIMIT.format(limit=maximum))
        return min(default, maximum)
    return limit


def check_aliases(requests: list[MetricRequest], problems: Problems) -> None:
    seen: set[str] = set()
    reserved = set(catalog.DIMENSIONS) | {"timestamp", "bucket"}
    for index, request in enumerate(requests):
        where = f"metrics[{index}].alias"
        if not ALIAS_PATTERN.match(request.alias):
            problems.add(where, MSG_BAD_ALIAS)
        elif request.alias in reserved:
            problems.add(where, MSG_RESERVED_ALIAS.format(alias=request.alias))
        elif request.alias in seen:
            problems.add(where, MSG_DUPLICATE_ALIAS.format(alias=request.alias))
        seen.add(request.alias)
