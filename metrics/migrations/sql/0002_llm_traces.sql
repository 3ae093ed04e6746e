-- llm_traces: one row per LLM call, range-partitioned by UTC day on the start time.
--
-- * Partitioned so that retention drops whole days (DROP TABLE) instead of deleting rows.
-- * org_id leads every key: the same schema distributes by org on Citus.
-- * The primary key (org_id, ts, trace_id, span_id) is both the dedupe key (a re-sent span
--   has the same ids and start time, so it is a no-op) and the (org, ts) index that every
--   time-range query uses. PostgreSQL requires the partition key (ts) in unique keys.
-- * No foreign key to the organization: keeps inserts cheap and the table distributable.

CREATE TABLE llm_traces (
    org_id              bigint          NOT NULL,
    ts                  timestamptz     NOT NULL,
    trace_id            varchar(32)     NOT NULL,
    span_id             varchar(16)     NOT NULL,
    parent_span_id      varchar(16),
    span_name           text            NOT NULL DEFAULT '',
    provider            text            NOT NULL DEFAULT '',   -- '' = unknown
    model               text            NOT NULL DEFAULT '',   -- '' = unknown
    environment         text            NOT NULL DEFAULT '',   -- '' = not given
    status_code         varchar(5)      NOT NULL DEFAULT 'UNSET'
                        CHECK (status_code IN ('OK', 'ERROR', 'UNSET')),
    duration_ms         numeric(12, 3)  CHECK (duration_ms >= 0),
    ttft_ms             numeric(12, 3)  CHECK (ttft_ms >= 0),
    prompt_tokens       bigint          CHECK (prompt_tokens >= 0),
    completion_tokens   bigint          CHECK (completion_tokens >= 0),
    total_tokens        bigint          CHECK (total_tokens >= 0),
    -- Parts of prompt_tokens (cache) and completion_tokens (reasoning), never added on top.
    cache_read_tokens   bigint          CHECK (cache_read_tokens >= 0),
    cache_write_tokens  bigint          CHECK (cache_write_tokens >= 0),
    reasoning_tokens    bigint          CHECK (reasoning_tokens >= 0),
    -- USD. NULL means "unknown price", which is not the same as free.
    prompt_cost         numeric(20, 10) CHECK (prompt_cost >= 0),
    completion_cost     numeric(20, 10) CHECK (completion_cost >= 0),
    total_cost          numeric(20, 10) CHECK (total_cost >= 0),
    error_type          text,
    error_message       text,
    finish_reason       text,
    user_id             text,
    session_id          text,
    tags                text[]          NOT NULL DEFAULT '{}',
    attributes          jsonb           NOT NULL DEFAULT '{}',
    ingested_at         timestamptz     NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, ts, trace_id, span_id)
) PARTITION BY RANGE (ts);

-- The raw path: queries filtering or grouping by user or session (not in the rollups).
CREATE INDEX llm_traces_org_user_ts ON llm_traces (org_id, user_id, ts) WHERE user_id IS NOT NULL;
CREATE INDEX llm_traces_org_session_ts ON llm_traces (org_id, session_id, ts) WHERE session_id IS NOT NULL;

-- Creates the partition holding one UTC day if it is missing; safe to call concurrently
-- (an advisory lock serialises creators, IF NOT EXISTS makes repeats no-ops).
CREATE FUNCTION llm_traces_ensure_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text := 'llm_traces_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('llm_traces_ensure_partition'));
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF llm_traces FOR VALUES FROM (%L) TO (%L)',
        partition_name,
        (day::timestamp AT TIME ZONE 'UTC'),
        ((day + 1)::timestamp AT TIME ZONE 'UTC')
    );
END;
$$;

-- Partitions ahead of need: the default raw retention (90 days) back, a week ahead.
-- Anything outside is created on demand by the ingest path before it inserts.
SELECT llm_traces_ensure_partition(d::date)
FROM generate_series(current_date - 95, current_date + 7, interval '1 day') AS d;
