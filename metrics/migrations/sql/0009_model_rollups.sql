-- Rollups keyed by provider and model only, per hour and per UTC day (see
-- metrics/rollups/measures.py). The most common dashboard question, "latency percentiles
-- per model over the week", otherwise merges one full-rollup row per environment and
-- status for every (hour, model): here each (hour, model) is one row with one sketch.
-- LIKE copies the measure columns and their defaults; environment and status_code go.
CREATE TABLE llm_models_1hour (LIKE llm_metrics_1hour INCLUDING DEFAULTS);
ALTER TABLE llm_models_1hour
    DROP COLUMN environment, DROP COLUMN status_code,
    ADD PRIMARY KEY (org_id, bucket, provider, model);
CREATE TABLE llm_models_1day (LIKE llm_models_1hour INCLUDING ALL);
