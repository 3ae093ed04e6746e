"""The ingest's column arrays, written in PostgreSQL's binary array format by the service itself:
read back by PostgreSQL exactly as sent, and byte for byte what psycopg's own dumping sends."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.numeric import Int8

from metrics.ingest import binary_columns, store
from metrics.ingest.binary_columns import BigintColumn, TextColumn
from metrics.ingest.records import SpanRecord
from tests.metrics.factories import stored_spans

pytestmark = pytest.mark.django_db

TEXTS = {
    "ascii": ["gpt-4o", "", "session-1", "a" * 127],
    "ascii and one longer": ["gpt-4o", "a" * 128],
    "every length under 128": ["x" * n for n in range(128)],
    "every length from 128 to 300": ["x" * n for n in range(128, 301)],
    "longer than 255": ["x" * 256, "short", "y" * 70_000],
    "not ascii": ["é", "模型", "emoji 🙂", "plain"],
    "latin-1 but not ascii": ["caf\xe9", "na\xefve"],
    "with nulls": [None, "a", None, "模型"],
    "only nulls": [None, None],
    "json text": ['{"span": {"gen_ai.request.model": "gpt-4o"}, "resource": {}}'],
    "one": ["one"],
    "empty": [],
}
BIGINTS = {
    "small": [0, 1, -1, 500],
    "extremes": [2**63 - 1, -(2**63), 2**31, -(2**31) - 1],
    "with nulls": [None, 7, None],
    "empty": [],
}


def _read_back(value: object, sql_type: str) -> list:
    """What PostgreSQL makes of the array the cursor sends (array_recv), read back."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        binary_columns.register(cursor)
        cursor.execute(f"SELECT %b::{sql_type}[]", [value])
        return cursor.fetchone()[0]


def _psycopg_bytes(values: list) -> bytes:
    transformer = Transformer()
    return bytes(transformer.get_dumper(values, PyFormat.BINARY).dump(values))


@pytest.mark.parametrize("values", TEXTS.values(), ids=TEXTS.keys())
def test_text_columns_reach_postgresql_as_sent(values):
    assert _read_back(TextColumn(values), "text") == values


@pytest.mark.parametrize("values", BIGINTS.values(), ids=BIGINTS.keys())
def test_bigint_columns_reach_postgresql_as_sent(values):
    assert _read_back(BigintColumn(values), "bigint") == values


# psycopg sends an empty list, or one of NULLs only, in text format: those are compared above only.
@pytest.mark.parametrize(
    "values", [v for v in TEXTS.values() if set(v) - {None}], ids=[k for k, v in TEXTS.items() if set(v) - {None}]
)
def test_text_columns_are_the_bytes_psycopg_would_send(values):
    assert binary_columns.text_array(values) == _psycopg_bytes(values)


@pytest.mark.parametrize("values", [v for v in BIGINTS.values() if v], ids=[k for k, v in BIGINTS.items() if v])
def test_bigint_columns_are_the_bytes_psycopg_would_send_for_int8(values):
    as_int8 = [None if v is None else Int8(v) for v in values]
    assert binary_columns.bigint_array(values) == _psycopg_bytes(as_int8)


def test_a_cursor_without_the_dumpers_sends_the_columns_as_plain_lists():
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("SELECT %b::text[], %b::bigint[]", [TextColumn(["a", None]), BigintColumn([1, None])])
        assert cursor.fetchone() == (["a", None], [1, None])


def test_a_batch_is_stored_as_its_records_say(org):
    """Every column of llm_traces, sent through these dumpers, against the records' own values."""
    now = datetime.now(UTC).replace(microsecond=654321)
    records = [
        SpanRecord(
            trace_id=f"{i:032x}",
            span_id=f"{i:016x}",
            ts=now - timedelta(seconds=i),
            provider="openai",
            model="模型" if i == 1 else "gpt-4o",
            parent_span_id=f"{i + 100:016x}" if i % 2 else None,
            span_name="chat",
            environment="production",
            status_code="ERROR" if i == 2 else "OK",
            duration_us=1_234_567 + i,
            ttft_us=None if i % 2 else 250_001,
            prompt_tokens=10 * i,
            completion_tokens=2**40 + i,
            total_tokens=2**40 + 11 * i,
            cache_read_tokens=None if i % 2 else i,
            prompt_cost=Decimal("0.0000000001") * i,
            completion_cost=Decimal("12.5"),
            total_cost=Decimal("12.5") + Decimal("0.0000000001") * i,
            error_type="timeout" if i == 2 else None,
            user_id=f"user-é{i}" if i % 2 else None,
            session_id=f"session-{i}",
            tags=["a", "ü"] if i == 3 else [],
            attributes={"span": {"n": i}},
        )
        for i in range(6)
    ]
    assert store.store_records(org.pk, records) == len(records)
    rows = {row["span_id"]: row for row in stored_spans(org.pk)}
    for record in records:
        row = rows[record.span_id]
        for name in ("trace_id", "ts", "provider", "model", "parent_span_id", "span_name", "environment"):
            assert row[name] == getattr(record, name), name
        for name in ("status_code", "error_type", "user_id", "session_id", "tags", "attributes"):
            assert row[name] == getattr(record, name), name
        for name in ("prompt_tokens", "completion_tokens", "total_tokens", "cache_read_tokens"):
            assert row[name] == getattr(record, name), name
        for name in ("prompt_cost", "completion_cost", "total_cost"):
            assert row[name] == getattr(record, name), name
        assert row["duration_ms"] == Decimal(record.duration_us) / 1000
        assert row["ttft_ms"] == (None if record.ttft_us is None else Decimal(record.ttft_us) / 1000)


def test_ingest_sends_its_columns_through_these_dumpers(org, monkeypatch):
    dumped = []
    for name in ("text_array", "bigint_array"):
        original = getattr(binary_columns, name)
        monkeypatch.setattr(
            binary_columns, name, lambda values, original=original, name=name: dumped.append(name) or original(values)
        )
    record = SpanRecord(trace_id="a" * 32, span_id="b" * 16, ts=datetime.now(UTC), prompt_tokens=3, user_id="u")
    assert store.store_records(org.pk, [record]) == 1
    assert set(dumped) == {"text_array", "bigint_array"}
