"""SQL for exact unique users and sessions: identity bitmaps, daily activity rollups, raw spans."""

from metrics.query.sources import ACTIVITY_SOURCE, RAW, Segment, uses_bitmaps
from metrics.query.spec import MetricsQuery
from metrics.query.sql_parts import (
    Params,
    bucket_expression,
    group_columns,
    needed_identities,
    where_sql,
)
from metrics.rollups.measures import chunk_and_bit_sql, identity_bitmap

ACTIVITY_TABLES = {"user_id": "llm_users_1day", "session_id": "llm_sessions_1day"}


def bitmap_unique_sql(query: MetricsQuery, segments: list[Segment], identity: str, params: Params) -> str:
    """Distinct identities per bucket from the organization's bitmaps, plus raw spans for the edges.

    The bitmaps of each answer bucket are ORed chunk by chunk; identities seen in raw edge spans
    count only when their bit is not already set (their numbers come from llm_identities).
    """
    bitmaps, edges = [], []
    chunk_of, bit_of = chunk_and_bit_sql("i.ordinal")
    for segment in segments:
        if segment.source == RAW:
            bucket = bucket_expression(query, "t.ts", params)
            identities = f"llm_identities i ON i.org_id = t.org_id AND i.kind = '{identity}' AND i.value = t.{identity}"
            where = where_sql(query, "t", "ts", segment, params)
            edges.append(
                f"SELECT {bucket} AS bucket, {chunk_of} AS chunk, {bit_of} AS bit"
                f" FROM llm_traces t JOIN {identities} WHERE {where}"
            )
        else:
            table = identity_bitmap(identity, segment.source).table
            bucket = bucket_expression(query, "b.bucket", params)
            where = where_sql(query, "b", "bucket", segment, params)
            bitmaps.append(f"SELECT {bucket} AS bucket, b.chunk, b.bits FROM {table} b WHERE {where}")
    union = (
        f"SELECT bucket, chunk, bitmap_union(bits) AS bits FROM ({' UNION ALL '.join(bitmaps)}) AS parts"
        " GROUP BY bucket, chunk"
        if bitmaps
        else "SELECT NULL::timestamptz AS bucket, NULL::integer AS chunk, NULL::varbit AS bits WHERE false"
    )
    seen = (
        f"SELECT DISTINCT bucket, chunk, bit FROM ({' UNION ALL '.join(edges)}) AS parts"
        if edges
        else "SELECT NULL::timestamptz AS bucket, NULL::integer AS chunk, NULL::integer AS bit WHERE false"
    )
    not_in_bitmap = "b.bits IS NULL OR e.bit >= length(b.bits) OR get_bit(b.bits, e.bit) = 0"
    per_chunk = (
        f"SELECT bucket, coalesce(max(bit_count(b.bits)), 0) + count(e.bit) FILTER (WHERE {not_in_bitmap}) AS n"
        f" FROM ({union}) AS b FULL JOIN ({seen}) AS e USING (bucket, chunk) GROUP BY bucket, chunk"
    )
    return f"SELECT bucket, sum(n)::bigint AS unique_{identity} FROM ({per_chunk}) AS chunks GROUP BY bucket"


def unique_ctes(query: MetricsQuery, segments: list[Segment], params: Params) -> list[tuple[str, str]]:
    if uses_bitmaps(segments):
        return [(f"uniq_{i}", bitmap_unique_sql(query, segments, i, params)) for i in needed_identities(query)]
    ctes = []
    group = ", ".join(["bucket", *(d.name for d in query.group_by)])
    for identity in needed_identities(query):
        parts = []
        for segment in segments:
            if segment.source == ACTIVITY_SOURCE:
                alias, table, time_column = "a", ACTIVITY_TABLES[identity], "bucket"
            else:
                alias, table, time_column = "t", "llm_traces", "ts"
            select = [f"{bucket_expression(query, f'{alias}.{time_column}', params)} AS bucket"]
            select += group_columns(query, alias) + [f"{alias}.{identity} AS identity"]
            where = where_sql(query, alias, time_column, segment, params) + f" AND {alias}.{identity} IS NOT NULL"
            parts.append(f"SELECT {', '.join(select)} FROM {table} {alias} WHERE {where}")
        # DISTINCT in a subquery is hashed; count(DISTINCT ...) always sorts (2-3x slower here).
        sql = (
            f"SELECT {group}, count(*) AS unique_{identity}"
            f" FROM (SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) AS ids) AS distinct_ids GROUP BY {group}"
        )
        ctes.append((f"uniq_{identity}", sql))
    return ctes
