-- The identity bitmaps keep one row per chunk of 32,768 identity numbers a bucket has seen
-- (key: org_id, bucket, chunk), instead of one bitmap per bucket.
--
-- Numbers are handed out densely per organization and never reused, so a bucket's single
-- bitmap was as long as the highest number seen in it: for sessions, new ones every day, that
-- is every session the organization ever had. A fold builds each touched bucket's new bits as
-- text of that length and rewrites the bitmap. Measured on the 10M benchmark database, a fold
-- of 9,500 spans of new sessions: the two session bitmap upserts took 13 ms each with
-- numbers around 200,000, 78 ms each around 5 million and 290 ms each around 20 million
-- (the whole fold 335 → 470 → 906 ms), and a 30-day unique count ORs 720 hourly bitmaps of
-- that length. A chunk holds the bits of numbers n with n / 32768 = chunk, at n % 32768; a
-- bucket keeps the chunks it has seen, so its size follows what it saw.
--
-- Each of the four tables: the key moves to (org_id, bucket, chunk); every bitmap is cut into
-- its chunks, the chunks without a set bit dropped. 32,768 bits are 4 kB: rows stay in their
-- page, uncompressed (toast_tuple_target as for the rollups in 0017).
DO $$
DECLARE
    bitmaps text;
BEGIN
    FOREACH bitmaps IN ARRAY ARRAY['llm_users_bitmap_1hour', 'llm_users_bitmap_1day',
                                   'llm_sessions_bitmap_1hour', 'llm_sessions_bitmap_1day'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I, ADD COLUMN chunk integer NOT NULL DEFAULT 0',
                       bitmaps, bitmaps || '_pkey');
        -- chunks 1, 2, … of every bitmap as rows of their own; chunk 0 keeps the first 32,768 bits
        EXECUTE format('INSERT INTO %I (org_id, bucket, chunk, bits)
                        SELECT org_id, bucket, c, substring(bits FROM c * 32768 + 1 FOR 32768)
                        FROM %I, generate_series(1, (length(bits) - 1) / 32768) AS c', bitmaps, bitmaps);
        EXECUTE format('UPDATE %I SET bits = substring(bits FROM 1 FOR 32768)
                        WHERE chunk = 0 AND length(bits) > 32768', bitmaps);
        EXECUTE format('DELETE FROM %I WHERE bit_count(bits) = 0', bitmaps);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN chunk DROP DEFAULT, ADD PRIMARY KEY (org_id, bucket, chunk),
                        SET (toast_tuple_target = 8160)', bitmaps);
    END LOOP;
END
$$;
