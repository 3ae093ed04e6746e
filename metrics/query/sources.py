"""Which tables answer a query: one function decides rollup vs raw, and splits the range.

A query reads rollups when every dimension it uses is in them and their buckets nest inside
the requested buckets (time zone included). The range is then cut into segments: the
largest aligned middle from the coarsest usable rollup, the edges from finer ones, and
sub-minute edges (or anything past a rollup's retention) from raw spans. Every segment
yields the same partial aggregates, so the pieces add up exactly.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from metrics.query.spec import MetricsQuery
from metrics.rollups.measures import GRAINS_BY_NAME, Grain, smallest_rollup

RAW = "raw"
DATA_SOURCE_NAMES = {"1min": "aggregate_1min", "1hour": "aggregate_1hour", "1day": "aggregate_1day", RAW: "raw"}
ACTIVITY_SOURCE = "activity_1day"
LADDER = ("1day", "1hour", "1min")


@dataclass(frozen=True, slots=True)
class Segment:
    source: str  # a grain name, ACTIVITY_SOURCE or RAW
    start: datetime
    end: datetime
    table: str = ""  # for a grain: its rollup table with the fewest dimensions that holds every one used


def needs_raw(query: MetricsQuery) -> bool:
    """Dimensions the rollups do not hold (user, session) force raw spans."""
    return any(not _dimension_in_rollups(name) for name in query.dimensions_used)


def _dimension_in_rollups(name: str) -> bool:
    from metrics.query.catalog import DIMENSIONS

    return DIMENSIONS[name].in_rollups


def _offsets_are_multiples(query: MetricsQuery, seconds: int) -> bool:
    """Whether the time zone's UTC offset stays a multiple of `seconds` over the range."""
    if query.timezone == "UTC":
        return True
    zone = ZoneInfo(query.timezone)
    moment = query.start
    while moment <= query.end + timedelta(days=1):
        offset = moment.astimezone(zone).utcoffset() or timedelta(0)
        if offset.total_seconds() % seconds:
            return False
        moment += timedelta(hours=12)
    return True


def coarsest_nesting_grain(query: MetricsQuery) -> str | None:
    """The coarsest rollup grain whose buckets nest inside every requested bucket."""
    interval = query.interval
    if interval is None:
        return "1day"
    if interval.is_calendar:
        if query.timezone == "UTC" or _offsets_are_multiples(query, 86_400):
            return "1day"
        return "1hour" if _offsets_are_multiples(query, 3600) else "1min"
    seconds = interval.seconds or 60
    if seconds % 3600 == 0 and _offsets_are_multiples(query, 3600):
        return "1hour"
    if seconds % 60 == 0 and _offsets_are_multiples(query, 60):
        return "1min"
    return None


def _floor(moment: datetime, grain: Grain) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % grain.seconds, tz=UTC)


def _ceil(moment: datetime, grain: Grain) -> datetime:
    floored = _floor(moment, grain)
    return floored if floored == moment else floored + timedelta(seconds=grain.seconds)


def split(start: datetime, end: datetime, ladder: tuple[str, ...], now: datetime) -> list[Segment]:
    """[start, end) as aligned segments, coarsest first, with raw for whatever nothing else covers."""
    if start >= end:
        return []
    if not ladder:
        return [Segment(RAW, start, end)]
    grain = GRAINS_BY_NAME[ladder[0]]
    # A rollup answers only where it still has data (a day of margin before its retention cut).
    kept_from = now - timedelta(days=grain.retention_days - 1)
    middle_start = _ceil(max(start, kept_from), grain)
    middle_end = _floor(end, grain)
    if middle_start >= middle_end:
        return split(start, end, ladder[1:], now)
    return [
        Segment(grain.name, middle_start, middle_end),
        *split(start, middle_start, ladder[1:], now),
        *split(middle_end, end, ladder[1:], now),
    ]


def plan_totals(query: MetricsQuery) -> list[Segment]:
    """Segments answering counts, sums, min/max and sketches."""
    if needs_raw(query):
        return [Segment(RAW, query.start, query.end)]
    grain = coarsest_nesting_grain(query)
    if grain is None:
        return [Segment(RAW, query.start, query.end)]
    segments = split(query.start, query.end, LADDER[LADDER.index(grain) :], query.now)
    dimensions = query.dimensions_used
    return [s if s.source == RAW else replace(s, table=smallest_rollup(s.source, dimensions).table) for s in segments]


def uses_bitmaps(segments: list[Segment]) -> bool:
    return any(s.source in GRAINS_BY_NAME for s in segments)


def plan_uniques(query: MetricsQuery) -> list[Segment]:
    """Segments answering distinct users/sessions.

    With no dimension in play: the organization's hourly and daily identity bitmaps (grain
    segments), raw spans for the rest. Otherwise the daily activity rollups where whole UTC
    days nest, raw spans for the rest.
    """
    grain = coarsest_nesting_grain(query)
    if not query.dimensions_used and grain in ("1day", "1hour"):
        return split(query.start, query.end, LADDER[LADDER.index(grain) : 2], query.now)
    if needs_raw(query) or grain != "1day":
        return [Segment(RAW, query.start, query.end)]
    segments = split(query.start, query.end, ("1day",), query.now)
    return [Segment(ACTIVITY_SOURCE if s.source == "1day" else RAW, s.start, s.end) for s in segments]


def data_source(segments: list[Segment]) -> str:
    """The name reported in metadata: the coarsest table that answered."""
    for name in LADDER:
        if any(s.source == name for s in segments):
            return DATA_SOURCE_NAMES[name]
    return DATA_SOURCE_NAMES[RAW]
