-- Failed spans per hour and per UTC day by provider, model, environment and error type, with
-- one sample message (the smallest): the summary's "most common errors" reads these instead
-- of every failed span of the range (see ErrorRollup in metrics/rollups/measures.py).
CREATE TABLE llm_errors_1hour (
    org_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    environment text NOT NULL,
    error_type text NOT NULL,  -- '' when the span named none
    error_count bigint NOT NULL,
    sample_message text,
    PRIMARY KEY (org_id, bucket, provider, model, environment, error_type)
);
CREATE TABLE llm_errors_1day (LIKE llm_errors_1hour INCLUDING ALL);
