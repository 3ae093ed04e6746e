ALTER TABLE llm_models_1hour DROP COLUMN duration_quantiles, DROP COLUMN ttft_quantiles;
ALTER TABLE llm_models_1day DROP COLUMN duration_quantiles, DROP COLUMN ttft_quantiles;
DROP FUNCTION sketch_quantiles(integer[], bigint[], float8[]);
