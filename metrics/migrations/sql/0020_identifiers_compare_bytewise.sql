-- Every text column of the metrics tables compares byte by byte (COLLATE "C").
--
-- They hold identifiers and labels (ids, model and provider names, user and session ids, error
-- types), never prose sorted for a reader, and the API already orders its answers bytewise
-- (metrics.query.builder). Under the database's own collation PostgreSQL compares them with
-- strcoll() on NUL-terminated copies and sorts them without abbreviated keys; every index
-- insert into (org_id, user_id, ts), every activity row's key and every fold's ORDER BY pays
-- that. The postgres:16 image (docker/compose.yaml) creates its databases in en_US.UTF-8;
-- in that collation (PostgreSQL 15 here), sorting 1M session ids took 2.06 s against 0.43 s
-- bytewise, inserting them into an index on (session, provider, model) 5.4 s against 3.9 s,
-- and PostgreSQL's CPU per ingested and folded span went from 99 to 88 µs (medians) with this
-- migration. Under C.UTF-8 (pgserver's default) the same sort took 0.67 s against 0.42 s;
-- the ingest's cost did not change measurably (51-58 µs a span either way).
--
-- Results do not change where the database collation is C.UTF-8 (its order is the code point
-- order, as "C" is for UTF-8); under a linguistic collation only ORDER BY without COLLATE would.
-- The column type stays, so no table is rewritten, but every index on a changed column is
-- rebuilt, under an exclusive lock (50 s for every table of the 10M-span benchmark database).
-- One ALTER TABLE per table, so each index is rebuilt once.

ALTER TABLE llm_traces
    ALTER COLUMN trace_id TYPE varchar(32) COLLATE "C",
    ALTER COLUMN span_id TYPE varchar(16) COLLATE "C",
    ALTER COLUMN parent_span_id TYPE varchar(16) COLLATE "C",
    ALTER COLUMN span_name TYPE text COLLATE "C",
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C",
    ALTER COLUMN error_type TYPE text COLLATE "C",
    ALTER COLUMN error_message TYPE text COLLATE "C",
    ALTER COLUMN finish_reason TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN session_id TYPE text COLLATE "C",
    ALTER COLUMN tags TYPE text[] COLLATE "C";

ALTER TABLE llm_rollup_queue
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN session_id TYPE text COLLATE "C",
    ALTER COLUMN error_type TYPE text COLLATE "C",
    ALTER COLUMN error_message TYPE text COLLATE "C";

ALTER TABLE llm_identities
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN value TYPE text COLLATE "C";
ALTER TABLE llm_identity_counters ALTER COLUMN kind TYPE text COLLATE "C";

-- The rollups: their keys, and the error rollups' sample message (the least one, compared as
-- in the spans it comes from).
ALTER TABLE llm_metrics_1min
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C";
ALTER TABLE llm_metrics_1hour
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C";
ALTER TABLE llm_metrics_1day
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C";
ALTER TABLE llm_models_1hour
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C";
ALTER TABLE llm_models_1day
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C";
ALTER TABLE llm_models_env_1hour
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE llm_models_env_1day
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE llm_errors_1hour
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN error_type TYPE text COLLATE "C",
    ALTER COLUMN sample_message TYPE text COLLATE "C";
ALTER TABLE llm_errors_1day
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN error_type TYPE text COLLATE "C",
    ALTER COLUMN sample_message TYPE text COLLATE "C";
ALTER TABLE llm_users_1day
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C";
ALTER TABLE llm_sessions_1day
    ALTER COLUMN session_id TYPE text COLLATE "C",
    ALTER COLUMN provider TYPE text COLLATE "C",
    ALTER COLUMN model TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN status_code TYPE varchar(5) COLLATE "C";
