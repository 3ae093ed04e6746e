"""The benchmark scenarios (SPEC §12) and, for S1, S3 and S5, the best single SQL statement ("floor")."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from metrics.rollups.measures import STORED_QUANTILES
from metrics.sketch import GAMMA, ZERO_KEY


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    floor_sql: str | None = None
    check: Callable[[dict[str, Any]], None] | None = None

    @property
    def time_range(self) -> tuple[str, str]:
        """The start and end times asked for, from the query string or the body."""
        asked = self.params or self.body or {}
        return asked["start_time"], asked["end_time"]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def scenarios(end: datetime) -> list[Scenario]:
    """`end` is a whole hour; every range ends there."""
    day_end = end.replace(hour=0) + timedelta(days=1)
    s1 = {
        "metrics": "request_count,total_cost",
        "interval": "1hour",
        "group_by": "provider",
        "start_time": iso(end - timedelta(hours=24)),
        "end_time": iso(end),
    }
    s5 = {
        "metrics": [
            {"metric": "request_count", "aggregation": "sum", "alias": "requests"},
            {"metric": "duration", "aggregation": "p95", "alias": "p95"},
            {"metric": "total_cost", "aggregation": "sum", "alias": "cost"},
        ],
        "interval": "1day",
        "start_time": iso(day_end - timedelta(days=90)),
        "end_time": iso(day_end),
        "group_by": ["model"],
        "filters": [
            {"dimension": "environment", "operator": "eq", "value": "production"},
            {"dimension": "provider", "operator": "in", "value": ["openai", "anthropic", "google"]},
        ],
        "having": [{"metric": "request_count", "aggregation": "sum", "operator": "gte", "value": 100}],
        "sort_by": {"field": "cost", "descending": True},
        "limit": 10000,
    }
    return [
        Scenario(
            "S1",
            "GET metrics 24h 1hour request_count+total_cost by provider",
            "GET",
            "/api/v1/metrics",
            params=s1,
            floor_sql=S1_FLOOR,
        ),
        Scenario(
            "S2",
            "GET metrics 7d 1hour duration+percentiles by model",
            "GET",
            "/api/v1/metrics",
            params={
                "metrics": "duration",
                "interval": "1hour",
                "group_by": "model",
                "include_percentiles": "true",
                "start_time": iso(end - timedelta(days=7)),
                "end_time": iso(end),
            },
        ),
        Scenario(
            "S3",
            "GET summary 24h with comparison",
            "GET",
            "/api/v1/metrics/summary",
            params={"start_time": iso(end - timedelta(hours=24)), "end_time": iso(end)},
            floor_sql=S3_FLOOR,
        ),
        Scenario(
            "S4",
            "GET summary 30d",
            "GET",
            "/api/v1/metrics/summary",
            params={"start_time": iso(end - timedelta(days=30)), "end_time": iso(end)},
        ),
        Scenario(
            "S5",
            "POST query 90d 1day by model, filters, having, sort, p95",
            "POST",
            "/api/v1/metrics/query",
            body=s5,
            floor_sql=S5_FLOOR,
        ),
        Scenario(
            "S6",
            "POST query 7d totals by user_id, top 100 by cost (raw)",
            "POST",
            "/api/v1/metrics/query",
            body={
                "metrics": [{"metric": "total_cost", "alias": "cost"}, {"metric": "request_count"}],
                "interval": None,
                "start_time": iso(end - timedelta(days=7)),
                "end_time": iso(end),
                "group_by": ["user_id"],
                "sort_by": {"field": "cost", "descending": True},
                "limit": 100,
            },
        ),
    ]


# Not a SPEC scenario: the cheapest answer the server gives over HTTP (Django, no authentication,
# no database), timed right after S1 with the same client. S1 over HTTP cannot cost less than its
# statement plus this, which bounds S1 ÷ floor from below (bench/README, "Targets").
HTTP_PATH = Scenario("H0", "GET /health: the HTTP path alone (no authentication, no database)", "GET", "/health")


# Floors: what a hand-written statement against the best tables the service keeps costs, with
# the same answer. S1 reads the provider-and-model hourly rollup (fewer rows than the full one),
# S5 the daily one by provider, model and environment (its stored p95 where a day and model is
# one row).
S1_FLOOR = """
SELECT bucket, provider, sum(request_count), sum(total_cost_sum)
FROM llm_models_1hour
WHERE org_id = %(org_id)s AND bucket >= %(start)s AND bucket < %(end)s
GROUP BY bucket, provider ORDER BY bucket, provider
"""

# Checked once, not timed: S1's numbers straight from the raw spans (the floor reads the rollup
# the API reads).
S1_CHECK = """
SELECT date_trunc('hour', ts, 'UTC'), provider, count(*), coalesce(sum(total_cost), 0)
FROM llm_traces
WHERE org_id = %(org_id)s AND ts >= %(start)s AND ts < %(end)s
GROUP BY 1, 2 ORDER BY 1, 2
"""

# The best single statement over the tables the service keeps for everything the summary answers:
# both periods' totals and p95 (hourly totals, sketches merged in SQL), unique users and sessions
# (identity bitmaps), the four top-5 lists with their shares (hourly models rollup) and the ten
# most common errors (hourly error rollup), as one JSON document.
S3_FLOOR = f"""
WITH bounds AS (
    SELECT %(start)s::timestamptz AS start, %(end)s::timestamptz AS stop,
           %(start)s::timestamptz - (%(end)s::timestamptz - %(start)s::timestamptz) AS previous_start
), totals AS (
    SELECT t.* , t.bucket >= b.start AS current
    FROM llm_totals_1hour t, bounds b
    WHERE t.org_id = %(org_id)s AND t.bucket >= b.previous_start AND t.bucket < b.stop
), periods AS (
    SELECT current, sum(request_count) AS requests, sum(total_cost_sum) AS cost, sum(total_tokens_sum) AS tokens,
           sum(duration_sum) / nullif(sum(duration_count), 0) AS avg_duration, sum(error_count) AS errors
    FROM totals GROUP BY current
), keyed AS (
    SELECT current, k, sum(sum(c)) OVER (PARTITION BY current ORDER BY k) AS running,
           sum(sum(c)) OVER (PARTITION BY current) AS total
    FROM totals, unnest(duration_sketch_keys, duration_sketch_counts) AS u(k, c)
    GROUP BY current, k
), p95 AS (
    SELECT current, min(k) FILTER (WHERE running >= greatest(1, ceil(0.95 * total::float8))) AS k
    FROM keyed GROUP BY current
), identities AS (
    -- users and sessions alike: each period's bitmaps ORed chunk by chunk, the ones counted
    SELECT current, sum(bit_count(bits)) FILTER (WHERE kind = 'users') AS users,
           sum(bit_count(bits)) FILTER (WHERE kind = 'sessions') AS sessions
    FROM (
        SELECT i.kind, i.bucket >= b.start AS current, bitmap_union(i.bits) AS bits
        FROM (SELECT 'users' AS kind, org_id, bucket, chunk, bits FROM llm_users_bitmap_1hour
              UNION ALL SELECT 'sessions', org_id, bucket, chunk, bits FROM llm_sessions_bitmap_1hour) i, bounds b
        WHERE i.org_id = %(org_id)s AND i.bucket >= b.previous_start AND i.bucket < b.stop
        GROUP BY 1, 2, i.chunk
    ) AS chunks GROUP BY current
), models AS (
    SELECT provider, model, sum(request_count) AS requests, sum(total_cost_sum) AS cost,
           sum(duration_sum) / nullif(sum(duration_count), 0) AS avg_duration,
           coalesce(sum(duration_sum), 0) AS time_spent, sum(error_count) AS errors
    FROM llm_models_1hour m, bounds b
    WHERE m.org_id = %(org_id)s AND m.bucket >= b.start AND m.bucket < b.stop
    GROUP BY provider, model
), rankings AS (
    SELECT 'by_cost' AS ranking, provider, model, cost AS value, cost AS share FROM models WHERE cost > 0
    UNION ALL SELECT 'by_requests', provider, model, requests, requests FROM models WHERE requests > 0
    UNION ALL SELECT 'by_duration', provider, model, avg_duration, time_spent FROM models WHERE avg_duration > 0
    UNION ALL SELECT 'by_errors', provider, model, errors, errors FROM models WHERE errors > 0
), ranked AS (
    SELECT ranking, provider, model, value,
           round((share / nullif(sum(share) OVER (PARTITION BY ranking), 0) * 100)::numeric, 2) AS percentage,
           row_number() OVER (PARTITION BY ranking ORDER BY value DESC, provider, model) AS place
    FROM rankings
), errors AS (
    SELECT coalesce(nullif(error_type, ''), 'unknown') AS error_type, sum(error_count) AS n,
           min(sample_message) AS sample
    FROM llm_errors_1hour e, bounds b
    WHERE e.org_id = %(org_id)s AND e.bucket >= b.start AND e.bucket < b.stop
    GROUP BY 1 ORDER BY n DESC, error_type LIMIT 10
)
SELECT json_build_object(
    'periods', (
        SELECT json_agg(json_build_object(
            'current', p.current, 'requests', p.requests, 'cost', p.cost, 'tokens', p.tokens,
            'avg_duration', p.avg_duration, 'errors', p.errors,
            'error_rate', p.errors::float8 / nullif(p.requests, 0),
            'p95', CASE WHEN q.k = {ZERO_KEY} THEN 0
                        ELSE 2 * power({GAMMA!r}::float8, q.k) / ({GAMMA!r}::float8 + 1) END,
            'users', i.users, 'sessions', i.sessions))
        FROM periods p LEFT JOIN p95 q USING (current) LEFT JOIN identities i USING (current)),
    'top', (
        SELECT json_object_agg(ranking, items) FROM (
            SELECT ranking, json_agg(json_build_object('provider', provider, 'model', model, 'value', value,
                                                       'percentage', percentage) ORDER BY place) AS items
            FROM ranked WHERE place <= 5 GROUP BY ranking) AS lists),
    'errors', (SELECT json_agg(json_build_object('error_type', error_type, 'count', n, 'sample_message', sample))
               FROM errors)
)
"""

# Checked once, not timed: the current period's numbers straight from the raw spans.
S3_CHECK = """
SELECT true, count(*), sum(total_cost), sum(total_tokens), avg(duration_ms),
       count(*) FILTER (WHERE status_code = 'ERROR'), count(DISTINCT user_id), count(DISTINCT session_id)
FROM llm_traces
WHERE org_id = %(org_id)s AND ts >= %(start)s AND ts < %(end)s
"""

S5_FLOOR = f"""
WITH totals AS (
    SELECT bucket, model, sum(request_count) AS requests, sum(total_cost_sum) AS cost, count(*) AS merged,
           min(duration_quantiles[{STORED_QUANTILES.index(0.95) + 1}]) AS stored_p95
    FROM llm_models_env_1day
    WHERE org_id = %(org_id)s AND bucket >= %(start)s AND bucket < %(end)s
      AND environment = 'production' AND provider = ANY(ARRAY['openai', 'anthropic', 'google'])
    GROUP BY bucket, model HAVING sum(request_count) >= 100
), keyed AS (  -- a (day, model) made of several rows (several providers): their sketches merged
    -- (read again for those groups only, so that no other row's sketch is carried along)
    SELECT r.bucket, r.model, k, sum(c) AS c,
           sum(sum(c)) OVER (PARTITION BY r.bucket, r.model ORDER BY k) AS running,
           sum(sum(c)) OVER (PARTITION BY r.bucket, r.model) AS total
    FROM totals t
    JOIN llm_models_env_1day r
      ON r.org_id = %(org_id)s AND r.bucket = t.bucket AND r.model = t.model AND r.environment = 'production'
     AND r.provider = ANY(ARRAY['openai', 'anthropic', 'google']),
    unnest(r.duration_sketch_keys, r.duration_sketch_counts) AS u(k, c)
    WHERE t.merged > 1
    GROUP BY r.bucket, r.model, k
), p95 AS (
    SELECT bucket, model, min(k) FILTER (WHERE running >= greatest(1, ceil(0.95 * total::float8))) AS k
    FROM keyed GROUP BY bucket, model
)
SELECT t.bucket, t.model, t.requests,
       CASE WHEN t.merged = 1 THEN t.stored_p95
            WHEN p.k = {ZERO_KEY} THEN 0 ELSE 2 * power({GAMMA!r}::float8, p.k) / ({GAMMA!r}::float8 + 1) END,
       t.cost
FROM totals t LEFT JOIN p95 p USING (bucket, model)
ORDER BY t.cost DESC, t.bucket, t.model  -- equal costs in the API's tie order (bucket, then model)
"""
