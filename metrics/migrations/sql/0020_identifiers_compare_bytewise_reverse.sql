-- Back to the database's collation (migration 0020 says why it was left); the indexes on the
-- columns are rebuilt again.

DO $$
DECLARE
    metrics_table record;
BEGIN
    -- Every text, varchar and text[] column of the metrics tables (llm_*), by table, its type kept.
    FOR metrics_table IN
        SELECT c.relname,
               string_agg(format('ALTER COLUMN %I TYPE %s COLLATE "default"', a.attname, format_type(a.atttypid, a.atttypmod)),
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
