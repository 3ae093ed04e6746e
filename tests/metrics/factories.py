"""Builders for spans in the two wire formats, and an independent reader of what was stored."""

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection

from metrics.rollups.measures import BITMAP_CHUNK_BITS

_ids = itertools.count(1)


def another_session(*, autocommit: bool = True) -> psycopg.Connection:
    """A second connection to the test database, outside Django: a concurrent session holding locks."""
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"], port=s["PORT"], autocommit=autocommit
    )


def new_trace_id() -> str:
    return f"{random.getrandbits(128) | 1:032x}"


def new_span_id() -> str:
    return f"{(next(_ids) << 20) | random.getrandbits(20) | 1:016x}"


def json_span(**overrides: Any) -> dict[str, Any]:
    """A valid span for POST /api/v1/spans."""
    span: dict[str, Any] = {
        "trace_id": new_trace_id(),
        "span_id": new_span_id(),
        "start_time": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "duration_ms": 850.5,
        "provider": "openai",
        "model": "gpt-4o",
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "status_code": "OK",
        "user_id": "user-1",
        "session_id": "session-1",
        "environment": "production",
    }
    span.update(overrides)
    return {k: v for k, v in span.items() if v is not None}


def stored_spans(org_id: int) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM llm_traces WHERE org_id = %s ORDER BY ts, span_id", [org_id])
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django's cursor leaves jsonb as text for JSONField to decode
        if isinstance(row["attributes"], str):
            row["attributes"] = json.loads(row["attributes"])
    return rows


def rollup_rows(table: str, org_id: int) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {table} WHERE org_id = %s ORDER BY 1, 2, 3",
            [org_id],
        )
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def bitmap_identities(table: str, identity: str, org_id: int) -> dict[Any, set[str]]:
    """A bitmap table's buckets with the identities whose bits are set, read back through llm_identities."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.bucket, i.value FROM " + table + " b JOIN llm_identities i"
            " ON i.org_id = b.org_id AND i.kind = %(kind)s AND i.ordinal / %(chunk)s = b.chunk"
            " AND mod(i.ordinal, %(chunk)s) < length(b.bits)"
            " AND get_bit(b.bits, mod(i.ordinal, %(chunk)s)::integer) = 1"
            " WHERE b.org_id = %(org)s",
            {"kind": identity, "chunk": BITMAP_CHUNK_BITS, "org": org_id},
        )
        seen: dict[Any, set[str]] = {}
        for bucket, value in cursor.fetchall():
            seen.setdefault(bucket, set()).add(value)
        cursor.execute("SELECT bucket, sum(bit_count(bits)) FROM " + table + " WHERE org_id = %s GROUP BY 1", [org_id])
        # every set bit stands for exactly one known identity
        assert {b: n for b, n in cursor.fetchall()} == {b: len(v) for b, v in seen.items()}
    return seen


def number_identities_from(org_id: int, first: int) -> None:
    """The organization's users and sessions get numbers from `first` on, as if it had seen that
    many already (bitmaps keep BITMAP_CHUNK_BITS numbers a chunk: tests cross chunk boundaries)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO llm_identity_counters (org_id, kind, next_ordinal)"
            " VALUES (%(org)s, 'user_id', %(first)s), (%(org)s, 'session_id', %(first)s)",
            {"org": org_id, "first": first},
        )


def money(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("1e-10"))


def queued_spans_of(org_id: int) -> int:
    """How many of an organization's stored spans still wait in the rollup queue."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM llm_rollup_queue WHERE org_id = %s", [org_id])
        return int(cursor.fetchone()[0])


def store_unfolded(org_id: int, records: list[Any]) -> int:
    """Stores and queues span records as ingest does, without the fold that ingest then asks for."""
    from metrics.ingest import store

    return store.store_columns(store.records_to_columns(org_id, records), {r.ts.date() for r in records})
