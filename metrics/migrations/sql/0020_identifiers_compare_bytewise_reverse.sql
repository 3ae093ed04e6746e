-- Back to the database collation (migration 0020 says why it was left); indexes are rebuilt again.

ALTER TABLE llm_traces
    ALTER COLUMN trace_id TYPE varchar(32) COLLATE "default",
    ALTER COLUMN span_id TYPE varchar(16) COLLATE "default",
    ALTER COLUMN parent_span_id TYPE varchar(16) COLLATE "default",
    ALTER COLUMN span_name TYPE text COLLATE "default",
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default",
    ALTER COLUMN error_type TYPE text COLLATE "default",
    ALTER COLUMN error_message TYPE text COLLATE "default",
    ALTER COLUMN finish_reason TYPE text COLLATE "default",
    ALTER COLUMN user_id TYPE text COLLATE "default",
    ALTER COLUMN session_id TYPE text COLLATE "default",
    ALTER COLUMN tags TYPE text[] COLLATE "default";

ALTER TABLE llm_rollup_queue
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default",
    ALTER COLUMN user_id TYPE text COLLATE "default",
    ALTER COLUMN session_id TYPE text COLLATE "default",
    ALTER COLUMN error_type TYPE text COLLATE "default",
    ALTER COLUMN error_message TYPE text COLLATE "default";

ALTER TABLE llm_identities
    ALTER COLUMN kind TYPE text COLLATE "default",
    ALTER COLUMN value TYPE text COLLATE "default";
ALTER TABLE llm_identity_counters ALTER COLUMN kind TYPE text COLLATE "default";

-- The rollups: their keys, and the error rollups' sample message (the least one, compared as
-- in the spans it comes from).
ALTER TABLE llm_metrics_1min
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default";
ALTER TABLE llm_metrics_1hour
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default";
ALTER TABLE llm_metrics_1day
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default";
ALTER TABLE llm_models_1hour
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default";
ALTER TABLE llm_models_1day
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default";
ALTER TABLE llm_models_env_1hour
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default";
ALTER TABLE llm_models_env_1day
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default";
ALTER TABLE llm_errors_1hour
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN error_type TYPE text COLLATE "default",
    ALTER COLUMN sample_message TYPE text COLLATE "default";
ALTER TABLE llm_errors_1day
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN error_type TYPE text COLLATE "default",
    ALTER COLUMN sample_message TYPE text COLLATE "default";
ALTER TABLE llm_users_1day
    ALTER COLUMN user_id TYPE text COLLATE "default",
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default";
ALTER TABLE llm_sessions_1day
    ALTER COLUMN session_id TYPE text COLLATE "default",
    ALTER COLUMN provider TYPE text COLLATE "default",
    ALTER COLUMN model TYPE text COLLATE "default",
    ALTER COLUMN environment TYPE text COLLATE "default",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "default";
