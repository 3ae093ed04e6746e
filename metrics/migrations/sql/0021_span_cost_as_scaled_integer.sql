-- Each span's total cost also as an exact integer: total_cost × 10^10, the column's scale
-- (numeric(20,10), at most 1,000,000 USD a span: below 10^16, well inside bigint). A generated
-- column, so every way a span is written (ingest, the demo data, the admin) fills it.
--
-- Why: questions by user or session read raw spans (no rollup is keyed by them), and their
-- most common form sums cost per user over a range ("who costs most this week", bench S6).
-- Summing a numeric costs a per-group accumulator of base-10000 digits; a bigint sum adds
-- into a 128-bit integer. 7 days of the 10M benchmark (700,000 spans, 20,000 users), the same
-- index-only scan with one parallel worker, in turn: 235-290 ms summing total_cost against
-- 162-200 summing this column; without any sum 167-180. The raw path sums this column and
-- multiplies by 10^-10, which is exact (metrics.rollups.measures.Measure.scaled_column).
--
-- The primary key's INCLUDE carries it instead of total_cost, so that scan stays index-only.
-- Adding a stored column rewrites every partition, and the key is rebuilt on each, under a lock
-- that holds ingest back: 64 s for the 10M benchmark database. Meanwhile ingest answers 503
-- with Retry-After once its statement timeout passes, which exporters retry; nothing
-- acknowledged is lost. Migration 0022 then vacuums the rewritten table.
ALTER TABLE llm_traces ADD COLUMN total_cost_scaled bigint
    GENERATED ALWAYS AS ((total_cost * 10000000000)::bigint) STORED;
ALTER TABLE llm_traces DROP CONSTRAINT llm_traces_pkey;
ALTER TABLE llm_traces ADD CONSTRAINT llm_traces_pkey
    PRIMARY KEY (org_id, ts, trace_id, span_id) INCLUDE (user_id, session_id, total_cost_scaled);
