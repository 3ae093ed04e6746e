DROP FUNCTION IF EXISTS llm_traces_ensure_partition(date);
DROP TABLE IF EXISTS llm_traces CASCADE;
