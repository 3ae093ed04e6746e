"""SQL for a validated MetricsQuery: identifiers only from the catalog, values only as parameters.

Every segment (rollup table or raw spans, see sources.py) yields the same partial aggregates
per (bucket, group): request and error counts, and per measure those of count, sum, sum of
squares, min and max that the asked aggregations need (sql_parts.needed_partials). `totals`
merges them; distinct counts come from identity bitmaps, the daily
activity rollups or raw spans (uniques.py); percentiles exactly from percentile_disc on the
raw path, else as sketch arrays that the runner merges. The final SELECT computes each metric
from those columns and applies HAVING, ORDER and LIMIT, unless sketch percentiles are involved
(then the runner does, after merging). The organization predicate is part of every WHERE
(sql_parts.where_sql), on every table read, never left to callers.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metrics.query import catalog
from metrics.query.percentiles import elements_sql
from metrics.query.sources import RAW, Segment
from metrics.query.spec import MetricRequest, MetricsQuery
from metrics.query.sql_parts import (
    Params,
    bucket_expression,
    bucket_seconds_expression,
    group_columns,
    group_positions,
    needed_partials,
    needed_percentiles,
    needs_errors,
    where_sql,
)
from metrics.query.uniques import unique_ctes
from metrics.rollups.measures import (
    GRAINS_BY_NAME,
    MEASURES_BY_NAME,
    PARTIAL_MERGE,
    ROLLUPS_BY_TABLE,
    STORED_QUANTILES,
    Measure,
)


@dataclass(frozen=True)
class BuiltQuery:
    sql: str
    params: dict[str, Any]
    # Set when percentiles come from sketches: the runner merges them, then applies HAVING, ORDER and LIMIT.
    finish_in_python: bool = False


# ---- partial aggregates per segment --------------------------------------------------------------


def _count_sum(column: str) -> str:
    # sum() of bigint is numeric, which arrives in Python as a Decimal (~0.5 µs a value to read);
    # a sum of span counts stays far below bigint's 9.2e18.
    return f"sum({column})::bigint"


def _merge(partial: str, column: str) -> str:
    return _count_sum(column) if partial == "count" else f"{PARTIAL_MERGE[partial]}({column})"


def _measure_merges(partials: dict[str, list[str]], source: str) -> list[str]:
    """Adds up partial aggregates: rollup columns (source 'r.') or earlier partials (source '')."""
    return [
        f"{_merge(partial, f'{source}{name}_{partial}')} AS {name}_{partial}"
        for name, parts in partials.items()
        for partial in parts
    ]


def _count_merges(query: MetricsQuery, source: str) -> list[str]:
    parts = [f"{_count_sum(f'{source}request_count')} AS request_count"]
    if needs_errors(query):
        parts.append(f"{_count_sum(f'{source}error_count')} AS error_count")
    return parts


def _rollup_partials(query: MetricsQuery, partials: dict[str, list[str]]) -> list[str]:
    return _count_merges(query, "r.") + _measure_merges(partials, "r.")


def _raw_partial(measure: Measure, partial: str) -> str:
    """One partial aggregate of a measure over raw spans. A measure with an exact integer copy
    (`Measure.scaled_column`) is aggregated through it and scaled back: the same numeric, with
    the column's scale (counts need no scaling; additive measures have no sum of squares)."""
    if measure.scaled_column is None:
        column, unit = f"t.{measure.span_column}", None
    else:
        column, unit = f"t.{measure.scaled_column}", f"{Decimal(1).scaleb(-measure.scale):f}"
    aggregate = {
        "count": f"count({column})",
        "sum": f"sum({column})",
        "sumsq": f"sum({column} * {column})",
        "min": f"min({column})",
        "max": f"max({column})",
    }[partial]
    return aggregate if unit is None or partial == "count" else f"{aggregate} * {unit}"


def _raw_partials(query: MetricsQuery, partials: dict[str, list[str]]) -> list[str]:
    parts = ["count(*) AS request_count"]
    if needs_errors(query):
        parts.append("count(*) FILTER (WHERE t.status_code = 'ERROR') AS error_count")
    for name, needed in partials.items():
        measure = MEASURES_BY_NAME[name]
        parts += [f"{_raw_partial(measure, partial)} AS {name}_{partial}" for partial in needed]
    return parts


def segment_sql(
    query: MetricsQuery,
    segment: Segment,
    measures: dict[str, list[str]],
    params: Params,
    sketches: bool = False,
    stored_quantiles: bool = False,
) -> str:
    """The segment's partial aggregates per (bucket, group); with `sketches`, also its sketch arrays
    (a rollup segment answering alone: one scan and one GROUP BY instead of a second pass)."""
    if segment.source == RAW:
        alias, table, time_column, partials = "t", "llm_traces", "ts", _raw_partials(query, measures)
    else:
        alias, table, time_column = "r", segment.table, "bucket"
        partials = _rollup_partials(query, measures)
    select = [f"{bucket_expression(query, f'{alias}.{time_column}', params)} AS bucket"]
    select += group_columns(query, alias) + partials
    if sketches:
        levels = stored_levels(query)
        for m in sorted(needed_percentiles(query)):
            keys = elements_sql(f"array_cat_agg(r.{m}_sketch_keys)")
            counts = elements_sql(f"array_cat_agg(r.{m}_sketch_counts)")
            if stored_quantiles:
                # An answer row made of one rollup row reads that row's quantiles, the levels asked
                # only, each a float8 (an array costs ~0.7 µs a row to read); only the others send
                # their sketches (NULL keys tell the runner which is which).
                keys, counts = (f"CASE WHEN count(*) > 1 THEN {arrays} END" for arrays in (keys, counts))
                select += [
                    f"CASE WHEN count(*) = 1 THEN min(r.{m}_quantiles[{STORED_QUANTILES.index(level) + 1}]) END"
                    f" AS {stored_quantile_column(m, level)}"
                    for level in levels[m]
                ]
            select += [f"{keys} AS _{m}_keys", f"{counts} AS _{m}_counts"]
    where = where_sql(query, alias, time_column, segment, params)
    return f"SELECT {', '.join(select)} FROM {table} {alias} WHERE {where} GROUP BY {group_positions(query)}"


def stored_levels(query: MetricsQuery) -> dict[str, list[float]]:
    """measure → the percentile levels asked of it, when every level the query asks is one of the
    STORED_QUANTILES (else none: the percentiles all come from sketches)."""
    asked = {m: sorted({catalog.PERCENTILES[a] for a in aggs}) for m, aggs in needed_percentiles(query).items()}
    return asked if all(set(levels) <= set(STORED_QUANTILES) for levels in asked.values()) else {}


def stored_quantile_column(measure: str, level: float) -> str:
    """The answer column carrying one stored quantile level of a measure (NULL where not read)."""
    return f"_{measure}_stored_{STORED_QUANTILES.index(level)}"


def reads_stored_quantiles(query: MetricsQuery, segments: list[Segment]) -> bool:
    """Whether the answer rows made of one rollup row take their percentiles from the quantiles
    stored beside its sketch (see measures.Rollup.stores_quantiles): every level asked is stored."""
    return (
        sketches_in_segment(query, segments)
        and ROLLUPS_BY_TABLE[segments[0].table].stores_quantiles
        and bool(stored_levels(query))
    )


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
        return ", ".join([bucket, *group_columns(query, alias)])

    if segment.source == RAW:
        column = f"t.{MEASURES_BY_NAME[measure].span_column}"
        where = where_sql(query, "t", "ts", segment, params) + f" AND {column} IS NOT NULL"
        keyed = f"sketch_key({column}) AS k, 1::bigint AS c"
        elements = f"SELECT {group_select('t', 'ts')}, {keyed} FROM llm_traces t WHERE {where}"
        if not whole:
            return elements
        group = ", ".join(["bucket", *(d.name for d in query.group_by)])
        return f"SELECT {group}, array_agg(k) AS k, array_agg(c) AS c FROM ({elements}) AS e GROUP BY {group}"
    table = segment.table
    where = where_sql(query, "r", "bucket", segment, params)
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
        select = [f"{bucket_expression(query, 't.ts', params)} AS bucket", *group_columns(query, "t")]
        for aggregation in sorted(aggregations):
            q = params.add(catalog.PERCENTILES[aggregation])
            select.append(f"percentile_disc({q}::float8) WITHIN GROUP (ORDER BY {column}) AS {measure}_{aggregation}")
        where = where_sql(query, "t", "ts", segment, params) + f" AND {column} IS NOT NULL"
        sql = f"SELECT {', '.join(select)} FROM llm_traces t WHERE {where} GROUP BY {group_positions(query)}"
        ctes.append((f"pct_{measure}", sql))
    return ctes


def sketch_percentiles(segments: list[Segment]) -> bool:
    """Percentiles come from sketches unless raw spans answer alone (then they are exact, in SQL)."""
    return [s.source for s in segments] != [RAW]


def sketches_in_segment(query: MetricsQuery, segments: list[Segment]) -> bool:
    """Whether the one rollup segment gathers its whole sketch arrays itself (no percentile CTE)."""
    return (
        len(segments) == 1
        and segments[0].source != RAW
        and bool(needed_percentiles(query))
        and whole_sketch_arrays(query, segments)
    )


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
            f"SELECT {group}, {elements_sql(f'{gather}(k)')} AS _{measure}_keys,"
            f" {elements_sql(f'{gather}(c)')} AS _{measure}_counts"
            f" FROM ({parts}) AS parts GROUP BY {group}"
        )
        ctes.append((f"pct_{measure}", sql))
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


def _merge_columns(query: MetricsQuery, measures: dict[str, list[str]]) -> list[str]:
    return _count_merges(query, "") + _measure_merges(measures, "")


def _natural_order(query: MetricsQuery) -> list[str]:
    # Dimensions in code point order whatever the database's locale: the order in which the
    # runner sorts sketched answers by a dimension (Python's string order), and the same answer
    # on every deployment.
    return (["bucket"] if query.interval else []) + [f'{d.name} COLLATE "C" NULLS FIRST' for d in query.group_by]


def _order_by(query: MetricsQuery) -> str:
    natural = _natural_order(query)
    if query.sort is None:
        return ", ".join(natural) or "1"
    field = "bucket" if query.sort.field == "timestamp" else f'"{query.sort.field}"'
    if query.sort.field in {d.name for d in query.group_by}:
        field += ' COLLATE "C"'
    direction = "DESC NULLS LAST" if query.sort.descending else "ASC NULLS LAST"
    return ", ".join([f"{field} {direction}", *natural])


def from_sketch(request: MetricRequest, sketched: bool) -> bool:
    """A percentile the runner computes from the sketch columns: no SQL column of its own."""
    return sketched and request.aggregation in catalog.PERCENTILES


def output_select(request: MetricRequest, query: MetricsQuery, params: Params) -> str:
    """An answer column. Values answered as floats leave PostgreSQL as float8 (correctly rounded,
    as float(Decimal) would be): reading numeric into Decimal costs ~1 µs a value."""
    expression = metric_expression(request, query, params)
    return f"({expression})::float8" if request.value_kind == "float" else expression


def build(query: MetricsQuery, totals: list[Segment], uniques: list[Segment]) -> BuiltQuery:
    params = Params()
    measures = needed_partials(query)
    group = ["bucket", *(d.name for d in query.group_by)]
    group_list = ", ".join(group)
    inline_sketches = sketches_in_segment(query, totals)
    stored = reads_stored_quantiles(query, totals)
    parts = [segment_sql(query, s, measures, params, inline_sketches, stored) for s in totals]
    merged = ", ".join(_merge_columns(query, measures))
    # One segment already has one row per group: no second aggregation over its rows.
    totals_sql = (
        parts[0]
        if len(parts) == 1
        else f"SELECT {group_list}, {merged} FROM ({' UNION ALL '.join(parts)}) AS parts GROUP BY {group_list}"
    )
    ctes = [("totals", totals_sql)]
    joins = []
    percentiles = [] if inline_sketches else percentile_ctes(query, totals, params)
    for name, sql in percentiles + unique_ctes(query, uniques, params):
        ctes.append((name, sql))
        joins.append(f"LEFT JOIN {name} USING ({group_list})")
    sketched = sketch_percentiles(totals) and bool(needed_percentiles(query))
    outputs = [
        f'{output_select(r, query, params)} AS "{r.alias}"' for r in query.metrics if not from_sketch(r, sketched)
    ]
    with_clause = ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
    joined = f"(SELECT * FROM totals {' '.join(joins)}) AS a"
    columns = [f"a.{g}" for g in group] + outputs
    if sketched:
        # The same columns whether or not quantiles are stored: a series fetched in parts may read
        # them in some parts only, and the runner reads every part's rows by the same positions.
        levels = stored_levels(query)
        for m in sorted(needed_percentiles(query)):
            columns += [f"a._{m}_keys", f"a._{m}_counts"]
            for level in levels.get(m, []):
                column = stored_quantile_column(m, level)
                columns.append(f"a.{column}" if stored else f"NULL::float8 AS {column}")
        columns += [
            f'{metric_expression(h.request, query, params)} AS "_having_{i}"'
            for i, h in enumerate(query.having)
            if not from_sketch(h.request, sketched)
        ]
        # In natural order: the runner's sorting by a metric is stable on top of it.
        order = ", ".join(_natural_order(query)) or "1"
        sql = f"WITH {with_clause}\nSELECT {', '.join(columns)} FROM {joined} ORDER BY {order}"
        return BuiltQuery(sql=sql, params=params.values, finish_in_python=True)
    having = [
        f"({metric_expression(h.request, query, params)}) {catalog.HAVING_OPERATORS[h.operator]} {params.add(h.value)}"
        for h in query.having
    ]
    where = f" WHERE {' AND '.join(having)}" if having else ""
    final = f"SELECT {', '.join(columns)} FROM {joined}{where}"
    limit = params.add(query.limit + 1)  # one more than asked tells whether the answer was truncated
    sql = f"WITH {with_clause}\nSELECT * FROM ({final}) AS result ORDER BY {_order_by(query)} LIMIT {limit}"
    return BuiltQuery(sql=sql, params=params.values)
