-- When the last fold of the rollup queue began (at most one row; each fold writes it).
--
-- A fold costs ~40 ms whatever its size (merging sketches into the rollup rows it touches,
-- planning ~19 statements) plus ~17 µs a span. At a steady 5,000 spans/s the background
-- folders folded back to back, ~500 spans at a time (~120 µs a span). They now start a fold
-- at most every FOLD_PERIOD_SECONDS (metrics/rollups/fold.py) deployment-wide, which this
-- row tells every process: ~1,200 spans a fold, 15-25 % less database CPU per ingested span,
-- and a span still reaches the rollups well within the second. Folds asked for directly
-- (tests, management commands) are not paced.
CREATE TABLE llm_rollup_fold_clock (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_started timestamptz NOT NULL
);
