"""Dense per-organization numbers for users and sessions, the bit positions of the identity bitmaps.

`identity_ordinals()` (migration 0006) hands out the numbers; ingest asks for a batch's
identities in a short transaction of their own before storing the spans, and rebuilds ask
for a range's. A number never changes once given. Ingest queues each span with its numbers,
which folds read (`queued_ordinals_sql`); rebuilds look them up once, when they gather their
spans from llm_traces (`with_ordinals_sql`), for every bitmap to read.
"""

from collections.abc import Iterable
from typing import Any

import psycopg
from django.db import connection

from metrics.ingest import binary_columns
from metrics.ingest.binary_columns import TextColumn
from metrics.rollups.measures import IDENTITY_COLUMNS


def ordinal_column(identity: str) -> str:
    return f"{identity}_ordinal"


def queued_ordinals_sql(spans: str, columns: Iterable[str]) -> str:
    """SELECT `columns` of `spans` (queued span rows, which carry their numbers since ingest
    learns them: no lookup per span here) with their user and session numbers. A row queued
    without them (before migration 0015) has them looked up."""
    numbers = []
    for identity in IDENTITY_COLUMNS:
        ordinal = ordinal_column(identity)
        lookup = (
            f"SELECT i.ordinal FROM llm_identities i WHERE i.org_id = {spans}.org_id"
            f" AND i.kind = '{identity}' AND i.value = {spans}.{identity}"
        )
        # coalesce evaluates the lookup only where the number is missing
        numbers.append(f"coalesce({spans}.{ordinal}, ({lookup})) AS {ordinal}")
    return f"SELECT {', '.join([*(f'{spans}.{c}' for c in columns), *numbers])} FROM {spans}"


def with_ordinals_sql(spans: str) -> str:
    """SELECT every column of `spans` (a CTE of span rows) plus the numbers of their user and session."""
    columns = [f"{spans}.*"]
    joins = []
    for alias, identity in (("u", "user_id"), ("s", "session_id")):
        columns.append(f"{alias}.ordinal AS {ordinal_column(identity)}")
        joins.append(
            f"LEFT JOIN llm_identities {alias} ON {alias}.org_id = {spans}.org_id"
            f" AND {alias}.kind = '{identity}' AND {alias}.value = {spans}.{identity}"
        )
    return f"SELECT {', '.join(columns)} FROM {spans} {' '.join(joins)}"


# Binary arrays, prepared once per connection: composed as text with the values quoted one by
# one, a batch of 600 new identities cost the worker 2.1 ms of CPU, this way 1.1 ms, and the
# call took 16.6 against 14.4 ms (the sixteenth round, 30 batches each in turn).
_BATCH_SQL = (
    "SELECT 'user_id', value, ordinal FROM identity_ordinals(%(org_id)s, 'user_id', %(user_id)b::text[])"
    " UNION ALL "
    "SELECT 'session_id', value, ordinal FROM identity_ordinals(%(org_id)s, 'session_id', %(session_id)b::text[])"
)


# A number never changes once given and committed, so each process remembers the ones it has
# seen: a batch of known users and sessions then needs no database round trip at all. An entry
# takes ~220 bytes (a 32-character id), so the memory is bounded: 100,000 entries are ~22 MB a
# worker. With 1,000,000, a worker fed a new session id with every span grew to 391 MB (3.5M
# such spans over 3 workers), past the 300 MB a worker may use; freed entries stay with the
# process for its next ones. `make soak SOAK_SESSIONS=per-span` measures it.
_known: dict[tuple[int, str, str], int] = {}
KNOWN_LIMIT = 100_000


def forget_known_ordinals() -> None:
    """Empties this process's memory of numbers (after the identities table was emptied)."""
    _known.clear()


def number_batch(org_id: int, users: Iterable[str | None], sessions: Iterable[str | None]) -> dict[str, dict[str, int]]:
    """Makes sure every user and session of a batch has its number (before its spans are stored);
    returns them, per kind: value → number."""
    numbers: dict[str, dict[str, int]] = {"user_id": {}, "session_id": {}}
    unknown: dict[str, TextColumn] = {"user_id": TextColumn(), "session_id": TextColumn()}
    for kind, values in (("user_id", users), ("session_id", sessions)):
        for value in {v for v in values if v is not None}:
            known = _known.get((org_id, kind, value))
            if known is None:
                unknown[kind].append(value)
            else:
                numbers[kind][value] = known
        unknown[kind].sort()
    if not (unknown["user_id"] or unknown["session_id"]):
        return numbers
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        binary_columns.register(cursor)
        cursor.execute(_BATCH_SQL, {"org_id": org_id, **unknown}, prepare=True)
        rows = cursor.fetchall()
    for kind, value, ordinal in rows:
        numbers[kind][value] = ordinal
    # Only numbers already committed may be remembered: inside a transaction they could
    # still be rolled back and given to someone else.
    if not connection.in_atomic_block:
        if len(_known) + len(rows) > KNOWN_LIMIT:
            _known.clear()
        _known.update(((org_id, kind, value), ordinal) for kind, value, ordinal in rows)
    return numbers


def number_identities(cursor: Any, source: str, identity: str, params: dict[str, Any] | None = None) -> None:
    """Gives a number to every identity of `source` (a table expression of spans) that has none yet."""
    # DISTINCT in a subquery can hash; array_agg(DISTINCT ...) always sorts (5.6 s instead of 2.7 s
    # for the 200,000 sessions of 9M spans).
    cursor.execute(
        f"SELECT org_id, array_agg({identity}) FROM (SELECT DISTINCT org_id, {identity} FROM {source}"
        f" WHERE {identity} IS NOT NULL) AS distinct_identities GROUP BY org_id",
        params,
    )
    for org_id, values in cursor.fetchall():
        cursor.execute("SELECT count(*) FROM identity_ordinals(%s, %s, %s::text[])", [org_id, identity, values])
