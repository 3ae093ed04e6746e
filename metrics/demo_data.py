"""A realistic, deterministic span dataset for the demo and the benchmark, generated inside PostgreSQL.

The rows are produced by one INSERT … SELECT over generate_series per chunk (no per-row
Python), seeded with setseed() so the same arguments give the same spans, and priced with
the per-token rates the ingest pipeline uses (metrics.ingest.pricing), each model's of noon
UTC: a model with off-peak hours (DeepSeek) keeps its peak price here, where ingest would
price a span of those hours lower. Rollups are then built by rebuild_rollups: the SQL that
the live ingest path runs.

Shape: a daily cycle (busy around 15:00 UTC), 6 providers and 40 real models with real
prices, 3 environments, skewed users and sessions, ~3 % errors of four kinds with messages,
log-normal latencies per model, time to first token on the streaming half.
"""

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from metrics.ingest.pricing import MILLION, Rates, normalize_provider, rates_for
from metrics.rollups.partitions import ensure_partitions, existing_partitions
from metrics.rollups.rebuild import each_on_own_connection, rebuild_rollups

CHUNK_SPANS = 500_000


@dataclass(frozen=True)
class DemoModel:
    provider: str
    model: str
    weight: float  # share of traffic
    latency_ms: float  # median latency
    reasoning: bool = False


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel("openai", "gpt-4o", 14, 1800),
    DemoModel("openai", "gpt-4o-mini", 16, 900),
    DemoModel("openai", "gpt-4.1", 6, 2000),
    DemoModel("openai", "gpt-4.1-mini", 5, 1000),
    DemoModel("openai", "gpt-4.1-nano", 3, 600),
    DemoModel("openai", "o3", 1.5, 9000, reasoning=True),
    DemoModel("openai", "o3-mini", 2, 5000, reasoning=True),
    DemoModel("openai", "o4-mini", 2.5, 4500, reasoning=True),
    DemoModel("openai", "o1", 0.5, 12000, reasoning=True),
    DemoModel("openai", "o1-mini", 0.5, 6000, reasoning=True),
    DemoModel("openai", "gpt-4-turbo", 1, 2500),
    DemoModel("openai", "gpt-4", 0.5, 3000),
    DemoModel("openai", "gpt-3.5-turbo", 2, 700),
    DemoModel("openai", "gpt-5", 3, 3500, reasoning=True),
    DemoModel("openai", "gpt-5-mini", 3, 1800, reasoning=True),
    DemoModel("anthropic", "claude-3-5-sonnet", 6, 2200),
    DemoModel("anthropic", "claude-3-5-haiku", 4, 900),
    DemoModel("anthropic", "claude-3-7-sonnet", 4, 2400),
    DemoModel("anthropic", "claude-sonnet-4", 6, 2600),
    DemoModel("anthropic", "claude-opus-4", 1, 5000),
    DemoModel("anthropic", "claude-opus-4-1", 1, 5200),
    DemoModel("anthropic", "claude-3-haiku", 2, 600),
    DemoModel("anthropic", "claude-3-opus", 0.5, 6000),
    DemoModel("anthropic", "claude-haiku-4-5", 2, 800),
    DemoModel("google", "gemini-2.5-flash", 4, 1100),
    DemoModel("google", "gemini-2.0-flash", 3, 700),
    DemoModel("google", "gemini-2.0-flash-lite", 1.5, 500),
    DemoModel("google", "gemini-2.5-flash-lite", 1.5, 450),
    DemoModel("mistral", "mistral-large-latest", 1.5, 2100),
    DemoModel("mistral", "mistral-small-latest", 1.5, 800),
    DemoModel("mistral", "mistral-medium-latest", 1, 1400),
    DemoModel("mistral", "codestral-latest", 1, 900),
    DemoModel("mistral", "open-mistral-nemo", 0.5, 700),
    DemoModel("mistral", "ministral-8b-latest", 0.5, 500),
    DemoModel("deepseek", "deepseek-chat", 2, 2500),
    DemoModel("deepseek", "deepseek-reasoner", 1, 15000, reasoning=True),
    DemoModel("groq", "llama-3.1-8b-instant", 1.5, 250),
    DemoModel("groq", "llama-3.3-70b-versatile", 1.5, 450),
    DemoModel("groq", "gemma2-9b-it", 0.5, 300),
    DemoModel("groq", "mixtral-8x7b-32768", 0.5, 400),
)


@dataclass(frozen=True)
class DatasetSpec:
    org_id: int
    spans: int
    days: int
    seed: int
    users: int = 20_000
    sessions: int = 200_000
    end: datetime | None = None  # default: now


def _model_rates(org_id: int, day: datetime) -> list[tuple[int, DemoModel, Rates]]:
    # One price per model for the whole dataset: the day's at noon UTC (peak hours where a
    # provider has off-peak prices).
    noon = day.astimezone(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    result = []
    for index, model in enumerate(DEMO_MODELS):
        rates = rates_for(org_id, normalize_provider(model.provider), model.model, noon)
        if not isinstance(rates, Rates):
            raise RuntimeError(f"no flat price for demo model {model.provider}/{model.model}")
        result.append((index, model, rates))
    return result


_GENERATE_SQL = """
INSERT INTO llm_traces (
    org_id, ts, trace_id, span_id, span_name, provider, model, environment, status_code,
    duration_ms, ttft_ms, prompt_tokens, completion_tokens, total_tokens, cache_read_tokens,
    reasoning_tokens, prompt_cost, completion_cost, total_cost, error_type, error_message,
    finish_reason, user_id, session_id, attributes
)
SELECT %(org_id)s, t.ts, d.trace_id, d.span_id, 'chat ' || m.model, m.provider, m.model, d.environment,
       d.status_code, t.duration_ms, t.ttft_ms, k.prompt_tokens, k.completion_tokens,
       k.prompt_tokens + k.completion_tokens, k.cache_read_tokens, k.reasoning_tokens,
       c.prompt_cost, c.completion_cost, c.prompt_cost + c.completion_cost,
       d.error_type, d.error_message,
       CASE WHEN d.status_code = 'ERROR' THEN NULL WHEN k.completion_tokens >= 16000 THEN 'length' ELSE 'stop' END,
       d.user_id, d.session_id, '{"generator": "demo"}'::jsonb
FROM (
    -- One row of uniform draws per span; the column order fixes the order of random() calls.
    SELECT i, random() AS u_model, 1 - random() AS u_lat1, random() AS u_lat2, 1 - random() AS u_tok1,
           random() AS u_tok2, 1 - random() AS u_tok3, random() AS u_tok4, random() AS u_day,
           random() AS u_mix, 1 - random() AS u_tod1, random() AS u_tod2, random() AS u_env,
           random() AS u_err, random() AS u_errtype, random() AS u_stream, random() AS u_ttft,
           random() AS u_cache, random() AS u_user, random() AS u_session
    FROM generate_series(%(first)s, %(last)s) AS i
) AS g
JOIN demo_models AS m ON m.idx = width_bucket(g.u_model, %(bounds)s::float8[])
CROSS JOIN LATERAL (
    -- Unique and deterministic ids: seed, org and row number in hex.
    SELECT lpad(to_hex(%(seed)s), 8, '0') || lpad(to_hex(%(org_id)s), 8, '0') || lpad(to_hex(g.i), 16, '0') AS trace_id,
           lpad(to_hex(g.i), 16, '0') AS span_id,
           CASE WHEN g.u_env < 0.7 THEN 'production' WHEN g.u_env < 0.9 THEN 'staging' ELSE 'development' END
               AS environment,
           CASE WHEN g.u_err < 0.03 THEN 'ERROR' ELSE 'OK' END AS status_code,
           CASE WHEN g.u_err >= 0.03 THEN NULL WHEN g.u_errtype < 0.4 THEN 'RateLimitError'
                WHEN g.u_errtype < 0.65 THEN 'APITimeoutError' WHEN g.u_errtype < 0.85 THEN 'InternalServerError'
                ELSE 'ContextLengthExceeded' END AS error_type,
           CASE WHEN g.u_err >= 0.03 THEN NULL
                WHEN g.u_errtype < 0.4 THEN 'Rate limit reached for requests per minute. Please try again in 20s.'
                WHEN g.u_errtype < 0.65 THEN 'Request timed out.'
                WHEN g.u_errtype < 0.85 THEN 'The server had an error while processing your request.'
                ELSE 'This model''s maximum context length is 128000 tokens.' END AS error_message,
           'user-' || lpad(floor(g.u_user * g.u_user * %(users)s)::int::text, 5, '0') AS user_id,
           'session-' || floor(g.u_session * %(sessions)s)::int AS session_id,
           -- Box-Muller normals from pairs of uniforms
           sqrt(-2 * ln(g.u_lat1)) * cos(2 * pi() * g.u_lat2) AS n_latency,
           sqrt(-2 * ln(g.u_tok1)) * cos(2 * pi() * g.u_tok2) AS n_prompt,
           sqrt(-2 * ln(g.u_tok3)) * cos(2 * pi() * g.u_tok4) AS n_completion,
           sqrt(-2 * ln(g.u_tod1)) * cos(2 * pi() * g.u_tod2) AS n_time_of_day
) AS d
CROSS JOIN LATERAL (
    SELECT least(200000, greatest(1, floor(exp(6.8 + 1.1 * d.n_prompt))))::bigint AS prompt_tokens,
           CASE WHEN d.status_code = 'ERROR' THEN 0
                ELSE least(16000, greatest(1, floor(exp(5.2 + 0.9 * d.n_completion)))) END::bigint
               AS completion_tokens
) AS k0
CROSS JOIN LATERAL (
    SELECT k0.prompt_tokens, k0.completion_tokens,
           CASE WHEN g.u_cache < 0.3 THEN floor(k0.prompt_tokens * 0.6 * g.u_cache / 0.3)::bigint END
               AS cache_read_tokens,
           CASE WHEN m.reasoning THEN floor(k0.completion_tokens * 0.5)::bigint END AS reasoning_tokens
) AS k
CROSS JOIN LATERAL (
    SELECT round((k.prompt_tokens - coalesce(k.cache_read_tokens, 0)) * m.input_rate
                 + coalesce(k.cache_read_tokens, 0) * m.cache_read_rate, 10) AS prompt_cost,
           round(k.completion_tokens * m.output_rate, 10) AS completion_cost
) AS c
CROSS JOIN LATERAL (
    SELECT ts, duration_ms,
           CASE WHEN g.u_stream < 0.5 THEN round((duration_ms * (0.08 + 0.25 * g.u_ttft))::numeric, 3) END AS ttft_ms
    FROM (
        SELECT date_trunc('day', %(start)s::timestamptz, 'UTC') + floor(g.u_day * %(days)s) * interval '1 day'
                   -- time of day: a quarter uniform, the rest normal around 15:00 UTC (sd 3.5 h), wrapped
                   + make_interval(secs => CASE WHEN g.u_mix < 0.25 THEN g.u_tod2 * 86400
                          ELSE 54000 + 12600 * d.n_time_of_day
                               - 86400 * floor((54000 + 12600 * d.n_time_of_day) / 86400) END)
                   AS raw_ts,
               least(600000, round(exp(ln(m.latency_ms) + 0.6 * d.n_latency)::numeric
                   * CASE WHEN d.status_code = 'ERROR' THEN 0.4 ELSE 1 END, 3)) AS duration_ms
    ) AS raw
    CROSS JOIN LATERAL (
        -- `days` whole calendar days from the one holding start; the part of the first one
        -- before start moves by the whole range to the last (partial) day, keeping its time
        -- of day (the daily cycle): every day of the range gets the same share. (Drawing
        -- days + 1 days and moving by one day gave the last full day twice its share.)
        SELECT CASE WHEN raw_ts < %(start)s::timestamptz THEN raw_ts + make_interval(days => %(days)s)
                    WHEN raw_ts >= %(end)s::timestamptz THEN raw_ts - make_interval(days => %(days)s)
                    ELSE raw_ts END AS ts
    ) AS clamped
) AS t
-- Inserting in time order appends to the (org, ts, ...) index instead of scattering into it.
ORDER BY t.ts
"""


def organization_has_spans_since(org_id: int, days: int) -> bool:
    """Whether the org has any span in the last `days` days (an index probe on (org_id, ts))."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM llm_traces WHERE org_id = %s AND ts >= now() - make_interval(days => %s))",
            [org_id, days],
        )
        return bool(cursor.fetchone()[0])


def generate_dataset(
    spec: DatasetSpec,
    *,
    progress: Callable[[int, int], None] | None = None,
    rollup_progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> int:
    """Inserts `spec.spans` spans over the `spec.days` days before `spec.end`; returns how many were new.

    Chunks are drawn independently (each seeds its own random draws), so `workers` of them
    are generated at once on their own connections, and the rollups rebuilt `workers` days
    at once (default: one per core; one at a time inside a caller's transaction).
    `progress(spans done, spans)` follows the generation, `rollup_progress(days done, days)` the rollups.
    """
    workers = workers or os.cpu_count() or 1
    end = (spec.end or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(days=spec.days)
    ensure_partitions((start + timedelta(days=offset)).date() for offset in range(spec.days + 2))
    models = _model_rates(spec.org_id, end)
    total_weight = sum(model.weight for model in DEMO_MODELS)
    cumulative, bounds = 0.0, []
    for model in DEMO_MODELS:
        bounds.append(cumulative / total_weight)
        cumulative += model.weight
    firsts = list(range(1, spec.spans + 1, CHUNK_SPANS))
    done, lock = [0, 0], threading.Lock()

    def chunk(first: int) -> int:
        last = min(spec.spans, first + CHUNK_SPANS - 1)
        inserted = _generate_chunk(spec, start, end, models, bounds, first, last)
        with lock:
            done[0] += last - first + 1
            done[1] += inserted
            if progress:
                progress(done[0], spec.spans)
        return inserted

    partitions = [name for day, name in sorted(existing_partitions().items()) if start.date() <= day <= end.date()]
    each_on_own_connection(chunk, firsts, workers)
    each_on_own_connection(_analyze_quickly, partitions, workers)
    rebuild_rollups(
        start=start - timedelta(days=1),
        end=end + timedelta(days=1),
        org_id=spec.org_id,
        workers=workers,
        progress=rollup_progress,
    )
    return done[1]


def _analyze_quickly(partition: str) -> None:
    """The rollups' plans need to know the new rows are there (autovacuum would notice too late).

    A small sample tells them (the row counts and which organizations the rows belong to) in a
    seventh of a full ANALYZE's time: 59 instead of 427 ms for a partition of 100,000 spans, 40 s
    per organization of a 10M load before. Finer statistics come with the next full ANALYZE (the
    benchmark's VACUUM ANALYZE); a demo's partitions are smaller than the sample anyway.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL default_statistics_target = 10")
        cursor.execute(f"ANALYZE {partition}")


def _generate_chunk(
    spec: DatasetSpec,
    start: datetime,
    end: datetime,
    models: list[tuple[int, DemoModel, Rates]],
    bounds: list[float],
    first: int,
    last: int,
) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS demo_models")
        cursor.execute(
            # Rates per token (USD per million / 10^6, exact in numeric).
            "CREATE TEMP TABLE demo_models (idx int PRIMARY KEY, provider text, model text,"
            " latency_ms float8, reasoning bool, input_rate numeric, output_rate numeric, cache_read_rate numeric)"
            " ON COMMIT DROP"
        )
        for index, model, rates in models:
            cursor.execute(
                "INSERT INTO demo_models VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    index + 1,
                    normalize_provider(model.provider),
                    model.model,
                    model.latency_ms,
                    model.reasoning,
                    rates.input / MILLION,
                    rates.output / MILLION,
                    (rates.cache_read if rates.cache_read is not None else rates.input) / MILLION,
                ],
            )
        # Same seed, same chunk → same draws: setseed takes a value in [-1, 1].
        chunk_seed = math.sin(spec.seed * 1000.0 + first)
        cursor.execute("SELECT setseed(%s)", [chunk_seed])
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # one process: a fixed draw order
        cursor.execute(
            _GENERATE_SQL,
            {
                "org_id": spec.org_id,
                "seed": spec.seed,
                "first": first,
                "last": last,
                "bounds": bounds,
                "users": spec.users,
                "sessions": spec.sessions,
                "start": start,
                "end": end,
                "days": spec.days,
            },
        )
        inserted = int(cursor.rowcount)
        cursor.execute("DROP TABLE demo_models")
        return inserted
