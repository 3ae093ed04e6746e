-- Each bucket's chunks joined back into one bitmap: chunk c's bits follow c × 32,768 zeros,
-- and bitmap_or pads the shorter of two bitmaps. The joined rows are written as chunk -1,
-- then every chunk row goes and the key returns to (org_id, bucket).
DO $$
DECLARE
    bitmaps text;
BEGIN
    FOREACH bitmaps IN ARRAY ARRAY['llm_users_bitmap_1hour', 'llm_users_bitmap_1day',
                                   'llm_sessions_bitmap_1hour', 'llm_sessions_bitmap_1day'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', bitmaps, bitmaps || '_pkey');
        EXECUTE format('INSERT INTO %I (org_id, bucket, chunk, bits)
                        SELECT org_id, bucket, -1, bitmap_union(repeat(''0'', chunk * 32768)::varbit || bits)
                        FROM %I GROUP BY org_id, bucket', bitmaps, bitmaps);
        EXECUTE format('DELETE FROM %I WHERE chunk <> -1', bitmaps);
        EXECUTE format('ALTER TABLE %I DROP COLUMN chunk, ADD PRIMARY KEY (org_id, bucket), RESET (toast_tuple_target)',
                       bitmaps);
    END LOOP;
END
$$;
