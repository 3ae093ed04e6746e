-- Rollups by provider, model and environment, per hour and per UTC day (see
-- metrics/rollups/measures.py). "Cost and p95 latency per model in production" otherwise reads
-- the full rollup, one row per status for every (bucket, model), and merges their sketches:
-- here each (bucket, model) of one environment is one row, with its quantiles stored.
-- LIKE copies the measure columns and their defaults; status_code goes; the stored quantiles
-- come last, as in the models rollups (0010).
CREATE TABLE llm_models_env_1hour (LIKE llm_metrics_1hour INCLUDING DEFAULTS);
ALTER TABLE llm_models_env_1hour
    DROP COLUMN status_code,
    ADD COLUMN duration_quantiles float8[],
    ADD COLUMN ttft_quantiles float8[],
    ADD PRIMARY KEY (org_id, bucket, provider, model, environment);
CREATE TABLE llm_models_env_1day (LIKE llm_models_env_1hour INCLUDING ALL);
