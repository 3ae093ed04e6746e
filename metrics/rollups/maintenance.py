"""The SQL that folds span rows into the rollups, generated from `measures`.

`rollup_upsert_sql(grain, source)` aggregates the span rows of `source` (a CTE or table
expression) into the grain's buckets and *adds* them to the rollup rows, so the same text
serves both the ingest statement (source = the rows that statement just inserted) and
rebuild_rollups (source = llm_traces over a range, into emptied buckets).

Rows are upserted in key order: concurrent ingest transactions touching the same buckets
then take their row locks in one global order and wait for each other instead of
deadlocking.
"""

from metrics.rollups.measures import (
    ACTIVITY_ROLLUPS,
    GRAINS,
    MEASURES,
    ROLLUP_DIMENSIONS,
    ActivityRollup,
    Grain,
    Measure,
)

KEY = ("org_id", "bucket", *ROLLUP_DIMENSIONS)
KEY_LIST = ", ".join(KEY)

# The span columns the rollups read; the ingest statement returns exactly these.
SPAN_COLUMNS_FOR_ROLLUPS: tuple[str, ...] = (
    "org_id",
    "ts",
    *ROLLUP_DIMENSIONS,
    *(m.span_column for m in MEASURES),
    *(a.span_column for a in ACTIVITY_ROLLUPS),
)


def _bucket(grain: Grain) -> str:
    # The 3-argument date_trunc truncates in UTC whatever the session's TimeZone.
    return f"date_trunc('{grain.date_trunc}', ts, 'UTC')"


def _aggregates(measure: Measure) -> list[str]:
    column = measure.span_column
    parts = [
        f"count({column}) AS {measure.name}_count",
        f"coalesce(sum({column}), 0) AS {measure.name}_sum",
    ]
    if measure.kind == "latency":
        parts.append(f"coalesce(sum({column} * {column}), 0) AS {measure.name}_sumsq")
    parts += [f"min({column}) AS {measure.name}_min", f"max({column}) AS {measure.name}_max"]
    return parts


def _sketch_subquery(grain: Grain, measure: Measure, source: str) -> str:
    column = measure.span_column
    return f"""(
        SELECT {KEY_LIST},
               array_agg(k ORDER BY k) AS {measure.name}_sketch_keys,
               array_agg(c ORDER BY k) AS {measure.name}_sketch_counts
        FROM (
            SELECT org_id, {_bucket(grain)} AS bucket, {", ".join(ROLLUP_DIMENSIONS)},
                   sketch_key({column}) AS k, count(*) AS c
            FROM {source}
            WHERE {column} IS NOT NULL
            GROUP BY {KEY_LIST}, k
        ) AS keyed
        GROUP BY {KEY_LIST}
    ) AS sketch_{measure.name}"""


def _merge_assignments(measure: Measure) -> list[str]:
    name = measure.name
    sets = [
        f"{name}_count = t.{name}_count + EXCLUDED.{name}_count",
        f"{name}_sum = t.{name}_sum + EXCLUDED.{name}_sum",
        # LEAST/GREATEST ignore NULLs: a bucket without values keeps NULL min/max.
        f"{name}_min = LEAST(t.{name}_min, EXCLUDED.{name}_min)",
        f"{name}_max = GREATEST(t.{name}_max, EXCLUDED.{name}_max)",
    ]
    if measure.kind == "latency":
        sets.append(f"{name}_sumsq = t.{name}_sumsq + EXCLUDED.{name}_sumsq")
        keys, counts = f"{name}_sketch_keys", f"{name}_sketch_counts"
        sets.append(
            f"({keys}, {counts}) = (SELECT keys, counts FROM sketch_merge("
            f"t.{keys}, t.{counts}, EXCLUDED.{keys}, EXCLUDED.{counts}))"
        )
    return sets


def rollup_columns() -> list[str]:
    """Every column of a rollup table, in order."""
    columns = [*KEY, "request_count"]
    for measure in MEASURES:
        columns += list(measure.columns)
    return columns


def rollup_upsert_sql(grain: Grain, source: str) -> str:
    """INSERT … ON CONFLICT adding the aggregates of `source` to `grain`'s table."""
    latency = [m for m in MEASURES if m.kind == "latency"]
    aggregates = ["count(*) AS request_count"] + [agg for m in MEASURES for agg in _aggregates(m)]
    select_columns = [f"totals.{c}" for c in KEY] + ["totals.request_count"]
    for measure in MEASURES:
        for column in measure.columns:
            if column.endswith(("_sketch_keys", "_sketch_counts")):
                select_columns.append(f"coalesce(sketch_{measure.name}.{column}, '{{}}')")
            else:
                select_columns.append(f"totals.{column}")
    joins = "\n    ".join(f"LEFT JOIN {_sketch_subquery(grain, m, source)} USING ({KEY_LIST})" for m in latency)
    assignments = ["request_count = t.request_count + EXCLUDED.request_count"]
    assignments += [a for m in MEASURES for a in _merge_assignments(m)]
    select_list = ",\n        ".join(select_columns)
    aggregate_list = ",\n               ".join(aggregates)
    assignment_list = ",\n    ".join(assignments)
    return f"""INSERT INTO {grain.table} AS t ({", ".join(rollup_columns())})
    SELECT {select_list}
    FROM (
        SELECT org_id, {_bucket(grain)} AS bucket, {", ".join(ROLLUP_DIMENSIONS)},
               {aggregate_list}
        FROM {source}
        GROUP BY {KEY_LIST}
    ) AS totals
    {joins}
    ORDER BY {", ".join(f"totals.{c}" for c in KEY)}
ON CONFLICT ({KEY_LIST}) DO UPDATE SET
    {assignment_list}"""


def activity_upsert_sql(activity: ActivityRollup, source: str) -> str:
    """INSERT … ON CONFLICT adding each (day, key, identity) of `source` to an activity table."""
    identity = activity.span_column
    columns = ["org_id", "bucket", identity, *ROLLUP_DIMENSIONS]
    listed = ", ".join(columns)
    return f"""INSERT INTO {activity.table} AS t ({listed}, span_count)
    SELECT org_id, date_trunc('day', ts, 'UTC') AS bucket, {identity}, {", ".join(ROLLUP_DIMENSIONS)}, count(*)
    FROM {source}
    WHERE {identity} IS NOT NULL
    GROUP BY {listed}
    ORDER BY {listed}
ON CONFLICT ({listed}) DO UPDATE SET span_count = t.span_count + EXCLUDED.span_count"""


def all_rollup_upserts(source: str) -> list[tuple[str, str]]:
    """(name, SQL) for every rollup fed from `source`, in a fixed order."""
    statements = [(grain.table, rollup_upsert_sql(grain, source)) for grain in GRAINS]
    statements += [(activity.table, activity_upsert_sql(activity, source)) for activity in ACTIVITY_ROLLUPS]
    return statements
