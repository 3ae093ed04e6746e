-- Spans stored but not yet added to the rollups. The ingest statement inserts its new spans
-- into llm_traces and, in the same statement, their rollup columns here; a folder
-- (metrics/rollups/fold.py) moves everything queued into every rollup in one transaction
-- (DELETE … RETURNING feeding the upserts), so each span is added exactly once, and many
-- batches share one round of upserts. Rollups are current within a second of ingest
-- (as the SPEC asks); a crash loses nothing, the queue is an ordinary logged table.
-- No index: the folder always takes the whole table.
CREATE TABLE llm_rollup_queue (
    org_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    environment text NOT NULL,
    status_code varchar(5) NOT NULL,
    duration_ms numeric(12,3),
    ttft_ms numeric(12,3),
    prompt_tokens bigint,
    completion_tokens bigint,
    total_tokens bigint,
    cache_read_tokens bigint,
    cache_write_tokens bigint,
    reasoning_tokens bigint,
    prompt_cost numeric(20,10),
    completion_cost numeric(20,10),
    total_cost numeric(20,10),
    user_id text,
    session_id text,
    error_type text,
    error_message text
);
