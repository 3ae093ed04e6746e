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
    # An exact integer copy of the column in llm_traces, its value × 10**scale (a generated
    # column, migration 0021). Raw spans are aggregated through it: a bigint sum is a 128-bit
    # addition where a numeric one keeps an accumulator of decimal digits per group.
    scaled_column: str | None = None
    scale: int = 0

    def __post_init__(self) -> None:
        # A sum of squares (latency measures) would scale by the square.
        assert self.scaled_column is None or self.kind == "additive", "only additive measures are scaled"

    @property
    def columns(self) -> tuple[str, ...]:
        base = [f"{self.name}_count", f"{self.name}_sum"]
        if self.kind == "latency":
            base.append(f"{self.name}_sumsq")
        base += [f"{self.name}_min", f"{self.name}_max"]
        if self.kind == "latency":
            base += [f"{self.name}_sketch_keys", f"{self.name}_sketch_counts"]
        return tuple(base)


# How partial aggregates of the same column combine across rows (rollup rows, fold deltas,
# query segments): the column suffix → the SQL aggregate that merges it.
PARTIAL_MERGE: dict[str, str] = {"count": "sum", "sum": "sum", "sumsq": "sum", "min": "min", "max": "max"}

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
    Measure("total_cost", "total_cost", "additive", numeric=True, scaled_column="total_cost_scaled", scale=10),
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
class Rollup:
    """One table of aggregates: a grain and the dimensions its rows are keyed by.

    Each grain has the full table (every rollup dimension); the hour and the day also have a
    totals table (none: a question that groups or filters by nothing reads ~one row per bucket
    instead of one per provider × model × environment × status), a models table (provider and
    model: "percentiles per model" reads one row per bucket and model instead of one per
    environment and status) and a models-by-environment table (the same question "in
    production": one row instead of one per status). The models tables keep each row's
    quantiles ready. A question reads the table of its grain with the fewest dimensions that
    holds every one it groups or filters by. Every table carries error_count, so error rates
    need no status_code key.
    """

    table: str
    grain: Grain
    dimensions: tuple[str, ...]
    # Each latency measure's quantiles at STORED_QUANTILES, kept beside its sketch in
    # `<measure>_quantiles`: an answer row made of one such row reads them instead of the sketch.
    stores_quantiles: bool = False

    @property
    def quantile_measures(self) -> tuple[Measure, ...]:
        """The measures whose quantiles this table stores."""
        return tuple(m for m in MEASURES if m.kind == "latency") if self.stores_quantiles else ()


# The levels stored, ascending (the order sketch_quantiles walks them in): every percentile the
# catalog offers today. Stored rows hold one value per level in this order, so changing it needs
# a migration recomputing them; a level asked for but not stored is answered from the sketches.
STORED_QUANTILES: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999)
STORED_QUANTILES_SQL = "'{" + ",".join(map(repr, STORED_QUANTILES)) + "}'::float8[]"

ROLLUPS: tuple[Rollup, ...] = (
    *(Rollup(grain.table, grain, ROLLUP_DIMENSIONS) for grain in GRAINS),
    Rollup("llm_totals_1hour", GRAINS_BY_NAME["1hour"], ()),
    Rollup("llm_totals_1day", GRAINS_BY_NAME["1day"], ()),
    Rollup("llm_models_1hour", GRAINS_BY_NAME["1hour"], ("provider", "model"), stores_quantiles=True),
    Rollup("llm_models_1day", GRAINS_BY_NAME["1day"], ("provider", "model"), stores_quantiles=True),
    Rollup(
        "llm_models_env_1hour", GRAINS_BY_NAME["1hour"], ("provider", "model", "environment"), stores_quantiles=True
    ),
    Rollup("llm_models_env_1day", GRAINS_BY_NAME["1day"], ("provider", "model", "environment"), stores_quantiles=True),
)

ROLLUPS_BY_TABLE = {rollup.table: rollup for rollup in ROLLUPS}


def smallest_rollup(grain_name: str, dimensions: set[str]) -> Rollup:
    """The rollup of that grain with the fewest dimensions that still holds every one asked for."""
    usable = [r for r in ROLLUPS if r.grain.name == grain_name and dimensions <= set(r.dimensions)]
    return min(usable, key=lambda r: len(r.dimensions))


@dataclass(frozen=True, slots=True)
class ActivityRollup:
    """Which users or sessions were seen per UTC day and rollup key (presence only).

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


@dataclass(frozen=True, slots=True)
class IdentityBitmap:
    """The users or sessions seen per UTC hour or day in a whole organization, as bitmaps.

    Each identity gets a small dense number per organization (llm_identities); a bucket's
    bitmaps say which numbers were seen in it. Unique counts over any union of buckets are
    then exact and cheap: OR the bitmaps, count the ones. A 30-day range of 200,000 sessions
    is ~30 × 7 bitmaps of 4 kB instead of millions of (day, session) rows. Only questions that
    group and filter by nothing can use them; the others read the activity rollups or raw spans.

    A bucket keeps one row per chunk of BITMAP_CHUNK_BITS numbers it has seen (number n is bit
    n % BITMAP_CHUNK_BITS of chunk n // BITMAP_CHUNK_BITS), so its bitmaps cover the numbers
    it saw rather than every number the organization ever gave (migration 0018).
    """

    table: str
    span_column: str
    grain: Grain


# Numbers only grow: one bitmap per bucket grew as long as the organization's count of sessions
# ever seen, and every fold rewrote it (migration 0018 has the figures). 32,768 bits are 4 kB,
# stored in the row without compression (toast_tuple_target 8160, as the rollups since 0017).
BITMAP_CHUNK_BITS = 32_768


def chunk_and_bit_sql(number: str) -> tuple[str, str]:
    """SQL for the chunk of identity number `number` and its bit within that chunk (mod(), not %:
    the statements carry %-style parameters). Numbers are bigint; both results are integers, as
    the chunk column is and as get_bit() and repeat() take them."""
    return f"({number} / {BITMAP_CHUNK_BITS})::integer", f"mod({number}, {BITMAP_CHUNK_BITS})::integer"


IDENTITY_BITMAPS: tuple[IdentityBitmap, ...] = tuple(
    IdentityBitmap(f"llm_{noun}_bitmap_{grain}", column, GRAINS_BY_NAME[grain])
    for noun, column in (("users", "user_id"), ("sessions", "session_id"))
    for grain in ("1hour", "1day")
)
IDENTITY_COLUMNS: tuple[str, ...] = ("user_id", "session_id")


def identity_bitmap(span_column: str, grain_name: str) -> IdentityBitmap:
    return next(b for b in IDENTITY_BITMAPS if b.span_column == span_column and b.grain.name == grain_name)


@dataclass(frozen=True, slots=True)
class ErrorRollup:
    """Failed spans per hour or UTC day, by provider, model, environment and error type.

    Holds how many failed and one sample message (the smallest, so the same whatever the
    arrival order): the summary's "most common errors" without reading every failed span.
    A missing error type is stored as ''.
    """

    table: str
    grain: Grain


ERROR_DIMENSIONS: tuple[str, ...] = ("provider", "model", "environment", "error_type")
ERROR_ROLLUPS: tuple[ErrorRollup, ...] = (
    ErrorRollup("llm_errors_1hour", GRAINS_BY_NAME["1hour"]),
    ErrorRollup("llm_errors_1day", GRAINS_BY_NAME["1day"]),
)
ERROR_ROLLUPS_BY_GRAIN = {rollup.grain.name: rollup for rollup in ERROR_ROLLUPS}

# Every table derived from llm_traces, and llm_traces with them: what rebuilds, retention,
# the benchmark's reload and the tests' cleanup go over.
ROLLUP_TABLES: tuple[str, ...] = (
    *(r.table for r in ROLLUPS),
    *(a.table for a in ACTIVITY_ROLLUPS),
    *(b.table for b in IDENTITY_BITMAPS),
    *(e.table for e in ERROR_ROLLUPS),
)
SPAN_TABLES: tuple[str, ...] = ("llm_traces", *ROLLUP_TABLES, "llm_identities", "llm_identity_counters")
# How many days each of them keeps (retention deletes older buckets; queries stop reading a
# table a day before that).
ROLLUP_RETENTION_DAYS: dict[str, int] = {
    **{r.table: r.grain.retention_days for r in ROLLUPS},
    **{a.table: a.retention_days for a in ACTIVITY_ROLLUPS},
    **{b.table: b.grain.retention_days for b in IDENTITY_BITMAPS},
    **{e.table: e.grain.retention_days for e in ERROR_ROLLUPS},
}
