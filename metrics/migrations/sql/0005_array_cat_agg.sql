-- Concatenates arrays across rows: sketches of many rollup rows travel to the application in
-- one pair of arrays per answer row, where they are merged (numpy) instead of unnested row by
-- row in SQL, which was the slowest part of percentile queries over long ranges.
CREATE AGGREGATE array_cat_agg(anycompatiblearray) (
    SFUNC = array_cat,
    STYPE = anycompatiblearray,
    INITCOND = '{}'
);
