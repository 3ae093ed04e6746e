-- Identity numbers become bigint (they were integer).
--
-- Numbers are handed out per organization and kind, one for every new user or session, and
-- never reused. An integer ends at 2,147,483,647: an organization whose instrumentation gives
-- every call its own session id (a request id, say) would reach it after 2^31 calls, about 25
-- days at 1,000 spans/s, or 30 hours at the 20,000 spans/s the ingest is built for. Then
-- numbering fails, and with it every batch carrying a new session, for good.
--
-- A bitmap chunk stays integer: chunk = number / 32,768 fits an integer until number 7 × 10^13.

ALTER TABLE llm_identities ALTER COLUMN ordinal TYPE bigint;
ALTER TABLE llm_identity_counters ALTER COLUMN next_ordinal TYPE bigint;
ALTER TABLE llm_rollup_queue
    ALTER COLUMN user_id_ordinal TYPE bigint,
    ALTER COLUMN session_id_ordinal TYPE bigint;

-- The numbering function of migration 0006 with bigint numbers (its result type changes, so
-- it is dropped and created again); the body is otherwise the same.
DROP FUNCTION identity_ordinals(bigint, text, text[]);
CREATE FUNCTION identity_ordinals(p_org bigint, p_kind text, p_values text[])
RETURNS TABLE (value text, ordinal bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    missing text[];
    known_values text[];
    known_ordinals bigint[];
    base bigint;
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
    SELECT p_org, p_kind, m.v, base + m.n - 1
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
