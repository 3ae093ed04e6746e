"""The SQL that adds span rows to the rollups, generated from `measures`, and its one way of running.

Each `*_upsert_sql(…, source)` aggregates the span rows of `source` (a temporary table of
spans with their identity numbers) into its table's buckets and *adds* them to the rows
there, so the same text serves folds (source = the spans taken off the rollup queue) and
rebuild_rollups (source = a day of llm_traces, into emptied buckets). Both gather their
spans with `gather_spans` and apply every upsert with `add_gathered`.

Rows are upserted in key order, so writers touching the same buckets take their row locks in
one global order and wait for each other instead of deadlocking.
"""

from collections.abc import Collection
from functools import cache
from typing import Any

from metrics.rollups.identities import ordinal_column, with_ordinals_sql
from metrics.rollups.measures import (
    ACTIVITY_ROLLUPS,
    ERROR_ROLLUPS,
    IDENTITY_BITMAPS,
    MEASURES,
    ROLLUP_DIMENSIONS,
    ROLLUPS,
    ActivityRollup,
    ErrorRollup,
    Grain,
    IdentityBitmap,
    Measure,
    Rollup,
)

# The span columns the rollups read; the ingest statement returns exactly these.
SPAN_COLUMNS_FOR_ROLLUPS: tuple[str, ...] = (
    "org_id",
    "ts",
    *ROLLUP_DIMENSIONS,
    *(m.span_column for m in MEASURES),
    *(a.span_column for a in ACTIVITY_ROLLUPS),
    "error_type",
    "error_message",
)


def _bucket(grain: Grain, column: str = "ts") -> str:
    # The 3-argument date_trunc truncates in UTC whatever the session's TimeZone.
    return f"date_trunc('{grain.date_trunc}', {column}, 'UTC')"


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


def _key(rollup: Rollup) -> tuple[str, ...]:
    return ("org_id", "bucket", *rollup.dimensions)


def _key_select(rollup: Rollup) -> str:
    return ", ".join(["org_id", f"{_bucket(rollup.grain)} AS bucket", *rollup.dimensions])


def _sketch_subquery(rollup: Rollup, measure: Measure, source: str) -> str:
    column = measure.span_column
    key_list = ", ".join(_key(rollup))
    return f"""(
        SELECT {key_list},
               array_agg(k ORDER BY k) AS {measure.name}_sketch_keys,
               array_agg(c ORDER BY k) AS {measure.name}_sketch_counts
        FROM (
            SELECT {_key_select(rollup)},
                   sketch_key({column}) AS k, count(*) AS c
            FROM {source}
            WHERE {column} IS NOT NULL
            GROUP BY {key_list}, k
        ) AS keyed
        GROUP BY {key_list}
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


def rollup_columns(rollup: Rollup) -> list[str]:
    """Every column of a rollup table, in order."""
    columns = [*_key(rollup), "request_count"]
    for measure in MEASURES:
        columns += list(measure.columns)
    return [*columns, "error_count"]


def rollup_upsert_sql(rollup: Rollup, source: str) -> str:
    """INSERT … ON CONFLICT adding the aggregates of `source` to the rollup's table."""
    key, key_list = _key(rollup), ", ".join(_key(rollup))
    latency = [m for m in MEASURES if m.kind == "latency"]
    aggregates = ["count(*) AS request_count"] + [agg for m in MEASURES for agg in _aggregates(m)]
    aggregates.append("count(*) FILTER (WHERE status_code = 'ERROR') AS error_count")
    select_columns = [f"totals.{c}" for c in key] + ["totals.request_count"]
    for measure in MEASURES:
        for column in measure.columns:
            if column.endswith(("_sketch_keys", "_sketch_counts")):
                select_columns.append(f"coalesce(sketch_{measure.name}.{column}, '{{}}')")
            else:
                select_columns.append(f"totals.{column}")
    select_columns.append("totals.error_count")
    joins = "\n    ".join(f"LEFT JOIN {_sketch_subquery(rollup, m, source)} USING ({key_list})" for m in latency)
    assignments = ["request_count = t.request_count + EXCLUDED.request_count"]
    assignments += [a for m in MEASURES for a in _merge_assignments(m)]
    assignments.append("error_count = t.error_count + EXCLUDED.error_count")
    select_list = ",\n        ".join(select_columns)
    aggregate_list = ",\n               ".join(aggregates)
    assignment_list = ",\n    ".join(assignments)
    return f"""INSERT INTO {rollup.table} AS t ({", ".join(rollup_columns(rollup))})
    SELECT {select_list}
    FROM (
        SELECT {_key_select(rollup)},
               {aggregate_list}
        FROM {source}
        GROUP BY {key_list}
    ) AS totals
    {joins}
    ORDER BY {", ".join(f"totals.{c}" for c in key)}
ON CONFLICT ({key_list}) DO UPDATE SET
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


def bitmap_upsert_sql(bitmap: IdentityBitmap, source: str) -> str:
    """INSERT … ON CONFLICT setting the bits of every identity of `source` in its bucket's bitmap.

    `source` carries each span's identity numbers (identities.with_ordinals_sql). The bitmap
    of a bucket is built as text: for numbers in ascending order, the zeros since the previous
    one and a '1' (linear in the numbers, unlike setting bits one by one). Setting a bit twice
    changes nothing, so a re-sent span adds nothing here either.
    """
    ordinal = ordinal_column(bitmap.span_column)
    return f"""INSERT INTO {bitmap.table} AS t (org_id, bucket, bits)
    SELECT org_id, bucket, string_agg(repeat('0', ordinal - previous - 1) || '1', '' ORDER BY ordinal)::varbit
    FROM (
        SELECT org_id, bucket, ordinal,
               lag(ordinal, 1, -1) OVER (PARTITION BY org_id, bucket ORDER BY ordinal) AS previous
        FROM (
            SELECT DISTINCT org_id, {_bucket(bitmap.grain)} AS bucket, {ordinal} AS ordinal
            FROM {source}
            WHERE {ordinal} IS NOT NULL
        ) AS seen
    ) AS runs
    GROUP BY org_id, bucket
    ORDER BY org_id, bucket
ON CONFLICT (org_id, bucket) DO UPDATE SET bits = bitmap_or(t.bits, EXCLUDED.bits)"""


def error_upsert_sql(rollup: ErrorRollup, source: str) -> str:
    """INSERT … ON CONFLICT adding the failed spans of `source` to an error rollup."""
    return f"""INSERT INTO {rollup.table} AS t (org_id, bucket, provider, model, environment, error_type,
                                      error_count, sample_message)
    SELECT org_id, {_bucket(rollup.grain)} AS bucket, provider, model, environment,
           coalesce(error_type, '') AS error_type, count(*), min(error_message)
    FROM {source}
    WHERE status_code = 'ERROR'
    GROUP BY 1, 2, 3, 4, 5, 6
    ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (org_id, bucket, provider, model, environment, error_type) DO UPDATE SET
    error_count = t.error_count + EXCLUDED.error_count,
    sample_message = LEAST(t.sample_message, EXCLUDED.sample_message)"""


@cache
def all_rollup_upserts(source: str) -> tuple[tuple[str, str], ...]:
    """(table, SQL) for every rollup fed from `source` (span rows with their identity numbers), in a fixed order."""
    statements = [(rollup.table, rollup_upsert_sql(rollup, source)) for rollup in ROLLUPS]
    statements += [(activity.table, activity_upsert_sql(activity, source)) for activity in ACTIVITY_ROLLUPS]
    statements += [(bitmap.table, bitmap_upsert_sql(bitmap, source)) for bitmap in IDENTITY_BITMAPS]
    statements += [(rollup.table, error_upsert_sql(rollup, source)) for rollup in ERROR_ROLLUPS]
    return tuple(statements)


def gather_spans(cursor: Any, name: str, ctes: str, spans_cte: str, params: dict[str, Any] | None = None) -> int:
    """Reads span rows once, with their identity numbers, into the temporary table `name`; returns how many.

    `ctes` (the body of a WITH) defines `spans_cte`, and may take the same rows off the
    rollup queue in the same statement (one snapshot).
    """
    # (Dropped explicitly too: inside an outer transaction ON COMMIT comes too late.)
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS WITH {ctes} {with_ordinals_sql(spans_cte)}", params)
    return int(cursor.rowcount)


def add_gathered(cursor: Any, name: str, spans: int, tables: Collection[str] | None = None) -> dict[str, int]:
    """Adds the gathered spans to every rollup (or to `tables`); rows written per table. Drops `name`."""
    rows = {}
    for table, sql in all_rollup_upserts(name):
        if tables is None or table in tables:
            if spans:
                cursor.execute(sql)
            rows[table] = cursor.rowcount if spans else 0
    cursor.execute(f"DROP TABLE {name}")
    return rows
