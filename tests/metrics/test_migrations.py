"""The rollup migrations since 0009 undo and redo on a database that already holds spans."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from metrics.rollups.measures import BITMAP_CHUNK_BITS, IDENTITY_BITMAPS, ROLLUPS
from tests.metrics.factories import bitmap_identities, number_identities_from, rollup_rows, stored_spans
from tests.metrics.query.conftest import ingest, span
from tests.metrics.rollups.oracle import expected_activity, expected_identities, expected_table, normalize_db_rows

START = datetime(2026, 11, 20, tzinfo=UTC)
ADDED_SINCE_0009 = ("llm_models_env_1hour", "llm_models_env_1day")


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return bool(cursor.fetchone()[0])


@pytest.mark.usefixtures("committed_db")
def test_going_back_to_0009_and_forward_rebuilds_every_rollup_from_the_stored_spans(org):
    # given: two days of spans in every environment, stored and folded at the latest schema, their
    # users numbered across the end of a bitmap chunk
    number_identities_from(org.pk, BITMAP_CHUNK_BITS - 2)
    rng = random.Random(4)
    ingest(
        org,
        [
            span(
                START + timedelta(seconds=rng.uniform(0, 2 * 86400)),
                provider=rng.choice(["openai", "azure"]),
                model=rng.choice(["m-1", "m-2"]),
                environment=rng.choice(["production", "staging", None]),
                duration_ms=round(rng.lognormvariate(6, 1), 3),
                user_id=rng.choice(["u1", "u2", "u3", None]),
            )
            for _ in range(400)
        ],
    )
    # when: the migrations are undone down to 0009, then done again
    try:
        call_command("migrate", "metrics", "0009", verbosity=0)
        assert not any(table_exists(table) for table in ADDED_SINCE_0009)
    finally:
        call_command("migrate", "metrics", verbosity=0)
    # then: the tables they added were built from the spans, the stored quantiles were filled
    # from the sketches, and every rollup equals a recomputation
    spans = stored_spans(org.pk)
    assert len(spans) == 400
    for rollup in ROLLUPS:
        live = normalize_db_rows(rollup_rows(rollup.table, org.pk), rollup.dimensions)
        assert live == expected_table(spans, rollup), rollup.table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bucket, user_id, provider, model, environment, status_code FROM llm_users_1day WHERE org_id = %s",
            [org.pk],
        )
        assert set(cursor.fetchall()) == expected_activity(spans, "user_id")
    # and the spans' table, rewritten with its integer cost copy, was vacuumed: every page is marked
    # all-visible again, so breakdowns by user stay index-only scans
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int, c.relallvisible"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'llm_traces'::regclass"
        )
        pages = [(name, size, visible) for name, size, visible in cursor.fetchall() if size]
    assert pages and all(size == visible for _, size, visible in pages), pages
    priced = [s for s in spans if s["total_cost"] is not None]
    assert priced and all(s["total_cost_scaled"] == int(s["total_cost"] * 10**10) for s in priced)
    assert all(s["total_cost_scaled"] is None for s in spans if s["total_cost"] is None)
    # and the identity bitmaps, joined into one per bucket and cut into chunks again, hold the same identities
    for bitmap in IDENTITY_BITMAPS:
        identities = bitmap_identities(bitmap.table, bitmap.span_column, org.pk)
        assert identities == expected_identities(spans, bitmap.span_column, bitmap.grain), bitmap.table


@pytest.mark.django_db
def test_every_text_column_of_the_metrics_tables_compares_bytewise():
    # given: the latest schema (migration 0020), partitions of llm_traces included
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, a.attname, coalesce(l.collname, '(none)')
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            LEFT JOIN pg_collation l ON l.oid = a.attcollation
            WHERE c.relname LIKE 'llm%%' AND a.attnum > 0 AND NOT a.attisdropped
              AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'text[]'::regtype)"""
        )
        columns = cursor.fetchall()
    # then: there are such columns, and every one of them is in the "C" collation
    assert {(table, column) for table, column, _ in columns} >= {
        ("llm_traces", "user_id"),
        ("llm_rollup_queue", "session_id"),
        ("llm_identities", "value"),
        ("llm_sessions_1day", "session_id"),
        ("llm_errors_1hour", "sample_message"),
    }
    assert [(table, column, collation) for table, column, collation in columns if collation != "C"] == []
