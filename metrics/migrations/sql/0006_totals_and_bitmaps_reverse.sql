DROP AGGREGATE IF EXISTS bitmap_union(varbit);
DROP FUNCTION IF EXISTS bitmap_or(varbit, varbit);
DROP TABLE IF EXISTS llm_users_bitmap_1hour, llm_users_bitmap_1day, llm_sessions_bitmap_1hour, llm_sessions_bitmap_1day;
DROP FUNCTION IF EXISTS identity_ordinals(bigint, text, text[]);
DROP TABLE IF EXISTS llm_identities, llm_identity_counters;
DROP TABLE IF EXISTS llm_totals_1hour, llm_totals_1day;
ALTER TABLE llm_metrics_1min DROP COLUMN error_count;
ALTER TABLE llm_metrics_1hour DROP COLUMN error_count;
ALTER TABLE llm_metrics_1day DROP COLUMN error_count;
