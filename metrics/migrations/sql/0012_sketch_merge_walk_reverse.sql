-- sketch_merge as 0003 created it (unnest, group, aggregate).
-- Adds two sketches (sorted keys with their counts) key by key.
CREATE OR REPLACE FUNCTION sketch_merge(
    a_keys integer[], a_counts bigint[], b_keys integer[], b_counts bigint[],
    OUT keys integer[], OUT counts bigint[]
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(c ORDER BY k), '{}')
    FROM (
        SELECT k, sum(c)::bigint AS c
        FROM (
            SELECT * FROM unnest(a_keys, a_counts)
            UNION ALL
            SELECT * FROM unnest(b_keys, b_counts)
        ) AS both_sketches(k, c)
        GROUP BY k
    ) AS merged
$$;

