"""Writes spans in one statement, one transaction per request, then folds them into the rollups.

One INSERT puts the spans into llm_traces (skipping those already stored, when a batch has
any: see INGEST_NEW_SQL); its RETURNING rows (the spans actually new, never a re-sent one) go
to the rollup queue in the same statement, so what the rollups will receive is exactly what
the raw table received. After the commit the queue is folded into the rollups
(metrics.rollups.fold), together with whatever other batches queued meanwhile.
"""

import logging
import time
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from psycopg import errors as pg_errors

from metrics.ingest import binary_columns
from metrics.ingest.binary_columns import BigintColumn, TextColumn
from metrics.ingest.records import SpanRecord
from metrics.postgres_text import NUL_IN_JSON, any_nul, storable, storable_json_value
from metrics.rollups.fold import QUEUE, fold_soon
from metrics.rollups.identities import number_batch, ordinal_column
from metrics.rollups.maintenance import SPAN_COLUMNS_FOR_ROLLUPS
from metrics.rollups.measures import IDENTITY_COLUMNS
from metrics.rollups.partitions import ensure_partitions, forget_partitions

logger = logging.getLogger(__name__)

DEADLOCK_RETRIES = 3

# (name in the statement, SQL array type, how the value is stored in llm_traces)
_INPUT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ts", "timestamptz", "ts"),
    ("trace_id", "text", "trace_id"),
    ("span_id", "text", "span_id"),
    ("parent_span_id", "text", "parent_span_id"),
    ("span_name", "text", "span_name"),
    ("provider", "text", "provider"),
    ("model", "text", "model"),
    ("environment", "text", "environment"),
    ("status_code", "text", "status_code"),
    ("duration_us", "bigint", "round(duration_us::numeric / 1000, 3)"),
    ("ttft_us", "bigint", "round(ttft_us::numeric / 1000, 3)"),
    ("prompt_tokens", "bigint", "prompt_tokens"),
    ("completion_tokens", "bigint", "completion_tokens"),
    ("total_tokens", "bigint", "total_tokens"),
    ("cache_read_tokens", "bigint", "cache_read_tokens"),
    ("cache_write_tokens", "bigint", "cache_write_tokens"),
    ("reasoning_tokens", "bigint", "reasoning_tokens"),
    ("prompt_cost", "numeric", "prompt_cost"),
    ("completion_cost", "numeric", "completion_cost"),
    ("total_cost", "numeric", "total_cost"),
    ("error_type", "text", "error_type"),
    ("error_message", "text", "error_message"),
    ("finish_reason", "text", "finish_reason"),
    ("user_id", "text", "user_id"),
    ("session_id", "text", "session_id"),
    (
        "tags",
        "text",
        "CASE WHEN tags IS NULL THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)) END",
    ),
    ("attributes", "text", "attributes::jsonb"),
)
_NUMBER_COLUMNS = tuple(ordinal_column(identity) for identity in IDENTITY_COLUMNS)
# How each input column travels (numerics as their decimal text: see records_to_columns).
# (psycopg's own dumping of datetimes is as fast: the start times stay a plain list.)
_COLUMN_TYPES = {"timestamptz": list, "text": TextColumn, "numeric": TextColumn, "bigint": BigintColumn}
_STORED_NAMES = {
    "duration_us": "duration_ms",
    "ttft_us": "ttft_ms",
}


def _travels_as(sql_type: str) -> str:
    # Numerics travel as their exact decimal text (see records_to_columns), read back as numeric.
    return "text[]::numeric[]" if sql_type == "numeric" else f"{sql_type}[]"


def _ingest_sql(skip_stored: bool) -> str:
    # %b: arrays travel in binary, dumped in C, instead of escaped element by element as text.
    unnest_args = ", ".join(f"%({name})b::{_travels_as(sql_type)}" for name, sql_type, _ in _INPUT_COLUMNS)
    input_names = ", ".join(name for name, _, _ in _INPUT_COLUMNS)
    stored = ["org_id"] + [_STORED_NAMES.get(name, name) for name, _, _ in _INPUT_COLUMNS]
    expressions = ["%(org_id)s::bigint"] + [expression for _, _, expression in _INPUT_COLUMNS]
    rollup_columns = ", ".join(SPAN_COLUMNS_FOR_ROLLUPS)
    return f"""WITH incoming AS (
    SELECT * FROM unnest({unnest_args}) WITH ORDINALITY AS s({input_names}, position)
),
inserted AS (
    INSERT INTO llm_traces ({", ".join(stored)})
    SELECT {", ".join(expressions)}
    FROM incoming
    -- Key order avoids deadlocks between concurrent batches; `position` makes the first
    -- copy of a span repeated within one batch the one kept, as across batches.
    ORDER BY ts, trace_id, span_id, position
    {"ON CONFLICT DO NOTHING" if skip_stored else "-- every span is new, or the statement fails"}
    RETURNING {rollup_columns}
),
queued AS (
    -- Exactly the spans new to llm_traces wait for the rollups (metrics.rollups.fold), with
    -- their user and session numbers (known here: the fold, one at a time, need not look them up).
    INSERT INTO {QUEUE} ({rollup_columns}, {", ".join(_NUMBER_COLUMNS)})
    SELECT {", ".join(f"i.{c}" for c in SPAN_COLUMNS_FOR_ROLLUPS)}, u.ordinal, s.ordinal
    FROM inserted i
    LEFT JOIN unnest(%(user_id_values)b::text[], %(user_id_numbers)b::bigint[]) AS u(value, ordinal)
        ON u.value = i.user_id
    LEFT JOIN unnest(%(session_id_values)b::text[], %(session_id_numbers)b::bigint[]) AS s(value, ordinal)
        ON s.value = i.session_id
)
SELECT count(*) FROM inserted"""


# A batch is first stored as if every span were new: a plain INSERT. Skipping spans already
# stored (ON CONFLICT DO NOTHING) costs PostgreSQL every row: a lookup in the primary key before
# the insert, and a second WAL record confirming the row (speculative insertion): 2.5-3.2 µs of
# a span's ~35 µs in the statement on the 10M benchmark database. A batch with a span already
# stored, or one repeated within it, fails with a unique violation, rolls back, and is stored
# again skipping those: re-sent batches (a client retrying) pay twice, every other batch less.
INGEST_NEW_SQL = _ingest_sql(skip_stored=False)
INGEST_SQL = _ingest_sql(skip_stored=True)


# The SpanRecord fields that travel as they are (tags and attributes travel as JSON text).
_PLAIN_COLUMNS = tuple(name for name, _, _ in _INPUT_COLUMNS if name not in ("tags", "attributes"))
_read_plain_columns = attrgetter(*_PLAIN_COLUMNS)


def records_to_columns(org_id: int, records: Sequence[SpanRecord]) -> dict[str, Any]:
    """Column arrays for the statement's unnest(): one list per input column, text and bigint
    ones written in binary by metrics.ingest.binary_columns.

    A column that no span of the batch has (cache tokens, a parent, often an error) travels as
    one NULL instead of an array of NULLs to write and read element by element; unnest() pads
    it with NULLs. Likewise a span without tags sends NULL, read as none without parsing '[]'
    (~2 µs a span in the statement). Numerics (the costs) are sent as their exact decimal text:
    psycopg dumps a Decimal in Python at ~0.7 µs, str() and a text element take ~0.14. Strings
    are made storable here, the one place both doors' spans pass on their way to PostgreSQL
    (metrics.postgres_text).
    """
    columns: dict[str, Any] = {"org_id": org_id}
    # Every record's plain fields read at once and turned into columns by zip, in C.
    rows = list(map(_read_plain_columns, records))
    plain = (
        dict(zip(_PLAIN_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(_PLAIN_COLUMNS, ())
    )
    for name, sql_type, _ in _INPUT_COLUMNS:
        if name == "tags":
            values = [_json_text(r.tags) if r.tags else None for r in records]
        elif name == "attributes":
            values = [_json_text(r.attributes) for r in records]
        elif sql_type == "numeric":
            values = [None if number is None else str(number) for number in plain[name]]
        else:
            values = list(plain[name])
            if sql_type == "text" and any_nul(values):
                values = [storable(v) if v else v for v in values]
        columns[name] = None if values.count(None) == len(values) else _COLUMN_TYPES[sql_type](values)
    return columns


def _json_text(value: Any) -> str:
    text = orjson.dumps(value, default=str)
    if NUL_IN_JSON in text:
        text = orjson.dumps(storable_json_value(value), default=str)
    return text.decode()


def store_columns(columns: dict[str, Any], days: set[Any]) -> int:
    """Inserts the column arrays; returns how many spans were new. Retries deadlocks."""
    ensure_partitions(days)
    # Numbered before the spans are stored, so every queued identity has its number; the queue
    # carries each span's numbers to the fold.
    numbers = number_batch(columns["org_id"], columns["user_id"] or (), columns["session_id"] or ())
    for identity in IDENTITY_COLUMNS:
        columns[f"{identity}_values"] = TextColumn(numbers[identity])
        columns[f"{identity}_numbers"] = BigintColumn(numbers[identity].values())
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            try:
                return _execute(INGEST_NEW_SQL, columns)
            except pg_errors.UniqueViolation:
                return _execute(INGEST_SQL, columns)
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
            if attempt == DEADLOCK_RETRIES:
                raise
            logger.warning("ingest transaction retried after a deadlock (attempt %d)", attempt)
            time.sleep(0.01 * attempt)
        except pg_errors.CheckViolation as exc:
            # "no partition of relation found": retention dropped a partition we remembered.
            if "partition" not in str(exc) or attempt == DEADLOCK_RETRIES:
                raise
            forget_partitions()
            ensure_partitions(days)
    raise RuntimeError("unreachable")


def _execute(sql: str, columns: dict[str, Any]) -> int:
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        # A server-side-binding cursor, so the statement is prepared once per connection.
        with psycopg.Cursor(raw) as cursor:
            binary_columns.register(cursor)
            # A stuck lock or an overloaded server becomes a quick, retryable 503, not a hung client.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [str(settings.INGEST_STATEMENT_TIMEOUT_MS)]
            )
            cursor.execute(sql, columns, prepare=True)
            row = cursor.fetchone()
    return int(row[0]) if row else 0


def store_records(org_id: int, records: Sequence[SpanRecord]) -> int:
    if not records:
        return 0
    stored = store_columns(records_to_columns(org_id, records), {r.ts.date() for r in records})
    fold_soon()  # the spans are committed: a failed fold only delays them in the rollups
    return stored
