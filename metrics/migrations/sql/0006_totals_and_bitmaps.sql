-- Faster answers to questions that group and filter by nothing (summaries, totals), see
-- metrics/rollups/measures.py: error counts in every rollup, dimension-free rollups, and
-- exact unique users/sessions as bitmaps over per-organization identity numbers.

-- 1. error_count in every rollup row, so a table without status_code can give error rates.
ALTER TABLE llm_metrics_1min ADD COLUMN error_count bigint NOT NULL DEFAULT 0;
ALTER TABLE llm_metrics_1hour ADD COLUMN error_count bigint NOT NULL DEFAULT 0;
ALTER TABLE llm_metrics_1day ADD COLUMN error_count bigint NOT NULL DEFAULT 0;
UPDATE llm_metrics_1min SET error_count = request_count WHERE status_code = 'ERROR';
UPDATE llm_metrics_1hour SET error_count = request_count WHERE status_code = 'ERROR';
UPDATE llm_metrics_1day SET error_count = request_count WHERE status_code = 'ERROR';

-- 2. Totals per hour and per UTC day: the same columns without provider, model,
-- environment and status_code (LIKE copies the measure columns; the key columns go).
CREATE TABLE llm_totals_1hour (LIKE llm_metrics_1hour INCLUDING DEFAULTS);
ALTER TABLE llm_totals_1hour
    DROP COLUMN provider, DROP COLUMN model, DROP COLUMN environment, DROP COLUMN status_code,
    ADD PRIMARY KEY (org_id, bucket);
CREATE TABLE llm_totals_1day (LIKE llm_totals_1hour INCLUDING ALL);

-- 3. Identity numbers: each user or session of an organization gets the next small integer
-- the first time it is seen (identity_ordinals below), so bitmaps stay as short as the
-- number of identities the organization has had.
CREATE TABLE llm_identities (
    org_id bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('user_id', 'session_id')),
    value text NOT NULL,
    ordinal integer NOT NULL,
    PRIMARY KEY (org_id, kind, value)
);
-- The next free number per (org, kind); its row lock is what makes numbering one writer at a time.
CREATE TABLE llm_identity_counters (
    org_id bigint NOT NULL,
    kind text NOT NULL,
    next_ordinal integer NOT NULL,
    PRIMARY KEY (org_id, kind)
);

-- The numbers of `p_values`, numbering the new ones. New numbers are taken from the
-- counter row, locked to the end of the caller's transaction (ingest calls this in a short
-- transaction of its own, before the spans' one); a value numbered meanwhile by someone
-- else keeps their number (its reserved one is simply never used).
-- Each value is looked up on its own through the primary key (LATERAL … LIMIT 1): a batch
-- names a few hundred identities of an organization that may have millions.
CREATE FUNCTION identity_ordinals(p_org bigint, p_kind text, p_values text[])
RETURNS TABLE (value text, ordinal integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    missing text[];
    known_values text[];
    known_ordinals integer[];
    base integer;
BEGIN
    SELECT array_agg(u.v) FILTER (WHERE found.ordinal IS NULL),
           array_agg(u.v) FILTER (WHERE found.ordinal IS NOT NULL),
           array_agg(found.ordinal) FILTER (WHERE found.ordinal IS NOT NULL)
    INTO missing, known_values, known_ordinals
    FROM (SELECT DISTINCT v FROM unnest(p_values) AS v WHERE v IS NOT NULL) AS u
    LEFT JOIN LATERAL (
        SELECT i.ordinal FROM llm_identities i
        WHERE i.org_id = p_org AND i.kind = p_kind AND i.value = u.v LIMIT 1
    ) AS found ON true;
    IF missing IS NULL THEN
        RETURN QUERY SELECT k.v, k.o FROM unnest(known_values, known_ordinals) AS k(v, o);
        RETURN;
    END IF;
    INSERT INTO llm_identity_counters (org_id, kind, next_ordinal) VALUES (p_org, p_kind, 0)
    ON CONFLICT (org_id, kind) DO NOTHING;
    SELECT c.next_ordinal INTO base FROM llm_identity_counters c
    WHERE c.org_id = p_org AND c.kind = p_kind FOR UPDATE;
    INSERT INTO llm_identities (org_id, kind, value, ordinal)
    SELECT p_org, p_kind, m.v, base + m.n::integer - 1
    FROM unnest(missing) WITH ORDINALITY AS m(v, n)
    ORDER BY m.n
    ON CONFLICT (org_id, kind, value) DO NOTHING;
    UPDATE llm_identity_counters c SET next_ordinal = base + cardinality(missing)
    WHERE c.org_id = p_org AND c.kind = p_kind;
    RETURN QUERY
        SELECT u.v, found.ordinal
        FROM (SELECT DISTINCT v FROM unnest(p_values) AS v WHERE v IS NOT NULL) AS u
        CROSS JOIN LATERAL (
            SELECT i.ordinal FROM llm_identities i
            WHERE i.org_id = p_org AND i.kind = p_kind AND i.value = u.v LIMIT 1
        ) AS found;
END
$$;

-- 4. Bitmaps of the users and sessions seen per hour and per UTC day: bit n is identity n.
CREATE TABLE llm_users_bitmap_1hour (
    org_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    bits varbit NOT NULL,
    PRIMARY KEY (org_id, bucket)
);
CREATE TABLE llm_users_bitmap_1day (LIKE llm_users_bitmap_1hour INCLUDING ALL);
CREATE TABLE llm_sessions_bitmap_1hour (LIKE llm_users_bitmap_1hour INCLUDING ALL);
CREATE TABLE llm_sessions_bitmap_1day (LIKE llm_users_bitmap_1hour INCLUDING ALL);

-- OR of two bitmaps of any lengths (the shorter is padded with zeros: later identities).
CREATE FUNCTION bitmap_or(a varbit, b varbit) RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL THEN b
        WHEN b IS NULL THEN a
        WHEN length(a) = length(b) THEN a | b
        WHEN length(a) > length(b) THEN a | (b || repeat('0', length(a) - length(b))::varbit)
        ELSE (a || repeat('0', length(b) - length(a))::varbit) | b
    END
$$;

-- The union of many bitmaps; bit_count() of it is the exact number of distinct identities.
CREATE AGGREGATE bitmap_union(varbit) (SFUNC = bitmap_or, STYPE = varbit);
