-- Back to the key of migration 0014, then without the column.
ALTER TABLE llm_traces DROP CONSTRAINT llm_traces_pkey;
ALTER TABLE llm_traces ADD CONSTRAINT llm_traces_pkey
    PRIMARY KEY (org_id, ts, trace_id, span_id) INCLUDE (user_id, session_id, total_cost);
ALTER TABLE llm_traces DROP COLUMN total_cost_scaled;
