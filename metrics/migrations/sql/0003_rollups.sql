-- Rollups of llm_traces. They are maintained by the ingest transaction itself (see
-- metrics/rollups/maintenance.py): each statement that inserts spans also adds exactly the
-- rows it inserted to every rollup, so the rollups are exact and current at commit time,
-- late spans land in their own (old) buckets, and re-sent spans (ON CONFLICT DO NOTHING
-- on llm_traces) add nothing. rebuild_rollups recomputes any range from llm_traces with
-- the same SQL.

-- Quantile sketch (see metrics/sketch.py): bucket k holds values in (γ^(k-1), γ^k] with
-- γ = (1 + α)/(1 - α), α = 0.0095; zero has bucket -100000. The constants must match
-- metrics/sketch.py; a test checks that both sides put the same values in the same buckets.
-- Deliberately not STRICT: PostgreSQL then inlines it into the calling query (no per-row
-- function call); NULL still gives NULL through the CASE.
CREATE FUNCTION sketch_key(v numeric) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v <= 0.0005 THEN -100000
                ELSE ceil(ln(v::float8) / 0.019000571614286515::float8)::integer END
$$;

-- Adds two sketches (sorted keys with their counts) key by key.
CREATE FUNCTION sketch_merge(
    a_keys integer[], a_counts bigint[], b_keys integer[], b_counts bigint[],
    OUT keys integer[], OUT counts bigint[]
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(c ORDER BY k), '{}')
    FROM (
        SELECT k, sum(c)::bigint AS c
        FROM (
            SELECT * FROM unnest(a_keys, a_counts)
            UNION ALL
            SELECT * FROM unnest(b_keys, b_counts)
        ) AS both_sketches(k, c)
        GROUP BY k
    ) AS merged
$$;

-- llm_metrics_1min: one row per minute (UTC) x org x provider x model x environment x status.
-- Kept 37 days.
CREATE TABLE llm_metrics_1min (
    org_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    environment text NOT NULL,
    status_code varchar(5) NOT NULL,
    request_count bigint NOT NULL DEFAULT 0,
    -- duration_ms: spans carrying a value, their sum, sum of squares, min, max, sketch
    duration_count bigint NOT NULL DEFAULT 0,
    duration_sum numeric NOT NULL DEFAULT 0,
    duration_sumsq numeric NOT NULL DEFAULT 0,
    duration_min numeric,
    duration_max numeric,
    duration_sketch_keys integer[] NOT NULL DEFAULT '{}',
    duration_sketch_counts bigint[] NOT NULL DEFAULT '{}',
    -- ttft_ms: spans carrying a value, their sum, sum of squares, min, max, sketch
    ttft_count bigint NOT NULL DEFAULT 0,
    ttft_sum numeric NOT NULL DEFAULT 0,
    ttft_sumsq numeric NOT NULL DEFAULT 0,
    ttft_min numeric,
    ttft_max numeric,
    ttft_sketch_keys integer[] NOT NULL DEFAULT '{}',
    ttft_sketch_counts bigint[] NOT NULL DEFAULT '{}',
    -- prompt_tokens: spans carrying a value, their sum, min, max
    prompt_tokens_count bigint NOT NULL DEFAULT 0,
    prompt_tokens_sum bigint NOT NULL DEFAULT 0,
    prompt_tokens_min bigint,
    prompt_tokens_max bigint,
    -- completion_tokens: spans carrying a value, their sum, min, max
    completion_tokens_count bigint NOT NULL DEFAULT 0,
    completion_tokens_sum bigint NOT NULL DEFAULT 0,
    completion_tokens_min bigint,
    completion_tokens_max bigint,
    -- total_tokens: spans carrying a value, their sum, min, max
    total_tokens_count bigint NOT NULL DEFAULT 0,
    total_tokens_sum bigint NOT NULL DEFAULT 0,
    total_tokens_min bigint,
    total_tokens_max bigint,
    -- cache_read_tokens: spans carrying a value, their sum, min, max
    cache_read_tokens_count bigint NOT NULL DEFAULT 0,
    cache_read_tokens_sum bigint NOT NULL DEFAULT 0,
    cache_read_tokens_min bigint,
    cache_read_tokens_max bigint,
    -- cache_write_tokens: spans carrying a value, their sum, min, max
    cache_write_tokens_count bigint NOT NULL DEFAULT 0,
    cache_write_tokens_sum bigint NOT NULL DEFAULT 0,
    cache_write_tokens_min bigint,
    cache_write_tokens_max bigint,
    -- reasoning_tokens: spans carrying a value, their sum, min, max
    reasoning_tokens_count bigint NOT NULL DEFAULT 0,
    reasoning_tokens_sum bigint NOT NULL DEFAULT 0,
    reasoning_tokens_min bigint,
    reasoning_tokens_max bigint,
    -- prompt_cost: spans carrying a value, their sum, min, max
    prompt_cost_count bigint NOT NULL DEFAULT 0,
    prompt_cost_sum numeric NOT NULL DEFAULT 0,
    prompt_cost_min numeric,
    prompt_cost_max numeric,
    -- completion_cost: spans carrying a value, their sum, min, max
    completion_cost_count bigint NOT NULL DEFAULT 0,
    completion_cost_sum numeric NOT NULL DEFAULT 0,
    completion_cost_min numeric,
    completion_cost_max numeric,
    -- total_cost: spans carrying a value, their sum, min, max
    total_cost_count bigint NOT NULL DEFAULT 0,
    total_cost_sum numeric NOT NULL DEFAULT 0,
    total_cost_min numeric,
    total_cost_max numeric,
    PRIMARY KEY (org_id, bucket, provider, model, environment, status_code)
);
-- The coarser grains have the same shape.
-- llm_metrics_1hour: one row per hour (UTC); kept 210 days.
CREATE TABLE llm_metrics_1hour (LIKE llm_metrics_1min INCLUDING ALL);
-- llm_metrics_1day: one row per UTC day; kept 1095 days.
CREATE TABLE llm_metrics_1day (LIKE llm_metrics_1min INCLUDING ALL);

-- Exact unique users and sessions: each identity once per UTC day and rollup key.
CREATE TABLE llm_users_1day (
    org_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    user_id text NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    environment text NOT NULL,
    status_code varchar(5) NOT NULL,
    span_count bigint NOT NULL,
    PRIMARY KEY (org_id, bucket, user_id, provider, model, environment, status_code)
);
CREATE TABLE llm_sessions_1day (
    org_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    session_id text NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    environment text NOT NULL,
    status_code varchar(5) NOT NULL,
    span_count bigint NOT NULL,
    PRIMARY KEY (org_id, bucket, session_id, provider, model, environment, status_code)
);
