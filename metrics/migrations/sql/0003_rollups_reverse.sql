DROP TABLE IF EXISTS llm_sessions_1day, llm_users_1day, llm_metrics_1day, llm_metrics_1hour, llm_metrics_1min;
DROP FUNCTION IF EXISTS sketch_merge(integer[], bigint[], integer[], bigint[]);
DROP FUNCTION IF EXISTS sketch_key(numeric);
