"""SQL for a validated MetricsQuery: identifiers only from the catalog, values only as parameters.

Every segment (rollup table or raw spans, see sources.py) yields the same partial aggregates
per (bucket, group): request and error counts, and per measure count, sum, sum of squares,
min and max. `totals` merges them; distinct counts come from the daily activity rollups or
raw spans; percentiles exactly from percentile_disc on the raw path, else as sketch arrays
that the runner merges. The final SELECT computes each metric from those columns and applies
HAVING, ORDER and LIMIT, unless sketch percentiles are involved (then the runner does, after
merging). The organization predicate is added here, to every table read, never by callers.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metrics.query import catalog
from metrics.query.sources import ACTIVITY_SOURCE, RAW, Segment, uses_bitmaps
from metrics.query.spec import Filter, MetricRequest, MetricsQuery
from metrics.rollups.measures import GRAINS_BY_NAME, MEASURES_BY_NAME, identity_bitmap

ACTIVITY_TABLES = {"user_id": "llm_users_1day", "session_id": "llm_sessions_1day"}


@dataclass
class Params:
    """Named query parameters; `add` returns the placeholder."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


@dataclass(frozen=True)
class BuiltQuery:
    sql: str
    params: dict[str, Any]
    columns: tuple[str, ...]  # output columns after bucket and dimensions: the metric aliases
    # Set when percentiles come from sketches: the runner merges them, then applies HAVING, ORDER and LIMIT.
    finish_in_python: bool = False


# ---- what the metrics need -----------------------------------------------------------------------


def _requests(query: MetricsQuery) -> list[MetricRequest]:
    return [*query.metrics, *(h.request for h in query.having)]


def needed_measures(query: MetricsQuery) -> list[str]:
    names = {r.metric.measure for r in _requests(query) if r.metric.measure}
    return sorted(names)


def needed_percentiles(query: MetricsQuery) -> dict[str, set[str]]:
    """measure → percentile aggregations asked of it."""
    result: dict[str, set[str]] = {}
    for request in _requests(query):
        if request.aggregation in catalog.PERCENTILES and request.metric.measure:
            result.setdefault(request.metric.measure, set()).add(request.aggregation)
    return result


def needed_identities(query: MetricsQuery) -> list[str]:
    return sorted({r.metric.identity for r in _requests(query) if r.metric.identity})


def needs_errors(query: MetricsQuery) -> bool:
    return any(
        r.metric.name in ("error_count", "success_count", "error_rate", "success_rate") for r in _requests(query)
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


def _where(query: MetricsQuery, alias: str, time_column: str, segment: Segment, params: Params) -> str:
    conditions = [
        f"{alias}.org_id = {params.add(query.org_id)}",
        f"{alias}.{time_column} >= {params.add(segment.start)}",
        f"{alias}.{time_column} < {params.add(segment.end)}",
        *filter_conditions(query.filters, alias, params),
    ]
    return " AND ".join(conditions)


def _group_columns(query: MetricsQuery, alias: str) -> list[str]:
    # user_id/session_id may be NULL; '' stands for "none" so that CTEs join on plain equality
    # (the runner reports '' as null, as it does for an unknown provider or environment).
    return [
        f"{alias}.{d.column} AS {d.name}" if d.in_rollups else f"coalesce({alias}.{d.column}, '') AS {d.name}"
        for d in query.group_by
    ]


def _group_positions(query: MetricsQuery, extra: int = 0) -> str:
    return ", ".join(str(i) for i in range(1, 2 + len(query.group_by) + extra))


# ---- partial aggregates per segment --------------------------------------------------------------


def _measure_merges(measures: list[str], source: str) -> list[str]:
    """Adds up partial aggregates: rollup columns (source 'r.') or earlier partials (source '')."""
    columns = []
    for name in measures:
        columns += [f"sum({source}{name}_count) AS {name}_count", f"sum({source}{name}_sum) AS {name}_sum"]
        if MEASURES_BY_NAME[name].kind == "latency":
            columns.append(f"sum({source}{name}_sumsq) AS {name}_sumsq")
        columns += [f"min({source}{name}_min) AS {name}_min", f"max({source}{name}_max) AS {name}_max"]
    return columns


def _rollup_partials(query: MetricsQuery, measures: list[str]) -> list[str]:
    parts = ["sum(r.request_count) AS request_count"]
    if needs_errors(query):
        parts.append("sum(r.error_count) AS error_count")
    return parts + _measure_merges(measures, "r.")


def _raw_partials(query: MetricsQuery, measures: list[str]) -> list[str]:
    parts = ["count(*) AS request_count"]
    if needs_errors(query):
        parts.append("count(*) FILTER (WHERE t.status_code = 'ERROR') AS error_count")
    for name in measures:
        column = f"t.{MEASURES_BY_NAME[name].span_column}"
        parts += [f"count({column}) AS {name}_count", f"sum({column}) AS {name}_sum"]
        if MEASURES_BY_NAME[name].kind == "latency":
            parts.append(f"sum({column} * {column}) AS {name}_sumsq")
        parts += [f"min({column}) AS {name}_min", f"max({column}) AS {name}_max"]
    return parts


def segment_sql(query: MetricsQuery, segment: Segment, measures: list[str], params: Params) -> str:
    if segment.source == RAW:
        alias, table, time_column, partials = "t", "llm_traces", "ts", _raw_partials(query, measures)
    else:
        alias, table, time_column = "r", segment.table, "bucket"
        partials = _rollup_partials(query, measures)
    select = [f"{bucket_expression(query, f'{alias}.{time_column}', params)} AS bucket"]
    select += _group_columns(query, alias) + partials
    where = _where(query, alias, time_column, segment, params)
    return f"SELECT {', '.join(select)} FROM {table} {alias} WHERE {where} GROUP BY {_group_positions(query)}"


def whole_sketch_arrays(query: MetricsQuery, segments: list[Segment]) -> bool:
    """Whether each answer row gathers few rollup rows, so their sketch arrays can be concatenated whole.

    Concatenating arrays (array_cat_agg) is the cheapest transport when an answer row merges a
    few rollup rows (1hour buckets from the hourly rollup, days from the daily one), but it is
    quadratic in the rows per group; long buckets or whole-range totals send (key, count)
    elements instead, gathered linearly with array_agg.
    """
    if query.interval is None:
        return False
    grains = [GRAINS_BY_NAME[s.source].seconds for s in segments if s.source in GRAINS_BY_NAME]
    return bool(grains) and query.interval.nominal_seconds / max(grains) <= 24


def sketch_parts_sql(query: MetricsQuery, segment: Segment, measure: str, params: Params, whole: bool) -> str:
    """One measure's sketch from a segment: (bucket, group, keys[], counts[]) rows when `whole`,
    else (bucket, group, k, c) element rows."""

    def group_select(alias: str, column: str) -> str:
        bucket = f"{bucket_expression(query, f'{alias}.{column}', params)} AS bucket"
        return ", ".join([bucket, *_group_columns(query, alias)])

    if segment.source == RAW:
        column = f"t.{MEASURES_BY_NAME[measure].span_column}"
        where = _where(query, "t", "ts", segment, params) + f" AND {column} IS NOT NULL"
        keyed = f"sketch_key({column}) AS k, 1::bigint AS c"
        elements = f"SELECT {group_select('t', 'ts')}, {keyed} FROM llm_traces t WHERE {where}"
        if not whole:
            return elements
        group = ", ".join(["bucket", *(d.name for d in query.group_by)])
        return f"SELECT {group}, array_agg(k) AS k, array_agg(c) AS c FROM ({elements}) AS e GROUP BY {group}"
    table = segment.table
    where = _where(query, "r", "bucket", segment, params)
    if whole:
        arrays = f"r.{measure}_sketch_keys AS k, r.{measure}_sketch_counts AS c"
        return f"SELECT {group_select('r', 'bucket')}, {arrays} FROM {table} r WHERE {where}"
    unnest = f"unnest(r.{measure}_sketch_keys, r.{measure}_sketch_counts) AS u(k, c)"
    return f"SELECT {group_select('r', 'bucket')}, u.k, u.c FROM {table} r CROSS JOIN LATERAL {unnest} WHERE {where}"


def exact_percentile_ctes(query: MetricsQuery, segment: Segment, params: Params) -> list[tuple[str, str]]:
    """Raw path: percentile_disc over the values themselves (exact)."""
    ctes = []
    for measure, aggregations in sorted(needed_percentiles(query).items()):
        column = f"t.{MEASURES_BY_NAME[measure].span_column}"
        select = [f"{bucket_expression(query, 't.ts', params)} AS bucket", *_group_columns(query, "t")]
        for aggregation in sorted(aggregations):
            q = params.add(catalog.PERCENTILES[aggregation])
            select.append(f"percentile_disc({q}::float8) WITHIN GROUP (ORDER BY {column}) AS {measure}_{aggregation}")
        where = _where(query, "t", "ts", segment, params) + f" AND {column} IS NOT NULL"
        sql = f"SELECT {', '.join(select)} FROM llm_traces t WHERE {where} GROUP BY {_group_positions(query)}"
        ctes.append((f"pct_{measure}", sql))
    return ctes


def sketch_percentiles(segments: list[Segment]) -> bool:
    """Percentiles come from sketches unless raw spans answer alone (then they are exact, in SQL)."""
    return [s.source for s in segments] != [RAW]


def percentile_ctes(query: MetricsQuery, segments: list[Segment], params: Params) -> list[tuple[str, str]]:
    """Per measure with percentiles: exact percentile_disc on raw spans, else the concatenated sketches."""
    if not sketch_percentiles(segments):
        return exact_percentile_ctes(query, segments[0], params)
    ctes = []
    group = ", ".join(["bucket", *(d.name for d in query.group_by)])
    whole = whole_sketch_arrays(query, segments)
    gather = "array_cat_agg" if whole else "array_agg"
    for measure in sorted(needed_percentiles(query)):
        parts = " UNION ALL ".join(sketch_parts_sql(query, s, measure, params, whole) for s in segments)
        # The keys and counts of each answer row travel as two arrays; the application merges them
        # and finds the quantiles (percentiles.batch_quantiles), far cheaper than hashing or sorting
        # every key and running window functions in SQL.
        sql = (
            f"SELECT {group}, array_send({gather}(k)) AS _{measure}_keys,"
            f" array_send({gather}(c)) AS _{measure}_counts"
            f" FROM ({parts}) AS parts GROUP BY {group}"
        )
        ctes.append((f"pct_{measure}", sql))
    return ctes


def bitmap_unique_sql(query: MetricsQuery, segments: list[Segment], identity: str, params: Params) -> str:
    """Distinct identities per bucket from the organization's bitmaps, plus raw spans for the edges.

    The bitmaps of each answer bucket are ORed; identities seen in raw edge spans count only
    when their bit is not already set (their numbers come from llm_identities).
    """
    bitmaps, edges = [], []
    for segment in segments:
        if segment.source == RAW:
            bucket = bucket_expression(query, "t.ts", params)
            identities = f"llm_identities i ON i.org_id = t.org_id AND i.kind = '{identity}' AND i.value = t.{identity}"
            where = _where(query, "t", "ts", segment, params)
            edges.append(f"SELECT {bucket} AS bucket, i.ordinal FROM llm_traces t JOIN {identities} WHERE {where}")
        else:
            table = identity_bitmap(identity, segment.source).table
            bucket = bucket_expression(query, "b.bucket", params)
            where = _where(query, "b", "bucket", segment, params)
            bitmaps.append(f"SELECT {bucket} AS bucket, b.bits FROM {table} b WHERE {where}")
    union = (
        f"SELECT bucket, bitmap_union(bits) AS bits FROM ({' UNION ALL '.join(bitmaps)}) AS parts GROUP BY bucket"
        if bitmaps
        else "SELECT NULL::timestamptz AS bucket, NULL::varbit AS bits WHERE false"
    )
    seen = (
        f"SELECT DISTINCT bucket, ordinal FROM ({' UNION ALL '.join(edges)}) AS parts"
        if edges
        else "SELECT NULL::timestamptz AS bucket, NULL::integer AS ordinal WHERE false"
    )
    not_in_bitmap = "b.bits IS NULL OR e.ordinal >= length(b.bits) OR get_bit(b.bits, e.ordinal) = 0"
    return (
        f"SELECT bucket, coalesce(max(bit_count(b.bits)), 0) + count(e.ordinal) FILTER (WHERE {not_in_bitmap})"
        f" AS unique_{identity} FROM ({union}) AS b FULL JOIN ({seen}) AS e USING (bucket) GROUP BY bucket"
    )


def unique_ctes(query: MetricsQuery, segments: list[Segment], params: Params) -> list[tuple[str, str]]:
    if uses_bitmaps(segments):
        return [(f"uniq_{i}", bitmap_unique_sql(query, segments, i, params)) for i in needed_identities(query)]
    ctes = []
    group = ", ".join(["bucket", *(d.name for d in query.group_by)])
    for identity in needed_identities(query):
        parts = []
        for segment in segments:
            if segment.source == ACTIVITY_SOURCE:
                alias, table, time_column = "a", ACTIVITY_TABLES[identity], "bucket"
            else:
                alias, table, time_column = "t", "llm_traces", "ts"
            select = [f"{bucket_expression(query, f'{alias}.{time_column}', params)} AS bucket"]
            select += _group_columns(query, alias) + [f"{alias}.{identity} AS identity"]
            where = _where(query, alias, time_column, segment, params) + f" AND {alias}.{identity} IS NOT NULL"
            parts.append(f"SELECT {', '.join(select)} FROM {table} {alias} WHERE {where}")
        # DISTINCT in a subquery is hashed; count(DISTINCT ...) always sorts (2-3x slower here).
        sql = (
            f"SELECT {group}, count(*) AS unique_{identity}"
            f" FROM (SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) AS ids) AS distinct_ids GROUP BY {group}"
        )
        ctes.append((f"uniq_{identity}", sql))
    return ctes


# ---- metric expressions over the merged partials -------------------------------------------------


def metric_expression(request: MetricRequest, query: MetricsQuery, params: Params) -> str:
    metric, aggregation = request.metric, request.aggregation
    errors = "coalesce(a.error_count, 0)"
    if metric.kind == "count":
        return {
            "request_count": "a.request_count",
            "error_count": errors,
            "success_count": f"a.request_count - {errors}",
        }[metric.name]
    if metric.kind == "rate":
        numerator = errors if metric.name == "error_rate" else f"a.request_count - {errors}"
        return f"({numerator})::numeric / nullif(a.request_count, 0)"
    if metric.kind == "throughput":
        return f"a.request_count::numeric / nullif({bucket_seconds_expression(query, params)}, 0)"
    if metric.kind == "unique":
        return f"coalesce(a.unique_{metric.identity}, 0)"
    name = metric.measure
    if aggregation == "sum":
        return f"coalesce(a.{name}_sum, 0)"
    if aggregation == "avg":
        return f"a.{name}_sum::numeric / nullif(a.{name}_count, 0)"
    if aggregation in ("min", "max"):
        return f"a.{name}_{aggregation}"
    if aggregation == "count":
        return f"coalesce(a.{name}_count, 0)"
    if aggregation == "stddev":
        n, s, ss = f"a.{name}_count", f"a.{name}_sum", f"a.{name}_sumsq"
        return f"CASE WHEN {n} > 1 THEN sqrt(greatest(0, ({ss} - {s} * {s} / {n}) / ({n} - 1))) END"
    return f"a.{name}_{aggregation}"  # a percentile


# ---- the whole statement -------------------------------------------------------------------------


def _merge_columns(query: MetricsQuery, measures: list[str]) -> list[str]:
    columns = ["sum(request_count) AS request_count"]
    if needs_errors(query):
        columns.append("sum(error_count) AS error_count")
    return columns + _measure_merges(measures, "")


def _order_by(query: MetricsQuery) -> str:
    dims = [d.name for d in query.group_by]
    natural = (["bucket"] if query.interval else []) + [f"{d} NULLS FIRST" for d in dims]
    if query.sort is None:
        return ", ".join(natural) or "1"
    field = "bucket" if query.sort.field == "timestamp" else f'"{query.sort.field}"'
    direction = "DESC NULLS LAST" if query.sort.descending else "ASC NULLS LAST"
    return ", ".join([f"{field} {direction}", *natural])


def metric_select(request: MetricRequest, query: MetricsQuery, params: Params, sketched: bool) -> str:
    if sketched and request.aggregation in catalog.PERCENTILES:
        return "NULL::float8"  # filled in by the runner from the sketch columns
    return metric_expression(request, query, params)


def build(query: MetricsQuery, totals: list[Segment], uniques: list[Segment]) -> BuiltQuery:
    params = Params()
    measures = needed_measures(query)
    group = ["bucket", *(d.name for d in query.group_by)]
    group_list = ", ".join(group)
    parts = [segment_sql(query, s, measures, params) for s in totals]
    merged = ", ".join(_merge_columns(query, measures))
    # One segment already has one row per group: no second aggregation over its rows.
    totals_sql = (
        parts[0]
        if len(parts) == 1
        else f"SELECT {group_list}, {merged} FROM ({' UNION ALL '.join(parts)}) AS parts GROUP BY {group_list}"
    )
    ctes = [("totals", totals_sql)]
    joins = []
    for name, sql in percentile_ctes(query, totals, params) + unique_ctes(query, uniques, params):
        ctes.append((name, sql))
        joins.append(f"LEFT JOIN {name} USING ({group_list})")
    sketched = sketch_percentiles(totals) and bool(needed_percentiles(query))
    outputs = [f'{metric_select(r, query, params, sketched)} AS "{r.alias}"' for r in query.metrics]
    with_clause = ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
    joined = f"(SELECT * FROM totals {' '.join(joins)}) AS a"
    columns = [f"a.{g}" for g in group] + outputs
    if sketched:
        columns += [f"a._{m}_keys, a._{m}_counts" for m in sorted(needed_percentiles(query))]
        columns += [
            f'{metric_select(h.request, query, params, sketched)} AS "_having_{i}"' for i, h in enumerate(query.having)
        ]
        sql = f"WITH {with_clause}\nSELECT {', '.join(columns)} FROM {joined}"
        return BuiltQuery(
            sql=sql, params=params.values, columns=tuple(r.alias for r in query.metrics), finish_in_python=True
        )
    having = [
        f"({metric_expression(h.request, query, params)}) {catalog.HAVING_OPERATORS[h.operator]} {params.add(h.value)}"
        for h in query.having
    ]
    where = f" WHERE {' AND '.join(having)}" if having else ""
    final = f"SELECT {', '.join(columns)} FROM {joined}{where}"
    limit = params.add(query.limit + 1)  # one more than asked tells whether the answer was truncated
    sql = f"WITH {with_clause}\nSELECT * FROM ({final}) AS result ORDER BY {_order_by(query)} LIMIT {limit}"
    return BuiltQuery(sql=sql, params=params.values, columns=tuple(r.alias for r in query.metrics))
