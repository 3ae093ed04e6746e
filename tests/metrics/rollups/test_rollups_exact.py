"""Rollups equal an independent recomputation, whatever mix of batches, re-sends and late spans."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from metrics.rollups.measures import BITMAP_CHUNK_BITS, ERROR_DIMENSIONS, ERROR_ROLLUPS, IDENTITY_BITMAPS, ROLLUPS
from metrics.rollups.rebuild import rebuild_rollups
from tests.metrics.factories import (
    bitmap_identities,
    number_identities_from,
    queued_spans_of,
    rollup_rows,
    store_unfolded,
)
from tests.metrics.rollups.oracle import (
    expected_activity,
    expected_errors,
    expected_identities,
    expected_rollups,
    expected_table,
    normalize_db_rows,
)

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)
_org_numbers = itertools.count(1)

span_strategy = st.fixed_dictionaries(
    {
        "trace": st.integers(1, 6),
        "span": st.integers(1, 12),
        # up to three days late, so spans land in old minute/hour/day buckets
        "age_seconds": st.integers(0, 3 * 86400),
        "provider": st.sampled_from(["prov-a", "prov-b"]),
        "model": st.sampled_from(["model-x", "model-y", "model-z"]),
        "environment": st.sampled_from(["production", "staging", ""]),
        "status_code": st.sampled_from(["OK", "ERROR", "UNSET"]),
        "duration_us": st.one_of(st.none(), st.integers(0, 120_000_000)),
        "ttft_us": st.one_of(st.none(), st.integers(0, 5_000_000)),
        "prompt_tokens": st.one_of(st.none(), st.integers(0, 200_000)),
        "completion_tokens": st.one_of(st.none(), st.integers(0, 20_000)),
        "total_cost": st.one_of(st.none(), st.decimals(0, 5, places=10)),
        "user": st.one_of(st.none(), st.sampled_from(["u1", "u2", "u3"])),
        "session": st.one_of(st.none(), st.sampled_from(["s1", "s2"])),
        "error_type": st.sampled_from([None, "", "RateLimitError", "Timeout"]),
        "error_message": st.sampled_from([None, "slow down", "try again"]),
    }
)


def as_json_span(drawn: dict) -> dict:
    """The drawn span on the wire. A span's start time is part of its identity: derive it from the ids."""
    ts = NOW - timedelta(seconds=drawn["age_seconds"])
    span = {
        "trace_id": f"{drawn['trace']:032x}",
        "span_id": f"{drawn['span']:016x}",
        "start_time": ts.isoformat(),
        "provider": drawn["provider"],
        "model": drawn["model"],
        "environment": drawn["environment"] or None,
        "status_code": drawn["status_code"],
        "duration_ms": None if drawn["duration_us"] is None else drawn["duration_us"] / 1000,
        "ttft_ms": None if drawn["ttft_us"] is None else drawn["ttft_us"] / 1000,
        "prompt_tokens": drawn["prompt_tokens"],
        "completion_tokens": drawn["completion_tokens"],
        "total_cost_usd": None if drawn["total_cost"] is None else str(drawn["total_cost"]),
        "user_id": drawn["user"],
        "session_id": drawn["session"],
        # errors are described only on failed spans (a description on an UNSET one makes it fail)
        "error_type": drawn["error_type"] if drawn["status_code"] == "ERROR" else None,
        "error_message": drawn["error_message"] if drawn["status_code"] == "ERROR" else None,
    }
    return {k: v for k, v in span.items() if v is not None}


def simple_span(trace: int, n: int, **drawn) -> dict:
    """Span n of a trace on the wire: one provider and model, a duration, tokens; `drawn` overrides."""
    return as_json_span(
        {
            "trace": trace,
            "span": n,
            "age_seconds": 60 * n,
            "provider": "p",
            "model": "m",
            "environment": "",
            "status_code": "OK",
            "duration_us": 1000 * n,
            "ttft_us": None,
            "prompt_tokens": n,
            "completion_tokens": 1,
            "total_cost": None,
            "user": None,
            "session": None,
            "error_type": None,
            "error_message": None,
            **drawn,
        }
    )


def as_stored(span: dict) -> dict:
    """What the oracle expects in llm_traces for a JSON span (written independently of the pipeline)."""
    prompt, completion = span.get("prompt_tokens"), span.get("completion_tokens")
    return {
        "ts": datetime.fromisoformat(span["start_time"]),
        "provider": span["provider"],
        "model": span["model"],
        "environment": span.get("environment", ""),
        "status_code": span["status_code"],
        "duration_ms": None
        if "duration_ms" not in span
        else Decimal(str(span["duration_ms"])).quantize(Decimal("0.001")),
        "ttft_ms": None if "ttft_ms" not in span else Decimal(str(span["ttft_ms"])).quantize(Decimal("0.001")),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion if prompt is not None and completion is not None else None,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "prompt_cost": None,
        "completion_cost": None,
        "total_cost": None if "total_cost_usd" not in span else Decimal(span["total_cost_usd"]),
        "user_id": span.get("user_id"),
        "session_id": span.get("session_id"),
        "error_type": span.get("error_type"),
        "error_message": span.get("error_message"),
    }


def snapshot(org_id: int) -> dict:
    tables: dict = {r.table: normalize_db_rows(rollup_rows(r.table, org_id), r.dimensions) for r in ROLLUPS}
    for bitmap in IDENTITY_BITMAPS:
        tables[bitmap.table] = bitmap_identities(bitmap.table, bitmap.span_column, org_id)
    for errors in ERROR_ROLLUPS:
        tables[errors.table] = {
            (row["bucket"], *(row[d] for d in ERROR_DIMENSIONS)): (row["error_count"], row["sample_message"])
            for row in rollup_rows(errors.table, org_id)
        }
    with connection.cursor() as cursor:
        for table, identity in (("llm_users_1day", "user_id"), ("llm_sessions_1day", "session_id")):
            cursor.execute(
                f"SELECT bucket, {identity}, provider, model, environment, status_code FROM {table} WHERE org_id = %s",
                [org_id],
            )
            rows = cursor.fetchall()
            assert len(rows) == len(set(rows))
            tables[table] = set(rows)
    return tables


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(span_strategy, min_size=1, max_size=15), min_size=1, max_size=5),
    resend=st.booleans(),
    # identity numbers from 0, across a bitmap chunk's end (the 3 users, the 2 sessions), or
    # across the end of the 32-bit range (migration 0019)
    first_number=st.sampled_from([0, BITMAP_CHUNK_BITS - 2, 5 * BITMAP_CHUNK_BITS - 1, 2**31 - 2]),
)
def test_rollups_equal_a_recomputation_after_batches_duplicates_and_late_spans(roles, batches, resend, first_number):
    # given: a fresh organization and batches that may repeat spans (same ids) within and across batches
    organization = services.organization_ensure(slug=f"hyp-{next(_org_numbers)}")
    number_identities_from(organization.pk, first_number)
    sent: dict[tuple, dict] = {}
    wire_batches = [[as_json_span(d) for d in batch] for batch in batches]
    if resend:
        wire_batches.append(wire_batches[0])  # a client retrying its first batch
    # when
    for batch in wire_batches:
        candidates = [(i, parse_json_span(span)) for i, span in enumerate(batch)]
        pipeline.ingest(organization, candidates)
        for span in batch:
            sent.setdefault((span["trace_id"], span["span_id"], span["start_time"]), as_stored(span))
    # then: each rollup table equals the plain-Python aggregate of the distinct spans
    spans = list(sent.values())
    live = snapshot(organization.pk)
    for rollup in ROLLUPS:
        assert live[rollup.table] == expected_table(spans, rollup), rollup.table
    for bitmap in IDENTITY_BITMAPS:
        assert live[bitmap.table] == expected_identities(spans, bitmap.span_column, bitmap.grain), bitmap.table
    for errors in ERROR_ROLLUPS:
        assert live[errors.table] == expected_errors(spans, errors.grain), errors.table
    assert live["llm_users_1day"] == expected_activity(spans, "user_id")
    assert live["llm_sessions_1day"] == expected_activity(spans, "session_id")
    # and rebuilding from raw gives the very same rows
    rebuild_rollups(start=NOW - timedelta(days=5), end=NOW + timedelta(days=1), org_id=organization.pk)
    assert snapshot(organization.pk) == live


def test_a_span_arriving_hours_late_lands_in_its_own_buckets(roles):
    organization = services.organization_ensure(slug="late")
    late = NOW - timedelta(hours=30, minutes=17)
    span = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "start_time": late.isoformat(),
        "duration_ms": 100,
        "provider": "p",
        "model": "m",
    }
    pipeline.ingest(organization, [(0, parse_json_span(span))])
    expected_buckets = {
        "llm_metrics_1min": late.replace(second=0),
        "llm_metrics_1hour": late.replace(minute=0, second=0),
        "llm_metrics_1day": late.replace(hour=0, minute=0, second=0),
    }
    for table, bucket in expected_buckets.items():
        (row,) = rollup_rows(table, organization.pk)
        assert row["bucket"] == bucket
        assert row["request_count"] == 1


def test_rollup_tables_have_exactly_the_declared_columns(db):
    from metrics.rollups.maintenance import rollup_columns

    for rollup in ROLLUPS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                [rollup.table],
            )
            assert [r[0] for r in cursor.fetchall()] == rollup_columns(rollup)


def test_every_rollup_table_stores_its_sketches_uncompressed(db):
    """Migration 0017's setting, on every declared rollup (a new one must get it too)."""
    from metrics.rollups.maintenance import UNCOMPRESSED

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND %s = ANY(reloptions)",
            [[r.table for r in ROLLUPS], UNCOMPRESSED.replace(" ", "")],
        )
        assert sorted(r[0] for r in cursor.fetchall()) == sorted(r.table for r in ROLLUPS)


def test_spans_queued_when_a_day_is_rebuilt_are_counted_once(roles):
    from metrics.rollups.fold import fold_pending

    organization = services.organization_ensure(slug="queued")
    spans = [simple_span(1, n, user=f"u{n % 2}") for n in range(1, 11)]
    # stored and queued, not folded yet (store_columns is ingest without its fold)
    records = [parse_json_span(span) for span in spans]
    store_unfolded(organization.pk, records)
    assert queued_spans_of(organization.pk) == 10
    # when: the rebuild counts them from llm_traces, then a fold runs
    rebuild_rollups(start=NOW - timedelta(days=1), end=NOW + timedelta(days=1), org_id=organization.pk)
    fold_pending()
    # then: each counted once
    expected = expected_rollups([as_stored(span) for span in spans], ROLLUPS[0].grain)
    assert normalize_db_rows(rollup_rows("llm_metrics_1min", organization.pk)) == expected
    assert sum(r["request_count"] for r in rollup_rows("llm_metrics_1day", organization.pk)) == 10


def test_a_rebuild_builds_no_rows_past_their_table_retention_and_still_takes_the_spans_off_the_queue(roles):
    from metrics.rollups.fold import fold_pending
    from metrics.rollups.measures import GRAINS_BY_NAME

    organization = services.organization_ensure(slug="old-day")
    old = (NOW - timedelta(days=GRAINS_BY_NAME["1min"].retention_days + 3)).replace(hour=12, minute=0, second=0)
    spans = [
        {
            "trace_id": f"{n:032x}",
            "span_id": f"{n:016x}",
            "start_time": (old + timedelta(minutes=n)).isoformat(),
            "duration_ms": 10 * n,
            "provider": "p",
            "model": "m",
        }
        for n in range(1, 6)
    ]
    # a 1-minute row of that day left from before (its span since gone) is emptied, not kept
    pipeline.ingest(organization, [(0, parse_json_span({**spans[0], "span_id": "f" * 16}))])
    assert len(rollup_rows("llm_metrics_1min", organization.pk)) == 1
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM llm_traces WHERE org_id = %s", [organization.pk])
    # stored and queued, not folded yet (store_columns is ingest without its fold)
    records = [parse_json_span(span) for span in spans]
    store_unfolded(organization.pk, records)

    rebuild_rollups(start=old, end=old + timedelta(hours=1), org_id=organization.pk)
    fold_pending()

    assert rollup_rows("llm_metrics_1min", organization.pk) == []  # past its 37 days: never read, not built
    for table in ("llm_metrics_1hour", "llm_metrics_1day", "llm_models_1hour", "llm_totals_1day"):
        assert sum(r["request_count"] for r in rollup_rows(table, organization.pk)) == 5, table
    assert queued_spans_of(organization.pk) == 0


@pytest.mark.parametrize("numbers_missing", [False, True], ids=["carried", "queued-before-0015"])
def test_queued_spans_carry_their_identity_numbers_and_reach_the_bitmaps(roles, numbers_missing):
    from metrics.rollups.fold import fold_pending

    organization = services.organization_ensure(slug=f"numbers-{numbers_missing}")
    spans = [
        simple_span(7, n, age_seconds=30 * n, user=None if n % 5 == 0 else f"u{n % 3}", session=f"s{n % 4}")
        for n in range(1, 21)
    ]
    records = [parse_json_span(span) for span in spans]
    store_unfolded(organization.pk, records)
    with connection.cursor() as cursor:
        # every queued span's numbers are its identities' numbers in llm_identities
        cursor.execute(
            "SELECT q.user_id_ordinal IS NOT DISTINCT FROM u.ordinal AND q.session_id_ordinal = s.ordinal"
            " FROM llm_rollup_queue q"
            " LEFT JOIN llm_identities u ON u.org_id = q.org_id AND u.kind = 'user_id' AND u.value = q.user_id"
            " JOIN llm_identities s ON s.org_id = q.org_id AND s.kind = 'session_id' AND s.value = q.session_id"
            " WHERE q.org_id = %s",
            [organization.pk],
        )
        assert [row[0] for row in cursor.fetchall()] == [True] * 20
        if numbers_missing:  # as rows queued before the queue carried numbers
            cursor.execute(
                "UPDATE llm_rollup_queue SET user_id_ordinal = NULL, session_id_ordinal = NULL WHERE org_id = %s",
                [organization.pk],
            )
    # when
    fold_pending()
    # then
    stored = [as_stored(span) for span in spans]
    for bitmap in IDENTITY_BITMAPS:
        expected = expected_identities(stored, bitmap.span_column, bitmap.grain)
        assert bitmap_identities(bitmap.table, bitmap.span_column, organization.pk) == expected, bitmap.table


def test_a_rollup_row_keeps_its_sketch_uncompressed_up_to_a_page(roles):
    """Migration 0017: a daily row whose sketches pass ~2 kB is stored as is, not pglz-compressed
    (which every fold paid again to merge a few spans in, and every read to decompress)."""
    import math

    organization = services.organization_ensure(slug="uncompressed")
    # 400 durations a sketch bucket apart: 400 keys, ~4.8 kB of sketch arrays in one daily row.
    spans = [simple_span(1, n, duration_us=round(1000 * math.exp(0.0191 * n))) for n in range(1, 401)]
    pipeline.ingest(organization, [(i, parse_json_span(span)) for i, span in enumerate(spans)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cardinality(duration_sketch_keys), pg_column_compression(duration_sketch_counts),"
            " pg_column_compression(duration_sketch_keys) FROM llm_metrics_1day WHERE org_id = %s",
            [organization.pk],
        )
        rows = cursor.fetchall()
    assert sum(keys for keys, _, _ in rows) == 400  # every span its own key, the rows as large as meant
    assert max(keys for keys, _, _ in rows) >= 200
    assert [(counts, keys) for _, counts, keys in rows] == [(None, None)] * len(rows)
