ALTER TABLE llm_traces DROP CONSTRAINT llm_traces_pkey;
ALTER TABLE llm_traces ADD CONSTRAINT llm_traces_pkey PRIMARY KEY (org_id, ts, trace_id, span_id);
