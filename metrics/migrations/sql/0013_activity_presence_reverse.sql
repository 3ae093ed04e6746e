-- The column comes back as 0: rebuild_rollups (with the code of that time) recounts it.
ALTER TABLE llm_users_1day ADD COLUMN span_count bigint NOT NULL DEFAULT 0;
ALTER TABLE llm_sessions_1day ADD COLUMN span_count bigint NOT NULL DEFAULT 0;
