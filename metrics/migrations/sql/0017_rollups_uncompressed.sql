-- Rollup rows keep their sketches uncompressed up to a full page.
--
-- PostgreSQL compresses a row's largest values once the row passes ~2 kB
-- (TOAST_TUPLE_THRESHOLD). Daily rollup rows carry two latency sketches of ~120-170 keys
-- each and land right there (~2 kB at 10M spans): their count arrays were stored pglz-
-- compressed, so every fold compressed them again when it merged a few spans in, and every
-- query reading them decompressed them. With toast_tuple_target at its maximum a row is
-- compressed only when it would not fit in a page otherwise. Measured on the 10M benchmark
-- database: a 5,000-span fold 119-120 → 108-110 ms; S5's part statement 7.5 → 6.5 ms (psql,
-- same rows, compacted); the daily models-by-environment table 53 → 68 MB.
-- Rows written before this keep their compressed values until a fold or rebuild rewrites them.
ALTER TABLE llm_metrics_1min SET (toast_tuple_target = 8160);
ALTER TABLE llm_metrics_1hour SET (toast_tuple_target = 8160);
ALTER TABLE llm_metrics_1day SET (toast_tuple_target = 8160);
ALTER TABLE llm_totals_1hour SET (toast_tuple_target = 8160);
ALTER TABLE llm_totals_1day SET (toast_tuple_target = 8160);
ALTER TABLE llm_models_1hour SET (toast_tuple_target = 8160);
ALTER TABLE llm_models_1day SET (toast_tuple_target = 8160);
ALTER TABLE llm_models_env_1hour SET (toast_tuple_target = 8160);
ALTER TABLE llm_models_env_1day SET (toast_tuple_target = 8160);
