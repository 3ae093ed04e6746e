"""The metrics catalog, declared once: metrics, aggregations, dimensions, intervals, operators, limits.

Validation, the SQL builder, the OpenAPI enums and descriptions, /metrics/schema and the
tests all read these registries; adding a metric is adding one entry here.
"""

from dataclasses import dataclass
from typing import Literal

from django.conf import settings

# ---- aggregations ----------------------------------------------------------------------------
PERCENTILES: dict[str, float] = {
    "p50": 0.50,
    "p75": 0.75,
    "p90": 0.90,
    "p95": 0.95,
    "p99": 0.99,
    "p999": 0.999,
}
AGGREGATIONS: tuple[str, ...] = ("sum", "avg", "min", "max", "count", "stddev", *PERCENTILES)
AGGREGATION_CHOICES = [(name, name) for name in AGGREGATIONS]

COUNT_AGGREGATIONS = ("sum", "count")
LATENCY_AGGREGATIONS = ("avg", "min", "max", "count", "stddev", *PERCENTILES)
VALUE_AGGREGATIONS = ("sum", "avg", "min", "max", "count")

MetricKind = Literal["count", "latency", "value", "rate", "throughput", "unique"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric. `measure` names its columns in the rollups (see metrics.rollups.measures)."""

    name: str
    unit: str
    kind: MetricKind
    aggregations: tuple[str, ...]  # empty: computed, takes no aggregation
    default_aggregation: str | None
    description: str
    measure: str | None = None  # latency/value metrics: the rollup measure
    span_column: str | None = None  # latency/value metrics: the llm_traces column
    identity: str | None = None  # unique metrics: the llm_traces column counted distinctly

    @property
    def computed(self) -> bool:
        return not self.aggregations


def _value(name: str, unit: str, description: str, measure: str | None = None) -> Metric:
    return Metric(name, unit, "value", VALUE_AGGREGATIONS, "sum", description, measure or name, measure or name)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("request_count", "requests", "count", COUNT_AGGREGATIONS, "sum", "Number of LLM calls."),
        Metric(
            "duration",
            "ms",
            "latency",
            LATENCY_AGGREGATIONS,
            "avg",
            "Call duration in milliseconds.",
            "duration",
            "duration_ms",
        ),
        Metric(
            "time_to_first_token",
            "ms",
            "latency",
            LATENCY_AGGREGATIONS,
            "avg",
            "Time to the first streamed token, in milliseconds (streaming calls only).",
            "ttft",
            "ttft_ms",
        ),
        _value("total_cost", "usd", "Cost in USD (spans without a known price add nothing)."),
        _value("prompt_cost", "usd", "Input (prompt) cost in USD."),
        _value("completion_cost", "usd", "Output (completion) cost in USD."),
        _value("total_tokens", "tokens", "Prompt plus completion tokens."),
        _value("prompt_tokens", "tokens", "Input tokens, cache reads and writes included."),
        _value("completion_tokens", "tokens", "Output tokens, reasoning included."),
        _value("cache_read_tokens", "tokens", "Input tokens read from the provider's cache (part of prompt_tokens)."),
        _value("cache_write_tokens", "tokens", "Input tokens written to the provider's cache (part of prompt_tokens)."),
        _value("reasoning_tokens", "tokens", "Reasoning tokens (part of completion_tokens)."),
        Metric("error_count", "requests", "count", COUNT_AGGREGATIONS, "sum", "Calls with status ERROR."),
        Metric("success_count", "requests", "count", COUNT_AGGREGATIONS, "sum", "Calls with status OK or UNSET."),
        Metric("error_rate", "ratio", "rate", (), None, "error_count / request_count (0..1)."),
        Metric("success_rate", "ratio", "rate", (), None, "success_count / request_count (0..1)."),
        Metric("throughput", "rps", "throughput", (), None, "Requests per second over the bucket."),
        Metric("unique_users", "count", "unique", (), None, "Distinct user_id values.", identity="user_id"),
        Metric("unique_sessions", "count", "unique", (), None, "Distinct session_id values.", identity="session_id"),
    )
}
UNITS: tuple[str, ...] = ("ms", "usd", "tokens", "requests", "ratio", "rps", "count")


# ---- dimensions ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    column: str  # in llm_traces and, if in_rollups, in the rollup tables
    in_rollups: bool
    description: str


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("provider", "provider", True, "Normalised provider, e.g. openai, anthropic, google."),
        Dimension("model", "model", True, "Model name as reported by the provider."),
        Dimension("environment", "environment", True, "Deployment environment, e.g. production."),
        Dimension("status_code", "status_code", True, "OK, ERROR or UNSET."),
        Dimension("user_id", "user_id", False, "Your end user's id (read from raw spans)."),
        Dimension("session_id", "session_id", False, "Conversation or session id (read from raw spans)."),
    )
}
STATUS_VALUES = ("OK", "ERROR", "UNSET")

# Choice lists for the OpenAPI enums (named once in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
METRIC_CHOICES = [(name, name) for name in METRICS]
DIMENSION_CHOICES = [(name, name) for name in DIMENSIONS]

# ---- operators -------------------------------------------------------------------------------
FILTER_OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "contains", "starts_with")
LIST_OPERATORS = ("in", "not_in")
HAVING_OPERATORS: dict[str, str] = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}


# ---- intervals -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Interval:
    """A bucket width: fixed (seconds) or calendar (date_trunc unit, in the requested time zone)."""

    name: str
    seconds: int | None  # fixed-width intervals
    calendar_unit: str | None  # 'day', 'week' (Monday) or 'month'
    nominal_seconds: int  # for counting buckets and choosing `auto`

    @property
    def is_calendar(self) -> bool:
        return self.calendar_unit is not None


INTERVALS: dict[str, Interval] = {
    i.name: i
    for i in (
        Interval("1min", 60, None, 60),
        Interval("5min", 300, None, 300),
        Interval("15min", 900, None, 900),
        Interval("1hour", 3600, None, 3600),
        Interval("1day", None, "day", 86_400),
        Interval("1week", None, "week", 7 * 86_400),
        Interval("1month", None, "month", 31 * 86_400),
    )
}
AUTO_INTERVAL = "auto"
AUTO_MAX_BUCKETS = 300
INTERVAL_CHOICES: tuple[str, ...] = (*INTERVALS, AUTO_INTERVAL)


# ---- limits ----------------------------------------------------------------------------------
def limits() -> dict[str, int]:
    """SPEC §11, configurable through settings."""
    return {
        "max_range_days": settings.METRICS_MAX_RANGE_DAYS,
        "max_metrics": settings.METRICS_MAX_METRICS,
        "max_group_by": settings.METRICS_MAX_GROUP_BY,
        "max_rows": settings.METRICS_MAX_ROWS,
        "max_buckets": settings.METRICS_MAX_BUCKETS,
        "max_filters": settings.METRICS_MAX_FILTERS,
        "max_filter_values": settings.METRICS_MAX_FILTER_VALUES,
        "max_top_n": 50,
    }
