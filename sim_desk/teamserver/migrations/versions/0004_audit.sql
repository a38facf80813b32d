-- SIM Desk team server, schema 0004: each laptop's audit chain, pushed and verified (issue 20).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- A laptop's audit log is a hash chain: entry n's hash is SHA-256 over entry n-1's hash (64
-- hex characters, ASCII) followed by entry n's canonical content (compact JSON, sorted keys).
-- Its files alone cannot show that an older copy of them was put back. The server is the
-- outside anchor:
--   * Each device pushes its entries, in order from its first, as the canonical bytes it
--     hashed with the hash it computed. The server recomputes every link from the bytes and
--     its OWN copy of the previous hash; a laptop's hash is compared, never taken on trust.
--     Every entry is kept (ids and codes only: the content's shape is checked, no free text),
--     with the device's head (seq, hash) in sim.audit_heads (made by 0001).
--   * A push continues exactly from the server's head. The laptop proves it still holds that
--     head by sending its own hash at the head's seq: the server never tells a device the hash.
--     A laptop whose chain is shorter than the head, or differs at it (put back from an older
--     copy, or a second copy of one device's vault), is refused and flagged `rolled_back`; a
--     link that does not recompute (an entry changed after it was written, or one missing) is
--     refused and flagged `tampered`. A flag stays: the device pushes no more changes (a
--     restrictive policy on sim.changes), leads see it (sim.audit_status), and a laptop
--     legitimately restored from a backup joins as a new device.
--   * Entries are never sent to any laptop; only the trust's administrators read them.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

-- A head row is made at a device's first push, at seq 0 (nothing pushed; the hash the first
-- entry follows). The refusal, once set, is never cleared by any function.
ALTER TABLE sim.audit_heads
    ADD COLUMN refused_kind text CHECK (refused_kind IN ('rolled_back', 'tampered')),
    ADD COLUMN refused_seq bigint,
    ADD COLUMN refused_chain_end bigint,
    ADD COLUMN refused_at timestamptz;

CREATE TABLE sim.audit_entries (
    device_id uuid NOT NULL REFERENCES sim.devices (id),
    seq bigint NOT NULL CHECK (seq > 0),
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    content bytea NOT NULL CHECK (octet_length(content) <= 4096),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, seq)
);

ALTER TABLE sim.audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_entries_admin ON sim.audit_entries FOR SELECT TO @p@_owner
    USING ((SELECT sim.caller_is_admin()));
CREATE POLICY audit_entries_own ON sim.audit_entries FOR INSERT TO @p@_owner
    WITH CHECK (device_id = (SELECT sim.caller_device()));

-- A device flagged for a rolled-back or tampered audit chain pushes no more changes: its
-- replica may be stale. (A refused change is kept for the leads in sim.refused_changes.)
CREATE POLICY changes_audit_in_order ON sim.changes AS RESTRICTIVE FOR INSERT TO @p@_owner
    WITH CHECK (NOT EXISTS (
        SELECT 1 FROM sim.audit_heads h
        WHERE h.device_id = (SELECT sim.caller_device()) AND h.refused_kind IS NOT NULL));

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------

-- The calling device's head, made if need be and locked to the end of the transaction, so two
-- syncs of one laptop push one after the other and neither sees the other's head half-moved.
CREATE FUNCTION sim._audit_head_locked(me uuid) RETURNS sim.audit_heads
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    head sim.audit_heads;
BEGIN
    INSERT INTO sim.audit_heads (device_id, seq, hash) VALUES (me, 0, repeat('0', 64))
    ON CONFLICT (device_id) DO NOTHING;
    SELECT * INTO head FROM sim.audit_heads h WHERE h.device_id = me FOR UPDATE;
    RETURN head;
END
$$;

CREATE FUNCTION sim._audit_refusal(head sim.audit_heads) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT CASE WHEN head.refused_kind IS NULL THEN NULL ELSE jsonb_build_object(
        'kind', head.refused_kind, 'seq', head.refused_seq,
        'chain_end', head.refused_chain_end, 'at', head.refused_at) END
$$;

-- The entry's canonical content, parsed; NULL if it is not base64 of UTF-8 JSON.
CREATE FUNCTION sim._audit_content(encoded text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    RETURN convert_from(decode(encoded, 'base64'), 'UTF8')::jsonb;
EXCEPTION WHEN data_exception OR character_not_in_repertoire OR untranslatable_character THEN
    RETURN NULL;
END
$$;

-- Where the calling device's chain stands on the server: {"seq": n, "refused": null | {...}}.
-- The hash is not told: a push must prove the laptop holds it. Call it, then sim.push_audit,
-- in one transaction (it locks the head until then).
CREATE FUNCTION sim.audit_head() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, sim, pg_temp SET lock_timeout = '10s' AS $$
DECLARE
    head sim.audit_heads := sim._audit_head_locked(sim._require_device());
BEGIN
    RETURN jsonb_build_object('seq', head.seq, 'refused', sim._audit_refusal(head));
END
$$;

-- The next entries of the calling device's chain: after_seq is the server's head seq (from
-- sim.audit_head), after_hash the laptop's own hash at that seq (NULL if its chain is shorter;
-- 64 zeros at seq 0), chain_end the seq its chain ends at, entries
-- [{"seq": n, "content": base64 of the canonical bytes, "hash": hex}, ...] from after_seq + 1.
-- Answers {"status": "done", "seq": new head, "accepted": k} or {"status": "refused", "code":
-- "rolled_back" | "tampered" | "invalid", "seq": head, "at_seq": n, "refused": {...}}. Entries
-- before a refused one are kept (they verified); a refusal is an answer, not an error, so that
-- its flag commits.
CREATE FUNCTION sim.push_audit(after_seq bigint, after_hash text, chain_end bigint, entries jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, sim, pg_temp SET lock_timeout = '10s' AS $$
DECLARE
    me uuid := sim._require_device();
    head sim.audit_heads;
    given integer;
    bad_form bigint;
    bad_place bigint;
    bad_content bigint;
    bad_link bigint;
    stop bigint;
    accepted bigint;
    refusal text;
BEGIN
    IF jsonb_typeof(entries) IS DISTINCT FROM 'array' OR jsonb_array_length(entries) > 5000
       OR pg_column_size(entries) > 33554432 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'push_audit takes a JSON array of at most 5000 entries (32 MB in all)';
    END IF;
    head := sim._audit_head_locked(me);
    IF head.refused_kind IS NOT NULL THEN
        RETURN jsonb_build_object('status', 'refused', 'code', head.refused_kind,
            'seq', head.seq, 'at_seq', head.refused_seq, 'refused', sim._audit_refusal(head));
    END IF;
    IF after_seq IS DISTINCT FROM head.seq THEN
        -- Evidence of nothing: the caller asked sim.audit_head outside this transaction.
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'push_audit continues from sim.audit_head, called in the same transaction';
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE id = me;
    IF after_hash IS DISTINCT FROM head.hash THEN
        -- The laptop's chain no longer holds the entry the server last took from it.
        UPDATE sim.audit_heads h SET refused_kind = 'rolled_back', refused_seq = head.seq,
            refused_chain_end = chain_end, refused_at = now()
        WHERE h.device_id = me RETURNING * INTO head;
        RETURN jsonb_build_object('status', 'refused', 'code', 'rolled_back', 'seq', head.seq,
            'at_seq', head.seq, 'refused', sim._audit_refusal(head));
    END IF;
    -- Every entry checked in one statement (a loop, or a function an entry, costs 10x):
    --   bad_form     not {"seq", "content": base64 of at most 4096 bytes, "hash": 64 hex}
    --   bad_place    its seq is not the next after the entry before it (one is missing)
    --   bad_content  not an audit entry as laptops write it: exactly its seven fields, its
    --                own seq, ids as UUIDs, action and entity type as codes, UTC time, and
    --                detail values that are numbers, booleans, nulls or codes (never free
    --                text, which is where personal data would hide)
    --   bad_link     SHA-256 over the previous hash and its bytes is not its hash.
    -- Each link is checked against the hash given for the entry before it, the first against
    -- the server's own head; a run of links that all check is exactly the chain recomputed
    -- from the server's head, so no hash a laptop sends is ever taken on trust.
    WITH sent AS (
        SELECT t.ord, t.e,
               coalesce(jsonb_typeof(t.e) = 'object'
                   AND jsonb_typeof(t.e -> 'content') = 'string'
                   AND coalesce(t.e ->> 'hash', '') ~ '^[0-9a-f]{64}$'
                   AND octet_length(t.e ->> 'content') <= 5464
                   AND octet_length(t.e ->> 'content') % 4 = 0
                   AND t.e ->> 'content' ~ '^[A-Za-z0-9+/]*={0,2}$', false) AS well_formed
        FROM jsonb_array_elements(entries) WITH ORDINALITY AS t (e, ord)
    ), linked AS (
        SELECT s.ord, s.well_formed,
               s.e -> 'seq' = to_jsonb(head.seq + s.ord) AS in_place,
               CASE WHEN s.well_formed THEN decode(s.e ->> 'content', 'base64') END AS content,
               CASE WHEN s.well_formed THEN sim._audit_content(s.e ->> 'content') END AS doc,
               s.e ->> 'hash' AS hash,
               lag(s.e ->> 'hash', 1, head.hash) OVER (ORDER BY s.ord) AS prev
        FROM sent s
    )
    SELECT count(*),
        min(l.ord) FILTER (WHERE NOT l.well_formed),
        min(l.ord) FILTER (WHERE l.well_formed AND NOT coalesce(l.in_place, false)),
        min(l.ord) FILTER (WHERE l.well_formed AND NOT coalesce(
            jsonb_typeof(l.doc) = 'object'
            AND (SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(l.doc) k)
                = ARRAY['action', 'at', 'detail', 'entity_id', 'entity_type', 'seq', 'user_id']
            AND l.doc -> 'seq' = to_jsonb(head.seq + l.ord)
            AND jsonb_typeof(l.doc -> 'action') = 'string'
            AND length(l.doc ->> 'action') <= 64 AND l.doc ->> 'action' ~ '^[a-z0-9_.:-]+$'
            AND CASE jsonb_typeof(l.doc -> 'entity_type')
                WHEN 'null' THEN true
                WHEN 'string' THEN length(l.doc ->> 'entity_type') <= 64
                    AND l.doc ->> 'entity_type' ~ '^[a-z0-9_.:-]+$'
                ELSE false END
            AND CASE jsonb_typeof(l.doc -> 'user_id')
                WHEN 'null' THEN true
                WHEN 'string' THEN
                    l.doc ->> 'user_id' ~ '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$'
                ELSE false END
            AND CASE jsonb_typeof(l.doc -> 'entity_id')
                WHEN 'null' THEN true
                WHEN 'string' THEN
                    l.doc ->> 'entity_id' ~ '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$'
                ELSE false END
            AND jsonb_typeof(l.doc -> 'at') = 'string'
            AND l.doc ->> 'at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$'
            AND jsonb_typeof(l.doc -> 'detail') = 'object'
            AND NOT jsonb_path_exists(l.doc -> 'detail',
                'strict $.** ? (@.type() == "string" && !(@ like_regex "^[a-z0-9_.:-]{0,64}$"))'),
            false)),
        min(l.ord) FILTER (WHERE l.well_formed
            AND encode(sha256(convert_to(l.prev, 'UTF8') || l.content), 'hex') <> l.hash)
    INTO given, bad_form, bad_place, bad_content, bad_link
    FROM linked l;
    stop := least(bad_form, bad_place, bad_content, bad_link);
    refusal := CASE
        WHEN stop IS NULL THEN NULL
        WHEN stop = bad_form THEN 'invalid'
        WHEN stop = bad_place THEN 'tampered'  -- an entry missing from the chain (or out of order)
        WHEN stop = bad_content THEN 'invalid'
        ELSE 'tampered' END;  -- changed after it was written
    accepted := coalesce(stop - 1, given);
    IF accepted > 0 THEN
        INSERT INTO sim.audit_entries (device_id, seq, hash, content)
        SELECT me, head.seq + t.ord, t.e ->> 'hash', decode(t.e ->> 'content', 'base64')
        FROM jsonb_array_elements(entries) WITH ORDINALITY AS t (e, ord)
        WHERE t.ord <= accepted;
        UPDATE sim.audit_heads h
        SET seq = head.seq + accepted, hash = entries -> (accepted::integer - 1) ->> 'hash',
            updated_at = now()
        WHERE h.device_id = me RETURNING * INTO head;
    END IF;
    IF refusal = 'tampered' THEN
        UPDATE sim.audit_heads h SET refused_kind = 'tampered', refused_seq = head.seq + 1,
            refused_chain_end = chain_end, refused_at = now()
        WHERE h.device_id = me RETURNING * INTO head;
    END IF;
    IF refusal IS NOT NULL THEN
        RETURN jsonb_build_object('status', 'refused', 'code', refusal, 'seq', head.seq,
            'accepted', accepted, 'at_seq', head.seq + 1, 'refused', sim._audit_refusal(head));
    END IF;
    RETURN jsonb_build_object('status', 'done', 'seq', head.seq, 'accepted', accepted);
END
$$;

-- Each device's audit head as the caller may see it: a lead every device of the team, anyone
-- else their own laptop. The hash is shown by its first 12 characters (enough to compare with
-- a laptop's `sim-desk verify`, not enough to stand in for the laptop in a push).
CREATE FUNCTION sim.audit_status() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me uuid := sim._require_device();
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me;
    RETURN jsonb_build_object('devices', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'device', d.id, 'user', d.user_id, 'revoked_at', d.revoked_at,
            'seq', coalesce(h.seq, 0), 'hash', left(h.hash, 12), 'updated_at', h.updated_at,
            'refused', sim._audit_refusal(h)) ORDER BY d.created_at)
        FROM sim.devices d LEFT JOIN sim.audit_heads h ON h.device_id = d.id
        WHERE sim.caller_is_lead() OR d.id = me), '[]'::jsonb));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; devices get the three functions above.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE ALL ON sim.audit_entries FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    sim._audit_head_locked(uuid), sim._audit_refusal(sim.audit_heads), sim._audit_content(text),
    sim.audit_head(),
    sim.push_audit(bigint, text, bigint, jsonb), sim.audit_status()
FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    sim.audit_head(), sim.push_audit(bigint, text, bigint, jsonb), sim.audit_status()
TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
