"""The SQL that adds span rows to the rollups, generated from `measures`, and its one way of running.

Each upsert aggregates the span rows of `source` (spans with their identity numbers) into its
table's buckets and *adds* them to the rows there, so the same text serves folds (source = the
spans taken off the rollup queue) and rebuild_rollups (source = a day of llm_traces, into
emptied buckets). A fold runs every step (`rollup_steps`) as one statement (`fold_sql`); a
rebuild gathers a day's spans into a temporary table (`gather_spans`) and runs the steps one
by one (`add_gathered`), only those feeding the tables it rebuilds. The coarser rollups
are aggregated from the full-dimension hourly and daily deltas of those spans rather than
from the spans themselves: for a day of 100,000 spans the hourly, daily, totals and models
upserts took 3.6 s from the spans and take 1.3 s from the deltas.

Rows are upserted in key order, so writers touching the same buckets take their row locks in
one global order and wait for each other instead of deadlocking.
"""

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

from metrics.rollups.identities import ordinal_column, queued_ordinals_sql, with_ordinals_sql
from metrics.rollups.measures import (
    ACTIVITY_ROLLUPS,
    ERROR_ROLLUPS,
    IDENTITY_BITMAPS,
    MEASURES,
    PARTIAL_MERGE,
    ROLLUP_DIMENSIONS,
    ROLLUPS,
    STORED_QUANTILES_SQL,
    ActivityRollup,
    ErrorRollup,
    Grain,
    IdentityBitmap,
    Measure,
    Rollup,
    chunk_and_bit_sql,
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


def _quantiles_of(keys: str, counts: str) -> str:
    return f"sketch_quantiles({keys}, {counts}, {STORED_QUANTILES_SQL})"


def stored_quantiles_sql(rollup: Rollup) -> str:
    """SET list: each stored quantiles column from its row's own sketch."""
    return ", ".join(
        f"{m.name}_quantiles = {_quantiles_of(f'{m.name}_sketch_keys', f'{m.name}_sketch_counts')}"
        for m in rollup.quantile_measures
    )


def _merge_assignments(measure: Measure, rollup: Rollup) -> list[str]:
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
        merge = f"sketch_merge(t.{keys}, t.{counts}, EXCLUDED.{keys}, EXCLUDED.{counts})"
        if rollup.stores_quantiles:
            sets.append(
                f"({keys}, {counts}, {name}_quantiles) = "
                f"(SELECT keys, counts, {_quantiles_of('keys', 'counts')} FROM {merge})"
            )
        else:
            sets.append(f"({keys}, {counts}) = (SELECT keys, counts FROM {merge})")
    return sets


def rollup_columns(rollup: Rollup) -> list[str]:
    """Every column of a rollup table, in order."""
    columns = [*_key(rollup), "request_count"]
    for measure in MEASURES:
        columns += list(measure.columns)
    return [*columns, "error_count", *(f"{m.name}_quantiles" for m in rollup.quantile_measures)]


def _delta_columns(rollup: Rollup) -> list[str]:
    """The rollup's columns in table order, from the `totals` subquery and the `sketch_<measure>` joins."""
    columns = [f"totals.{c}" for c in _key(rollup)] + ["totals.request_count"]
    for measure in MEASURES:
        for column in measure.columns:
            if column.endswith(("_sketch_keys", "_sketch_counts")):
                columns.append(f"coalesce(sketch_{measure.name}.{column}, '{{}}') AS {column}")
            else:
                columns.append(f"totals.{column}")
    return [*columns, "totals.error_count"]


def rollup_select_from_spans(rollup: Rollup, source: str) -> str:
    """The rollup's rows (every column, in table order) aggregated from the span rows of `source`."""
    key_list = ", ".join(_key(rollup))
    latency = [m for m in MEASURES if m.kind == "latency"]
    aggregates = ["count(*) AS request_count"] + [agg for m in MEASURES for agg in _aggregates(m)]
    aggregates.append("count(*) FILTER (WHERE status_code = 'ERROR') AS error_count")
    select_columns = _delta_columns(rollup)
    joins = "\n    ".join(f"LEFT JOIN {_sketch_subquery(rollup, m, source)} USING ({key_list})" for m in latency)
    select_list = ",\n        ".join(select_columns)
    aggregate_list = ",\n               ".join(aggregates)
    return f"""SELECT {select_list}
    FROM (
        SELECT {_key_select(rollup)},
               {aggregate_list}
        FROM {source}
        GROUP BY {key_list}
    ) AS totals
    {joins}"""


def rollup_select_from_rows(rollup: Rollup, rows: str) -> str:
    """The rollup's rows aggregated from `rows`, rows of a rollup with the same or a finer grain and
    every dimension of this one (a fold's full-dimension delta): partial sums add up, sketches
    merge key by key. Far fewer rows to read than the spans they summarise."""
    key, key_list = _key(rollup), ", ".join(_key(rollup))
    key_select = ", ".join(["org_id", f"{_bucket(rollup.grain, 'bucket')} AS bucket", *rollup.dimensions])
    # By position: a bare `bucket` in GROUP BY would mean the rows' own (finer) bucket column.
    positions = ", ".join(str(i) for i in range(1, len(key) + 1))
    aggregates = ["sum(request_count)::bigint AS request_count"]
    for measure in MEASURES:
        for column in measure.columns:
            partial = column.removeprefix(f"{measure.name}_")
            if partial in PARTIAL_MERGE:
                aggregates.append(f"{PARTIAL_MERGE[partial]}({column}) AS {column}")
    aggregates.append("sum(error_count)::bigint AS error_count")
    joins = []
    for measure in (m for m in MEASURES if m.kind == "latency"):
        keys, counts = f"{measure.name}_sketch_keys", f"{measure.name}_sketch_counts"
        joins.append(f"""LEFT JOIN (
        SELECT {key_list}, array_agg(k ORDER BY k) AS {keys}, array_agg(c ORDER BY k) AS {counts}
        FROM (
            SELECT {key_select}, u.k, sum(u.c)::bigint AS c
            FROM {rows} CROSS JOIN LATERAL unnest({keys}, {counts}) AS u(k, c)
            GROUP BY {positions}, u.k
        ) AS keyed
        GROUP BY {key_list}
    ) AS sketch_{measure.name} USING ({key_list})""")
    return f"""SELECT {", ".join(_delta_columns(rollup))}
    FROM (SELECT {key_select}, {", ".join(aggregates)} FROM {rows} GROUP BY {positions}) AS totals
    {" ".join(joins)}"""


def rollup_upsert_sql(rollup: Rollup, select: str) -> str:
    """INSERT … ON CONFLICT adding the rows of `select` (the rollup's columns, in order, but for the
    stored quantiles, computed here from the merged sketches) to its table."""
    key_list = ", ".join(_key(rollup))
    assignments = ["request_count = t.request_count + EXCLUDED.request_count"]
    assignments += [a for m in MEASURES for a in _merge_assignments(m, rollup)]
    assignments.append("error_count = t.error_count + EXCLUDED.error_count")
    assignment_list = ",\n    ".join(assignments)
    quantiles = [
        f"{_quantiles_of(f'delta.{m.name}_sketch_keys', f'delta.{m.name}_sketch_counts')} AS {m.name}_quantiles"
        for m in rollup.quantile_measures
    ]
    return f"""INSERT INTO {rollup.table} AS t ({", ".join(rollup_columns(rollup))})
    SELECT {", ".join(["delta.*", *quantiles])} FROM ({select}) AS delta
    ORDER BY {key_list}
ON CONFLICT ({key_list}) DO UPDATE SET
    {assignment_list}"""


def activity_upsert_sql(activity: ActivityRollup, source: str) -> str:
    """INSERT … ON CONFLICT DO NOTHING of each (day, key, identity) of `source` into an activity
    table: a row says the identity was seen that day under that key, and seeing it again
    changes nothing (no new row version)."""
    identity = activity.span_column
    columns = ["org_id", "bucket", identity, *ROLLUP_DIMENSIONS]
    listed = ", ".join(columns)
    return f"""INSERT INTO {activity.table} AS t ({listed})
    SELECT DISTINCT org_id, date_trunc('day', ts, 'UTC') AS bucket, {identity}, {", ".join(ROLLUP_DIMENSIONS)}
    FROM {source}
    WHERE {identity} IS NOT NULL
    ORDER BY {listed}
ON CONFLICT ({listed}) DO NOTHING"""


def bitmap_upsert_sql(bitmap: IdentityBitmap, source: str) -> str:
    """INSERT … ON CONFLICT setting the bits of every identity of `source` in its bucket's bitmaps.

    `source` carries each span's identity numbers (identities.with_ordinals_sql); number n is
    bit n % BITMAP_CHUNK_BITS of the bucket's chunk n // BITMAP_CHUNK_BITS. A chunk's bitmap is
    built as text: for bits in ascending order, the zeros since the previous one and a '1'
    (linear in the bits, unlike setting them one by one). Setting a bit twice changes nothing,
    so a re-sent span adds nothing here either.
    """
    ordinal = ordinal_column(bitmap.span_column)
    chunk, bit = chunk_and_bit_sql(ordinal)
    return f"""INSERT INTO {bitmap.table} AS t (org_id, bucket, chunk, bits)
    SELECT org_id, bucket, chunk, string_agg(repeat('0', bit - previous - 1) || '1', '' ORDER BY bit)::varbit
    FROM (
        SELECT org_id, bucket, chunk, bit,
               lag(bit, 1, -1) OVER (PARTITION BY org_id, bucket, chunk ORDER BY bit) AS previous
        FROM (
            SELECT DISTINCT org_id, {_bucket(bitmap.grain)} AS bucket,
                   {chunk} AS chunk, {bit} AS bit
            FROM {source}
            WHERE {ordinal} IS NOT NULL
        ) AS seen
    ) AS runs
    GROUP BY org_id, bucket, chunk
    ORDER BY org_id, bucket, chunk
ON CONFLICT (org_id, bucket, chunk) DO UPDATE SET bits = bitmap_or(t.bits, EXCLUDED.bits)"""


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


def _full_rollup(grain: str) -> Rollup:
    return next(r for r in ROLLUPS if r.grain.name == grain and r.dimensions == ROLLUP_DIMENSIONS)


# Rows up to a page are stored without compressing their sketches (migration 0017 says why).
UNCOMPRESSED = "toast_tuple_target = 8160"
DELTA_GRAINS = ("1hour", "1day")  # the grains whose full-dimension delta the coarser rollups read


def delta_table(source: str, grain: str) -> str:
    return f"{source}_{grain}"


@dataclass(frozen=True)
class Step:
    """One statement of adding gathered spans: `feeds` are the rollup tables that need it run,
    `table` the one whose written rows it reports. A step making a delta (`delta`, its name)
    is a SELECT of its rows instead, and `table` is None."""

    sql: str
    feeds: frozenset[str]
    table: str | None = None
    delta: str | None = None


@cache
def rollup_steps(source: str) -> tuple[Step, ...]:
    """Every statement adding the span rows of `source` (with identity numbers) to the rollups, in order.

    The full-dimension hourly aggregate of the spans is computed once (the delta: a temporary
    table in a rebuild, a materialized CTE in a fold); the hourly rollup takes it, and the
    hourly totals and models rollups and the daily full-dimension delta are aggregated from it
    (~4,000 rows for a day of 100,000 spans); the daily rollups likewise from the daily delta.
    The 1-minute rollup reads the spans.
    """
    steps: list[Step] = []
    minute = _full_rollup("1min")
    steps.append(
        Step(
            rollup_upsert_sql(minute, rollup_select_from_spans(minute, source)), frozenset({minute.table}), minute.table
        )
    )
    hourly, daily = (delta_table(source, grain) for grain in DELTA_GRAINS)
    for grain, delta, made_from in (("1hour", hourly, None), ("1day", daily, hourly)):
        full = _full_rollup(grain)
        select = (
            rollup_select_from_spans(full, source) if made_from is None else rollup_select_from_rows(full, made_from)
        )
        # The hourly delta feeds the daily one too.
        feeds = frozenset(r.table for r in ROLLUPS if r.grain.name in DELTA_GRAINS[DELTA_GRAINS.index(grain) :])
        steps.append(Step(select, feeds, delta=delta))
        for rollup in (r for r in ROLLUPS if r.grain.name == grain):
            select = f"SELECT * FROM {delta}" if rollup == full else rollup_select_from_rows(rollup, delta)
            steps.append(Step(rollup_upsert_sql(rollup, select), frozenset({rollup.table}), rollup.table))
    steps += [Step(activity_upsert_sql(a, source), frozenset({a.table}), a.table) for a in ACTIVITY_ROLLUPS]
    steps += [Step(bitmap_upsert_sql(b, source), frozenset({b.table}), b.table) for b in IDENTITY_BITMAPS]
    steps += [Step(error_upsert_sql(e, source), frozenset({e.table}), e.table) for e in ERROR_ROLLUPS]
    return tuple(steps)


@cache
def fold_sql(ctes: str, spans_cte: str, source: str) -> str:
    """One statement adding queued span rows (`spans_cte`, defined by the WITH body `ctes`, which
    takes them off the queue; they carry their identity numbers) to every rollup; it answers
    how many spans it added.

    The steps of `rollup_steps` as the CTEs of one statement: the spans and the two deltas are
    materialized once, under the names the steps read (`source` and its deltas), and every
    upsert is a data-modifying CTE. Each writes a table of its own and reads only the spans and
    the deltas, so the order they run in does not matter. A statement per step into temporary
    tables cost a fold 4-7 ms more (10M benchmark database, 500-3,500 spans a fold: creating
    and dropping three tables of 23-58 columns in the catalog, ~20 round trips), and left
    ~170 dead catalog rows a fold, hundreds a second under steady ingest, for autovacuum.
    """
    parts = [ctes, f"{source} AS MATERIALIZED ({queued_ordinals_sql(spans_cte, SPAN_COLUMNS_FOR_ROLLUPS)})"]
    for index, step in enumerate(rollup_steps(source)):
        parts.append(f"{step.delta} AS MATERIALIZED ({step.sql})" if step.delta else f"step_{index} AS ({step.sql})")
    ctes_list = ",\n".join(parts)
    return f"WITH {ctes_list}\nSELECT count(*) FROM {source}"


def gather_spans(cursor: Any, name: str, ctes: str, spans_cte: str, params: dict[str, Any] | None = None) -> int:
    """Reads span rows of llm_traces once, with their identity numbers looked up, into the
    temporary table `name`; returns how many.

    `ctes` (the body of a WITH) defines `spans_cte`, and may take the same rows off the
    rollup queue in the same statement (one snapshot).
    """
    # (Dropped explicitly too: inside an outer transaction ON COMMIT comes too late.)
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS WITH {ctes} {with_ordinals_sql(spans_cte)}", params)
    return int(cursor.rowcount)


def add_gathered(cursor: Any, name: str, spans: int, tables: Collection[str] | None = None) -> dict[str, int]:
    """Adds the gathered spans to every rollup (or to `tables`); rows written per table. Drops `name`
    and the deltas made from it."""
    rows = {}
    for step in rollup_steps(name):
        if tables is not None and not step.feeds & set(tables):
            continue
        if spans and step.delta is not None:
            # Uncompressed like the rollups (migration 0017): an inserted row copies the delta's
            # values as they are stored, compressed ones included.
            cursor.execute(f"CREATE TEMP TABLE {step.delta} WITH ({UNCOMPRESSED}) ON COMMIT DROP AS {step.sql}")
        elif spans:
            cursor.execute(step.sql)
        if step.table is not None:
            rows[step.table] = cursor.rowcount if spans else 0
    # (Dropped explicitly: inside an outer transaction ON COMMIT comes too late for the next fold.)
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join([name, *(delta_table(name, g) for g in DELTA_GRAINS)])}")
    return rows
