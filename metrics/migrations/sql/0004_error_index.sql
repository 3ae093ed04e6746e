-- The summary's "most common errors" reads raw ERROR spans over the period; errors are a few
-- percent of spans, so a partial index finds them without scanning the rest.
CREATE INDEX llm_traces_org_errors_ts ON llm_traces (org_id, ts) WHERE status_code = 'ERROR';
