-- Back to integer numbers, with migration 0006's numbering function. Fails, changing nothing,
-- once an organization has numbers past integer's range.
DROP FUNCTION identity_ordinals(bigint, text, text[]);
ALTER TABLE llm_rollup_queue
    ALTER COLUMN user_id_ordinal TYPE integer,
    ALTER COLUMN session_id_ordinal TYPE integer;
ALTER TABLE llm_identity_counters ALTER COLUMN next_ordinal TYPE integer;
ALTER TABLE llm_identities ALTER COLUMN ordinal TYPE integer;
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
