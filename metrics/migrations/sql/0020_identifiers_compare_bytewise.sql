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
-- One ALTER TABLE per table, so each index is rebuilt once; on llm_traces it reaches every
-- partition, and partitions made later take their columns from it.

DO $$
DECLARE
    metrics_table record;
BEGIN
    -- Every text, varchar and text[] column of the metrics tables (llm_*), by table, its type kept.
    FOR metrics_table IN
        SELECT c.relname,
               string_agg(format('ALTER COLUMN %I TYPE %s COLLATE "C"', a.attname, format_type(a.atttypid, a.atttypmod)),
                          ', ' ORDER BY a.attnum) AS changes
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relname LIKE 'llm\_%' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'text[]'::regtype)
        GROUP BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE %I %s', metrics_table.relname, metrics_table.changes);
    END LOOP;
END
$$;
