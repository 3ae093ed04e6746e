-- Queued spans carry their user and session numbers (llm_identities), which the ingest request
-- already knows (it makes sure they exist before storing): the fold, which runs one at a time
-- and so bounds how fast spans reach the rollups, no longer looks up two numbers per span
-- (~35 ms of a 5,000-span fold of ~400 ms). Rows queued before this have none; the fold looks
-- theirs up (metrics.rollups.identities.queued_ordinals_sql).
ALTER TABLE llm_rollup_queue ADD COLUMN user_id_ordinal integer, ADD COLUMN session_id_ordinal integer;
