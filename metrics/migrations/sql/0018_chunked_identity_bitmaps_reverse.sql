-- Each bucket's chunks joined back into one bitmap: chunk c's bits follow c × 32,768 zeros,
-- and bitmap_or pads the shorter of two bitmaps. The joined rows are written as chunk -1,
-- then every chunk row goes and the key returns to (org_id, bucket).
ALTER TABLE llm_users_bitmap_1hour DROP CONSTRAINT llm_users_bitmap_1hour_pkey;
INSERT INTO llm_users_bitmap_1hour (org_id, bucket, chunk, bits)
    SELECT org_id, bucket, -1, bitmap_union(repeat('0', chunk * 32768)::varbit || bits)
    FROM llm_users_bitmap_1hour GROUP BY org_id, bucket;
DELETE FROM llm_users_bitmap_1hour WHERE chunk <> -1;
ALTER TABLE llm_users_bitmap_1hour DROP COLUMN chunk, ADD PRIMARY KEY (org_id, bucket), RESET (toast_tuple_target);

ALTER TABLE llm_users_bitmap_1day DROP CONSTRAINT llm_users_bitmap_1day_pkey;
INSERT INTO llm_users_bitmap_1day (org_id, bucket, chunk, bits)
    SELECT org_id, bucket, -1, bitmap_union(repeat('0', chunk * 32768)::varbit || bits)
    FROM llm_users_bitmap_1day GROUP BY org_id, bucket;
DELETE FROM llm_users_bitmap_1day WHERE chunk <> -1;
ALTER TABLE llm_users_bitmap_1day DROP COLUMN chunk, ADD PRIMARY KEY (org_id, bucket), RESET (toast_tuple_target);

ALTER TABLE llm_sessions_bitmap_1hour DROP CONSTRAINT llm_sessions_bitmap_1hour_pkey;
INSERT INTO llm_sessions_bitmap_1hour (org_id, bucket, chunk, bits)
    SELECT org_id, bucket, -1, bitmap_union(repeat('0', chunk * 32768)::varbit || bits)
    FROM llm_sessions_bitmap_1hour GROUP BY org_id, bucket;
DELETE FROM llm_sessions_bitmap_1hour WHERE chunk <> -1;
ALTER TABLE llm_sessions_bitmap_1hour DROP COLUMN chunk, ADD PRIMARY KEY (org_id, bucket), RESET (toast_tuple_target);

ALTER TABLE llm_sessions_bitmap_1day DROP CONSTRAINT llm_sessions_bitmap_1day_pkey;
INSERT INTO llm_sessions_bitmap_1day (org_id, bucket, chunk, bits)
    SELECT org_id, bucket, -1, bitmap_union(repeat('0', chunk * 32768)::varbit || bits)
    FROM llm_sessions_bitmap_1day GROUP BY org_id, bucket;
DELETE FROM llm_sessions_bitmap_1day WHERE chunk <> -1;
ALTER TABLE llm_sessions_bitmap_1day DROP COLUMN chunk, ADD PRIMARY KEY (org_id, bucket), RESET (toast_tuple_target);
