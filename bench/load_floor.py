"""What storing a benchmark dataset's rows and computing its rollups cost at best: the floor
under the load rate.

    python -m bench.load_floor [--spans 10000000] [--sample 200000]     (make bench-load-floor)

The load target (100,000 spans/s) gives a 10M dataset 100 s. Whatever else the load does, it
must store the rows the dataset ends with (the spans with their indexes, every rollup, the
activity rows and bitmaps, the identities) and compute the rollups by the code that folds live
ingest (SPEC §12: "loaded through the same code paths that build rollups").

- Storing: ready-made rows of each table, taken from the loaded dataset (`make bench SPANS=...`
  first), are copied into an empty copy of the table with the same indexes, one sample per core
  on a connection each, at once, so the machine's whole width is used. Nothing is generated,
  aggregated or looked up; the indexes are small (the copies start empty). Each table's rate
  times its rows in the dataset gives the seconds storing it takes at best. The spans are also
  stored without indexes and indexed afterwards (what a bulk load could do), and the faster of
  the two counts. The copies are dropped.
- Computing the rollups: yesterday's spans of the large organization are rebuilt into rollups
  by `rebuild_rollups`, as the load does, on one connection, in a day no rollup has reached yet
  (the spans copied a week ahead; rolled back). Its time, less what storing the rows it wrote
  takes at best, is the computing a span costs, times the dataset's spans, over the cores.

Their sum is the least time the load can take on this machine, before the spans' values are
even generated.
"""

import argparse
import json
import math
import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.run import INGEST_ORG, ORG_SHARES, ROOT, data_dir_for, log, setup_django

SPANS_TABLE = "llm_traces"
LARGE_ORG = next(iter(ORG_SHARES))  # 90 % of the spans


def _copy_name(table: str, worker: int) -> str:
    return f"bench_floor_{table}_{worker}"


def store_samples(dsn: str, table: str, sample: int, workers: int, index_after: bool = False) -> tuple[int, float]:
    """Rows stored and the seconds it took: `workers` connections each storing up to `sample` rows
    of `table` (disjoint ones) into an empty copy of it, at the same time."""
    import psycopg

    results: list[tuple[int, float]] = []
    errors: list[BaseException] = []
    ready = threading.Barrier(workers)

    def store(worker: int) -> None:
        copy = _copy_name(table, worker)
        try:
            with psycopg.connect(dsn) as conn:
                conn.execute("SET max_parallel_workers_per_gather = 0")
                # The source is read into a temporary table first (not timed): reading it back is
                # the cheapest source there is.
                conn.execute(
                    f"CREATE TEMP TABLE source AS SELECT * FROM {table} OFFSET %s LIMIT %s",
                    [worker * sample, sample],
                )
                indexes = "" if index_after else " INCLUDING INDEXES"
                conn.execute(f"DROP TABLE IF EXISTS {copy}")  # left by an interrupted run
                conn.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS{indexes})")
                conn.commit()
                try:
                    rows = conn.execute("SELECT count(*) FROM source").fetchone()[0]  # type: ignore[index]
                    ready.wait()
                    started = time.perf_counter()
                    conn.execute(f"INSERT INTO {copy} SELECT * FROM source")
                    if index_after:
                        for (definition,) in conn.execute(
                            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
                            [table],
                        ).fetchall():
                            conn.execute(_index_on_copy(definition, table, copy))
                    conn.commit()
                    results.append((rows, time.perf_counter() - started))
                finally:
                    conn.rollback()
                    conn.execute(f"DROP TABLE IF EXISTS {copy}")
                    conn.commit()
        except BaseException as exc:  # noqa: BLE001 - raised in the main thread below
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=store, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(rows for rows, _ in results), max(seconds for _, seconds in results)


def dataset_rows(table: str) -> int:
    """The rows of `table` that belong to the dataset: not those of I1's and the soak's own organization."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE org_id NOT IN (SELECT id FROM accounts_organization WHERE slug = %s)",
            [INGEST_ORG],
        )
        return int(cursor.fetchone()[0])


def rebuild_day_seconds(org_id: int, day: datetime, runs: int = 3) -> tuple[float, int, dict[str, int]]:
    """The fastest of `runs` rebuilds of one day's rollups by the load's own code (`rebuild_rollups`,
    on one connection), the day's spans and the rows it wrote per table.

    As in the load, the rollups have no rows of that day yet: the day's spans are copied a week
    ahead, to a day nothing has reached (not timed), and that day is rebuilt. Rolled back."""
    from django.db import connection, transaction

    from metrics.rollups.partitions import ensure_partitions, partition_name
    from metrics.rollups.rebuild import rebuild_rollups

    ahead = timedelta(days=7)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_generated = 'NEVER'"
            " ORDER BY ordinal_position",
            [SPANS_TABLE],
        )
        columns = [name for (name,) in cursor.fetchall()]
    shifted = ", ".join("ts + make_interval(days => %(days)s)" if name == "ts" else name for name in columns)
    # Committed, not rolled back with the rest: the process remembers the partitions it made, and
    # the service makes a week's ahead anyway.
    ensure_partitions([(day + ahead).date()])
    best = math.inf
    spans, rows = 0, {}
    for _ in range(runs):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {SPANS_TABLE} ({', '.join(columns)}) SELECT {shifted} FROM {SPANS_TABLE}"
                    " WHERE org_id = %(org_id)s AND ts >= %(low)s AND ts < %(high)s",
                    {"days": ahead.days, "org_id": org_id, "low": day, "high": day + timedelta(days=1)},
                )
                cursor.execute(f"ANALYZE {partition_name((day + ahead).date())}")  # as the load does
            started = time.perf_counter()
            (rebuilt,) = rebuild_rollups(start=day + ahead, end=day + ahead + timedelta(days=1), org_id=org_id)
            best = min(best, time.perf_counter() - started)
            transaction.set_rollback(True)
        spans, rows = rebuilt.spans, rebuilt.rows
    return best, spans, rows


def _index_on_copy(definition: str, table: str, copy: str) -> str:
    """An index definition of `table` (pg_get_indexdef) made for its copy, PostgreSQL naming it:
    "CREATE [UNIQUE] INDEX name ON [ONLY] [public.]table USING ..." → "... INDEX ON copy USING ..."."""
    return re.sub(rf" \S+ ON (ONLY )?(public\.)?{table} ", f" ON {copy} ", definition, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=10_000_000, help="the benchmark dataset (loaded first)")
    parser.add_argument("--sample", type=int, default=200_000, help="rows each connection stores, at most")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    setup_django(data_dir_for(args.spans))
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    from metrics.rollups.measures import SPAN_TABLES

    connection.ensure_connection()
    info = connection.connection.info
    dsn = make_conninfo(info.dsn, password=info.password or None)  # the dsn leaves the password out
    spans = dataset_rows(SPANS_TABLE)
    if spans < args.spans * 0.99:
        log(f"the {args.spans:,}-span dataset is not loaded ({spans:,} spans): run make bench SPANS={args.spans} first")
        return 1
    tables: list[dict[str, Any]] = []
    for table in SPAN_TABLES:
        rows_in_dataset = dataset_rows(table)
        if not rows_in_dataset:
            continue
        stored, seconds = store_samples(dsn, table, args.sample, args.workers)
        entry: dict[str, Any] = {
            "table": table,
            "rows": rows_in_dataset,
            "sample_rows": stored,
            "rows_per_s": round(stored / seconds),
        }
        if table == SPANS_TABLE:
            stored_bare, seconds_bare = store_samples(dsn, table, args.sample, args.workers, index_after=True)
            entry["rows_per_s_indexed_after"] = round(stored_bare / seconds_bare)
        best = max(entry["rows_per_s"], entry.get("rows_per_s_indexed_after", 0))
        entry["seconds"] = round(rows_in_dataset / best, 1)
        tables.append(entry)
        log(f"{table}: {rows_in_dataset:,} rows at {best:,} rows/s at best: {entry['seconds']} s")
    storing_seconds = sum(entry["seconds"] for entry in tables)
    # Computing the rollups: a day's rebuild on one connection, less what storing the rows it
    # wrote takes one connection at best (a worker's share of the rates above).
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_organization WHERE slug = %s", [LARGE_ORG])
        large = cursor.fetchone()[0]
    day_seconds, day_spans, day_rows = rebuild_day_seconds(large, yesterday)
    if not day_spans:
        log(f"{LARGE_ORG} has no spans yesterday: the dataset is not the benchmark's")
        return 1
    rates = {entry["table"]: entry["rows_per_s"] / args.workers for entry in tables}
    day_storing = sum(rows / rates[table] for table, rows in day_rows.items() if rows and table in rates)
    computing_us = max(day_seconds - day_storing, 0.0) / max(day_spans, 1) * 1e6
    computing_seconds = computing_us * spans / 1e6 / args.workers
    log(
        f"rollups of {day_spans:,} spans of a day: {day_seconds:.2f} s on one connection, storing their rows"
        f" {day_storing:.2f} s at best: {computing_us:.1f} µs a span to compute"
    )
    floor_seconds = storing_seconds + computing_seconds
    report = {
        "date": datetime.now(UTC).isoformat(),
        "dataset_spans": spans,
        "workers": args.workers,
        "tables": tables,
        "storing_seconds": round(storing_seconds, 1),
        "rollup_day": {
            "spans": day_spans,
            "seconds": round(day_seconds, 3),
            "storing_seconds": round(day_storing, 3),
            "rows": day_rows,
        },
        "computing_rollups_us_per_span": round(computing_us, 1),
        "computing_rollups_seconds": round(computing_seconds, 1),
        "floor_seconds": round(floor_seconds, 1),
        "floor_spans_per_s": round(spans / floor_seconds),
    }
    print()
    print(f"{'table':<28}{'rows':>13}{'rows/s':>11}{'indexed after':>15}{'seconds':>9}")
    for entry in tables:
        after = entry.get("rows_per_s_indexed_after", "")
        print(f"{entry['table']:<28}{entry['rows']:>13,}{entry['rows_per_s']:>11,}{after:>15}{entry['seconds']:>9}")
    print(
        f"storing the {spans:,} spans' rows takes {report['storing_seconds']} s at best, computing their rollups"
        f" {report['computing_rollups_seconds']} s more on {args.workers} cores: {report['floor_seconds']} s, a load"
        f" rate of at most {report['floor_spans_per_s']:,} spans/s before the spans themselves are generated"
    )
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-load-floor.json"
    out.write_text(json.dumps(report, indent=2))
    log(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
