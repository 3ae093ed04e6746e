"""What the rollups hold for each numeric span column; drives the models, the SQL and the tests.

Every measure keeps a count of the spans that carry a value, a sum, a min and a max, which
answer sum/avg/min/max/count exactly. Latency measures also keep a sum of squares (stddev)
and a quantile sketch (percentiles within 1 %, see metrics.sketch).
"""

from dataclasses import dataclass
from typing import Literal

# The rollup key besides org and bucket. Missing provider/model/environment are stored as ''.
ROLLUP_DIMENSIONS: tuple[str, ...] = ("provider", "model", "environment", "status_code")


@dataclass(frozen=True, slots=True)
class Measure:
    name: str  # column prefix in the rollup tables
    span_column: str  # column in llm_traces
    kind: Literal["latency", "additive"]
    numeric: bool  # NUMERIC (exact decimals) rather than BIGINT

    @property
    def columns(self) -> tuple[str, ...]:
        base = [f"{self.name}_count", f"{self.name}_sum"]
        if self.kind == "latency":
            base.append(f"{self.name}_sumsq")
        base += [f"{self.name}_min", f"{self.name}_max"]
        if self.kind == "latency":
            base += [f"{self.name}_sketch_keys", f"{self.name}_sketch_counts"]
        return tuple(base)


MEASURES: tuple[Measure, ...] = (
    Measure("duration", "duration_ms", "latency", numeric=True),
    Measure("ttft", "ttft_ms", "latency", numeric=True),
    Measure("prompt_tokens", "prompt_tokens", "additive", numeric=False),
    Measure("completion_tokens", "completion_tokens", "additive", numeric=False),
    Measure("total_tokens", "total_tokens", "additive", numeric=False),
    Measure("cache_read_tokens", "cache_read_tokens", "additive", numeric=False),
    Measure("cache_write_tokens", "cache_write_tokens", "additive", numeric=False),
    Measure("reasoning_tokens", "reasoning_tokens", "additive", numeric=False),
    Measure("prompt_cost", "prompt_cost", "additive", numeric=True),
    Measure("completion_cost", "completion_cost", "additive", numeric=True),
    Measure("total_cost", "total_cost", "additive", numeric=True),
)
MEASURES_BY_NAME = {measure.name: measure for measure in MEASURES}


@dataclass(frozen=True, slots=True)
class Grain:
    """One rollup table: its bucket width and how long its rows are kept."""

    name: str
    table: str
    date_trunc: str  # the PostgreSQL date_trunc unit, always applied in UTC
    seconds: int
    retention_days: int


GRAINS: tuple[Grain, ...] = (
    Grain("1min", "llm_metrics_1min", "minute", 60, 37),
    Grain("1hour", "llm_metrics_1hour", "hour", 3600, 210),
    Grain("1day", "llm_metrics_1day", "day", 86400, 1095),
)
GRAINS_BY_NAME = {grain.name: grain for grain in GRAINS}


@dataclass(frozen=True, slots=True)
class ActivityRollup:
    """Distinct users or sessions per UTC day and rollup key, with their span counts.

    Exact unique counts need the identities themselves; a day × key × identity table is
    far smaller than the raw spans for long ranges (each identity appears once per day and
    key however many calls it made) and answers count(DISTINCT ...) without touching them.
    Sub-day buckets read raw spans through the (org, user_id, ts) / (org, session_id, ts)
    indexes instead.
    """

    table: str
    span_column: str
    retention_days: int


ACTIVITY_ROLLUPS: tuple[ActivityRollup, ...] = (
    ActivityRollup("llm_users_1day", "user_id", 210),
    ActivityRollup("llm_sessions_1day", "session_id", 210),
)

# Every table derived from llm_traces, and llm_traces with them: what rebuilds, retention,
# the benchmark's reload and the tests' cleanup go over.
ROLLUP_TABLES: tuple[str, ...] = tuple(g.table for g in GRAINS) + tuple(a.table for a in ACTIVITY_ROLLUPS)
SPAN_TABLES: tuple[str, ...] = ("llm_traces", *ROLLUP_TABLES)
