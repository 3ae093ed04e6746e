"""Dense per-organization numbers for users and sessions, the bit positions of the identity bitmaps.

`identity_ordinals()` (migration 0006) hands out the numbers; ingest asks for a batch's
identities in a short transaction of their own before storing the spans, and rebuilds ask
for a day's. A number never changes once given.
"""

from collections.abc import Iterable
from typing import Any

from django.db import connection

# (org_id, value, ordinal) of one kind, for the rollup SQL to join spans with.
ORDINALS_TABLE_SQL = "(SELECT org_id, value, ordinal FROM llm_identities WHERE kind = '{kind}')"

_BATCH_SQL = (
    "SELECT 'user_id', value, ordinal FROM identity_ordinals(%(org_id)s, 'user_id', %(user_id)s::text[])"
    " UNION ALL "
    "SELECT 'session_id', value, ordinal FROM identity_ordinals(%(org_id)s, 'session_id', %(session_id)s::text[])"
)


def batch_ordinals(org_id: int, users: Iterable[str | None], sessions: Iterable[str | None]) -> dict[str, Any]:
    """The numbers of a batch's users and sessions, as the ingest statement's parameters."""
    params = {
        "org_id": org_id,
        "user_id": sorted({u for u in users if u is not None}),
        "session_id": sorted({s for s in sessions if s is not None}),
    }
    found: dict[str, tuple[list[str], list[int]]] = {"user_id": ([], []), "session_id": ([], [])}
    if params["user_id"] or params["session_id"]:
        with connection.cursor() as cursor:
            cursor.execute(_BATCH_SQL, params)
            for kind, value, ordinal in cursor.fetchall():
                found[kind][0].append(value)
                found[kind][1].append(ordinal)
    return {
        f"{kind}_{part}": values
        for kind, (names, numbers) in found.items()
        for part, values in (("values", names), ("ordinals", numbers))
    }


def number_identities(cursor: Any, source: str, identity: str) -> None:
    """Gives a number to every identity of `source` (a table of spans) that has none yet."""
    cursor.execute(
        f"SELECT org_id, array_agg(DISTINCT {identity}) FROM {source} WHERE {identity} IS NOT NULL GROUP BY org_id"
    )
    for org_id, values in cursor.fetchall():
        cursor.execute("SELECT count(*) FROM identity_ordinals(%s, %s, %s::text[])", [org_id, identity, values])
