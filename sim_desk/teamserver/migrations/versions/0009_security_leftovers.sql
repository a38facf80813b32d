-- SIM Desk team server, schema 0009: issue 20's security leftovers, found by the team's review.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- 1. A device without the clinical right learns nothing of clinical notes, not even that one
--    was written, or when. Until now an officer's (or a non-clinical lead's) pull and snapshot
--    left out the ciphertext but still carried each clinical field's clock: in a row's `clocks`
--    (snapshots), in a change's `base` (the clocks the writing laptop held), and as a change of
--    its own when a clinician changed only the note (an empty shared payload, stamped with the
--    time). sim.pull and sim.snapshot_rows now drop every clinical field's name and clock from
--    `clocks` and `base` for such devices, and do not send them a change that set clinical fields
--    only. Pages are sized from what is sent, not from what is stored: the caller chooses the
--    byte budget, and a size that counted a note's clock (or, for an analyst, the names and
--    free text it is not sent) would let it measure them. The server still keeps those clocks
--    (they decide last-writer-wins between clinicians); an officer's laptop never needs them:
--    its changes never carry a clinical field, so nothing it sends can overwrite a note.
--
-- 3. Publishing once has no side door. `sim-desk server publish` refuses a second vault (0006),
--    but a lead with another vault full of records could join the team and run a plain sync,
--    whose first sync sends every record the server lacks. Each laptop now says which vault it
--    syncs (vault_meta.vault_id) when it joins, and at its first sync, before it sends
--    anything, how many records it would send; sim.check_vault decides (the published vault's
--    copies and vaults holding nothing new may; on a server nobody published, the first vault
--    to bring records may; no other), and a refusal is for good: sim.push then takes nothing
--    from that laptop. What the server cannot do is count a laptop's records itself: a laptop
--    that never asks (not SIM Desk's) is not stopped by this, as no server could tell its
--    records from ones typed in that day.
--
-- (Issue 20's other leftovers, a new linkage epoch on revoking a grant and re-sealing own
-- notes once, are the laptops' alone: nothing here.)
--
-- sim.pull is 0008's whole, sim.snapshot_rows 0002's whole, sim.push 0008's whole (nothing
-- between replaced them), with only the above changed.

-- ---------------------------------------------------------------------------------------------
-- 1. Nothing of clinical fields for devices without the clinical right
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION sim.pull(
    after_seq bigint, max_changes integer DEFAULT 500, max_bytes integer DEFAULT 33554432
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    me_clinical boolean := sim.caller_is_clinical();
    me_lead boolean := sim.caller_is_lead();
    me_analyst boolean := sim.caller_role() = 'analyst';
    page integer := least(greatest(coalesce(max_changes, 500), 1), 1000);
    budget bigint := least(greatest(coalesce(max_bytes, 33554432), 1), 33554432);
    after bigint := greatest(coalesce(after_seq, 0), 0);
    t sim.team;
    gone uuid[];
    begun uuid[];
    fresh uuid[];
    queue uuid[];
    fresh_team uuid[];
    more_people boolean;
    sent_rows uuid[] := '{}';
    snapshot_bytes bigint := 0;
    last_ord bigint;
    last_depth integer;
    last_row uuid;
    first_unsent bigint;
    unfinished boolean;
    v_snapshots jsonb;
    v_changes jsonb := '[]';
    kept_seqs bigint[] := '{}';
    v_count integer := 0;
    v_kept integer := 0;
    v_last bigint;
    v_cursor bigint;
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    -- Read first: every change numbered up to t.last_seq has committed (numbering is under the
    -- team lock), so rows read below are at least that new.
    SELECT * INTO t FROM sim.team;
    IF after = 0 THEN  -- the replica is empty, or starts again
        DELETE FROM sim.device_people WHERE device_id = me_device;
        DELETE FROM sim.device_team_rows WHERE device_id = me_device;
    END IF;

    -- No longer visible (caseload's policy decides): removed from the replica.
    WITH gone_rows AS (
        DELETE FROM sim.device_people dp
        WHERE dp.device_id = me_device
          AND NOT EXISTS (SELECT 1 FROM sim.caseload c WHERE c.person_id = dp.person_id)
        RETURNING dp.person_id)
    SELECT coalesce(array_agg(g.person_id ORDER BY g.person_id), '{}') INTO gone FROM gone_rows g;
    DELETE FROM sim.device_team_rows d
    WHERE d.device_id = me_device
      AND NOT EXISTS (SELECT 1 FROM sim.rows r WHERE r.row_id = d.row_id);

    -- People whose snapshot an earlier page began carry on first.
    SELECT coalesce(array_agg(dp.person_id ORDER BY dp.person_id), '{}') INTO begun
    FROM sim.device_people dp
    WHERE dp.device_id = me_device AND dp.snapshot_row IS NOT NULL;

    -- Newly visible: recorded, and sent whole.
    SELECT coalesce(array_agg(n.person_id ORDER BY n.person_id), '{}') INTO fresh
    FROM (SELECT c.person_id FROM sim.caseload c
          WHERE NOT EXISTS (SELECT 1 FROM sim.device_people dp
                            WHERE dp.device_id = me_device AND dp.person_id = c.person_id)
          ORDER BY c.person_id LIMIT 51) n;
    -- A page must be applied within the login's idle-in-transaction limit (the pull's
    -- transaction stays open until the laptop has applied it): a few people at a time.
    more_people := cardinality(fresh) > 50;
    IF more_people THEN
        fresh := fresh[1:50];
    END IF;
    queue := begun || fresh;
    -- Team rows (pairs: a few short rows, written by leads) always go whole, counted first.
    WITH added AS (
        INSERT INTO sim.device_team_rows (device_id, row_id)
        SELECT me_device, r.row_id
        FROM sim.rows r JOIN sim.record_tables s ON s.table_name = r.table_name
        WHERE s.scope = 'team'
          AND NOT EXISTS (SELECT 1 FROM sim.device_team_rows d
                          WHERE d.device_id = me_device AND d.row_id = r.row_id)
        ON CONFLICT DO NOTHING
        RETURNING row_id)
    SELECT coalesce(array_agg(a.row_id), '{}') INTO fresh_team FROM added a;

    -- Which rows this page sends: in the order team rows, then person by person in `queue`
    -- (a begun person from after its mark), each parents first; up to the budget, and at
    -- least the team rows and one more row. (Nobody new: nothing to look for.)
    IF cardinality(queue) + cardinality(fresh_team) > 0 THEN
        WITH candidates AS (
            SELECT coalesce(q.ord, 0) AS ord, coalesce(dep.depth, 0) AS depth, r.row_id,
                   -- Sized as sent: the caller picks the budget, so a size counted from
                   -- what it is not sent would tell it that (a note's clock, a name's length).
                   512 + octet_length((CASE WHEN me_analyst
                                            THEN sim._for_analyst(r.table_name, r.payload)
                                            ELSE r.payload END)::text)
                   + octet_length((CASE WHEN me_analyst
                                        THEN sim._for_analyst(r.table_name, r.clocks)
                                        WHEN me_clinical THEN r.clocks
                                        ELSE r.clocks - spec.clinical_fields END)::text)
                   + CASE WHEN me_clinical THEN coalesce((
                         SELECT sum(64 + octet_length(f.field)
                                    + 4 * ((octet_length(f.ciphertext) + 2) / 3))
                         FROM sim.clinical_fields f WHERE f.row_id = r.row_id), 0)
                     ELSE 0 END AS bytes
            FROM sim.rows r
            JOIN sim.record_tables spec ON spec.table_name = r.table_name
            LEFT JOIN unnest(queue) WITH ORDINALITY q (person_id, ord) ON q.person_id = r.person_id
            LEFT JOIN sim._table_depths() dep ON dep.table_name = r.table_name
            LEFT JOIN sim.device_people dp
                   ON dp.device_id = me_device AND dp.person_id = r.person_id
            WHERE (r.row_id = ANY (fresh_team) OR r.person_id = ANY (queue))
              AND (dp.snapshot_row IS NULL
                   OR (coalesce(dep.depth, 0), r.row_id) > (dp.snapshot_depth, dp.snapshot_row))
              AND (NOT me_analyst OR EXISTS (SELECT 1 FROM sim.record_tables s
                                              WHERE s.table_name = r.table_name
                                                AND s.analyst_fields <> '{}'))
        ), sized AS (
            SELECT c.*,
                   sum(c.bytes) OVER (ORDER BY c.ord, c.depth, c.row_id) AS upto,
                   row_number() OVER (PARTITION BY c.ord = 0
                                      ORDER BY c.ord, c.depth, c.row_id) AS nth
            FROM candidates c
        ), decided AS (
            SELECT z.*, z.ord = 0 OR z.upto <= budget OR z.nth = 1 AS sent FROM sized z
        )
        SELECT coalesce(array_agg(d.row_id) FILTER (WHERE d.sent), '{}'),
               coalesce(sum(d.bytes) FILTER (WHERE d.sent), 0),
               (array_agg(d.ord ORDER BY d.ord DESC, d.depth DESC, d.row_id DESC)
                    FILTER (WHERE d.sent))[1],
               (array_agg(d.depth ORDER BY d.ord DESC, d.depth DESC, d.row_id DESC)
                    FILTER (WHERE d.sent))[1],
               (array_agg(d.row_id ORDER BY d.ord DESC, d.depth DESC, d.row_id DESC)
                    FILTER (WHERE d.sent))[1],
               min(d.ord) FILTER (WHERE NOT d.sent)
        INTO sent_rows, snapshot_bytes, last_ord, last_depth, last_row, first_unsent
        FROM decided d;
    END IF;

    -- Recorded as held: everyone before the first row not sent, whole; that row's person, if
    -- some of their rows went, with the mark; the rest wait (a new person is not recorded).
    -- (A second session of the same laptop pulling at once may have recorded some already.)
    WITH states AS (
        SELECT q.person_id,
               CASE WHEN first_unsent IS NULL OR q.ord < first_unsent THEN 'whole'
                    WHEN q.ord = first_unsent AND last_ord = q.ord THEN 'begun'
                    ELSE 'waits' END AS state
        FROM unnest(queue) WITH ORDINALITY q (person_id, ord)
    ), carried AS (
        UPDATE sim.device_people dp
        SET snapshot_depth = CASE WHEN s.state = 'begun' THEN last_depth END,
            snapshot_row = CASE WHEN s.state = 'begun' THEN last_row END
        FROM states s
        WHERE dp.device_id = me_device AND dp.person_id = s.person_id
          AND s.person_id = ANY (begun) AND s.state <> 'waits'
    )
    INSERT INTO sim.device_people (device_id, person_id, snapshot_depth, snapshot_row)
    SELECT me_device, s.person_id,
           CASE WHEN s.state = 'begun' THEN last_depth END,
           CASE WHEN s.state = 'begun' THEN last_row END
    FROM states s
    WHERE s.person_id = ANY (fresh) AND s.state <> 'waits'
    ON CONFLICT DO NOTHING;
    more_people := more_people OR first_unsent IS NOT NULL;
    -- A person still part-sent (this page's or an earlier one's mark): no changes yet.
    unfinished := EXISTS (SELECT 1 FROM sim.device_people dp
                          WHERE dp.device_id = me_device AND dp.snapshot_row IS NOT NULL);

    SELECT coalesce(jsonb_agg(
               jsonb_build_object(
                   'table', r.table_name, 'row_id', r.row_id, 'person_id', r.person_id,
                   'payload', CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.payload)
                                   ELSE r.payload END,
                   'clocks', CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.clocks)
                                  WHEN me_clinical THEN r.clocks
                                  ELSE r.clocks - spec.clinical_fields END,
                   'deleted', r.deleted)
               || CASE WHEN cf.clinical IS NOT NULL
                       THEN jsonb_build_object('clinical', cf.clinical) ELSE '{}'::jsonb END
               ORDER BY dep.depth, r.row_id), '[]'::jsonb)
    INTO v_snapshots
    FROM sim.rows r
    JOIN sim.record_tables spec ON spec.table_name = r.table_name
    LEFT JOIN sim._table_depths() dep ON dep.table_name = r.table_name
    LEFT JOIN (SELECT c.row_id, c.clinical FROM sim._clinical_of(NULL, sent_rows) c
               WHERE me_clinical) cf ON cf.row_id = r.row_id
    WHERE r.row_id = ANY (sent_rows);

    IF after = 0 THEN
        v_cursor := t.last_seq;  -- the snapshot covers every change up to here
    ELSIF unfinished THEN
        v_cursor := after;  -- changes wait until every row they may touch is here
    ELSE
        -- Changes after the cursor that this device may see (policies), for rows its replica
        -- holds; a person still waiting for a snapshot gets everything in it. As many as the
        -- budget left takes (at least one if no snapshot row went).
        WITH page_rows AS (
            SELECT c.seq,
                   CASE WHEN me_analyst AND NOT EXISTS (
                            SELECT 1 FROM sim.record_tables s
                            WHERE s.table_name = c.table_name AND s.analyst_fields <> '{}')
                        THEN 0
                        -- Sized as sent (above).
                        ELSE 512 + coalesce(octet_length((CASE WHEN me_analyst
                                   THEN sim._for_analyst(c.table_name, c.payload)
                                   ELSE c.payload END)::text), 0)
                             + coalesce(octet_length((CASE WHEN me_analyst THEN NULL
                                   WHEN me_clinical THEN c.base
                                   ELSE nullif(c.base - spec.clinical_fields, '{}'::jsonb)
                                   END)::text), 0)
                             + CASE WHEN me_clinical THEN coalesce((
                                   SELECT sum(64 + octet_length(cc.field)
                                              + 4 * ((octet_length(cc.ciphertext) + 2) / 3))
                                   FROM sim.clinical_changes cc WHERE cc.seq = c.seq), 0)
                               ELSE 0 END
                   END AS bytes
            FROM sim.changes c
            JOIN sim.record_tables spec ON spec.table_name = c.table_name
            WHERE c.seq > after
              -- A change that set only clinical fields is not news to a non-clinical device:
              -- sent, it would say when a note was written (or resealed).
              AND (me_clinical OR c.op <> 'upsert' OR c.payload <> '{}'::jsonb)
              AND CASE WHEN c.person_id IS NULL
                       THEN EXISTS (SELECT 1 FROM sim.device_team_rows d
                                    WHERE d.device_id = me_device AND d.row_id = c.row_id)
                       ELSE EXISTS (SELECT 1 FROM sim.device_people dp
                                    WHERE dp.device_id = me_device AND dp.person_id = c.person_id)
                  END
            ORDER BY c.seq
            LIMIT page),
        sized AS (
            SELECT p.seq, p.bytes, sum(p.bytes) OVER (ORDER BY p.seq) AS upto FROM page_rows p)
        SELECT coalesce(array_agg(s.seq ORDER BY s.seq) FILTER (
                   WHERE s.upto <= budget - snapshot_bytes
                      OR (s.upto = s.bytes AND snapshot_bytes = 0)), '{}'),
               count(*)
        INTO kept_seqs, v_count
        FROM sized s;
        v_kept := cardinality(kept_seqs);
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'seq', v.seq, 'change_id', v.change_id, 'table', v.table_name,
                   'row_id', v.row_id, 'person_id', v.person_id, 'op', v.op, 'hlc', v.hlc,
                   'clock', v.clock, 'author', v.author, 'device', v.device_id,
                   'payload', CASE WHEN me_analyst THEN sim._for_analyst(v.table_name, v.payload)
                                   ELSE v.payload END,
                   'base', CASE WHEN me_analyst THEN NULL
                                WHEN me_clinical THEN v.base
                                ELSE nullif(v.base - spec.clinical_fields, '{}'::jsonb) END)
                   || CASE WHEN me_clinical THEN coalesce((
                          SELECT jsonb_build_object('clinical', jsonb_object_agg(cc.field,
                              jsonb_build_object(
                                  'ciphertext', translate(encode(cc.ciphertext, 'base64'), E'\n', ''),
                                  'epoch', cc.key_epoch)))
                          FROM sim.clinical_changes cc WHERE cc.seq = v.seq
                          HAVING count(*) > 0), '{}'::jsonb)
                      ELSE '{}'::jsonb END
                   ORDER BY v.seq) FILTER (WHERE NOT me_analyst OR EXISTS (
                       SELECT 1 FROM sim.record_tables s
                       WHERE s.table_name = v.table_name AND s.analyst_fields <> '{}')),
                   '[]'::jsonb),
               max(v.seq)
        INTO v_changes, v_last
        FROM sim.changes v
        JOIN sim.record_tables spec ON spec.table_name = v.table_name
        WHERE v.seq = ANY (kept_seqs);
        -- Cut by count or by bytes: on from the last change sent (none: where it was).
        v_cursor := CASE WHEN v_count = page OR v_kept < v_count THEN coalesce(v_last, after)
                         ELSE greatest(t.last_seq, coalesce(v_last, 0), after) END;
    END IF;

    RETURN jsonb_build_object(
        'protocol', 2,
        'team', t.id,
        'incarnation', sim._incarnation(),
        'cursor', v_cursor,
        'more', more_people OR v_count = page OR v_kept < v_count,
        'removed', to_jsonb(gone),
        'snapshots', v_snapshots,
        'changes', v_changes,
        'refused_for_review', CASE WHEN me_lead THEN (
            SELECT count(*) FROM sim.refused_changes x WHERE x.reviewed_at IS NULL) ELSE 0 END,
        'merge_proposals', CASE WHEN me_lead THEN coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'id', m.id, 'person_id', m.person_id, 'other_person_id', m.other_person_id,
                'matched_on', m.matched_on) ORDER BY m.found_at, m.id)
            FROM sim.merge_proposals m WHERE m.resolved_at IS NULL), '[]'::jsonb)
            ELSE '[]'::jsonb END);
END
$$;

CREATE OR REPLACE FUNCTION sim.snapshot_rows()
RETURNS TABLE (table_name text, row_id uuid, person_id uuid, payload jsonb, clocks jsonb,
               deleted boolean, clinical jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp
ROWS 100000 AS $$
#variable_conflict use_column
DECLARE
    me_device uuid := sim._require_device();
    me_clinical boolean := sim.caller_is_clinical();
    me_analyst boolean := sim.caller_role() = 'analyst';
BEGIN
    PERFORM sim._require_one_snapshot();
    INSERT INTO sim.device_people (device_id, person_id)
    SELECT me_device, c.person_id FROM sim.caseload c
    ON CONFLICT DO NOTHING;
    INSERT INTO sim.device_team_rows (device_id, row_id)
    SELECT me_device, r.row_id
    FROM sim.rows r JOIN sim.record_tables s ON s.table_name = r.table_name
    WHERE s.scope = 'team'
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT r.table_name, r.row_id, r.person_id,
           CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.payload) ELSE r.payload END,
           CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.clocks)
                WHEN me_clinical THEN r.clocks
                ELSE r.clocks - spec.clinical_fields END,
           r.deleted, cf.clinical
    FROM sim.rows r
    JOIN sim.record_tables spec ON spec.table_name = r.table_name
    LEFT JOIN sim._table_depths() dep ON dep.table_name = r.table_name
    LEFT JOIN (SELECT c.row_id, c.clinical FROM sim._clinical_of(NULL, NULL) c
               WHERE me_clinical) cf ON cf.row_id = r.row_id
    WHERE (r.row_id IN (SELECT d.row_id FROM sim.device_team_rows d
                        WHERE d.device_id = me_device)
           OR r.person_id IN (SELECT dp.person_id FROM sim.device_people dp
                              WHERE dp.device_id = me_device))
      AND (NOT me_analyst OR EXISTS (SELECT 1 FROM sim.record_tables s
                                      WHERE s.table_name = r.table_name
                                        AND s.analyst_fields <> '{}'))
    ORDER BY dep.depth, r.row_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- 3. Publishing once, with no side door
-- ---------------------------------------------------------------------------------------------

-- Which vault each laptop syncs (vault_meta.vault_id: the same on every copy of a vault), said
-- when it joins and again at its first sync, with how many records it then held that the
-- server had not sent it (`unsent`; NULL: said at joining, no sync yet). `brought`: its first
-- sync was let bring its vault's records to the team; `refused`: it was not, and push takes
-- nothing from it.
CREATE TABLE sim.device_vaults (
    device_id uuid PRIMARY KEY REFERENCES sim.devices (id),
    vault_id uuid NOT NULL,
    noted_at timestamptz NOT NULL DEFAULT now(),
    unsent bigint CHECK (unsent >= 0),
    brought boolean NOT NULL DEFAULT false,
    refused boolean NOT NULL DEFAULT false,
    CHECK (NOT (brought AND refused))
);

-- A laptop says which vault it syncs; at its first sync (`unsent` given), before it pulls or
-- pushes anything, whether its records may come in. They may when it holds none the server
-- lacks (a new vault made by joining; a copy that holds nothing new), when its vault is the
-- one published to this server (a copy of it: a member's laptop made from the lead's vault),
-- or, on a server nobody published, when no other vault has brought records before it (the
-- team's first vault, synced instead of published). Otherwise it is refused, for good: that
-- is a second vault's records entering a team behind the publish's back. Answers
-- {"status": "noted" | "allowed" | "refused", "reason"?}.
CREATE FUNCTION sim.check_vault(vault uuid, unsent bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    earlier sim.device_vaults;
    published_vault uuid;
    verdict boolean;
    reason text;
BEGIN
    IF vault IS NULL OR unsent < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'vault details are not valid';
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    -- One decision at a time, and none while a push numbers changes: the team row's lock.
    PERFORM 1 FROM sim.team FOR UPDATE;
    SELECT * INTO earlier FROM sim.device_vaults v WHERE v.device_id = me_device;
    IF FOUND AND (earlier.vault_id <> vault OR earlier.refused) THEN
        -- A laptop's vault cannot change under its device (the credential lives in the vault).
        UPDATE sim.device_vaults v SET refused = true, brought = false
        WHERE v.device_id = me_device;
        RETURN jsonb_build_object('status', 'refused', 'reason', 'another_vault');
    END IF;
    IF unsent IS NULL THEN
        INSERT INTO sim.device_vaults (device_id, vault_id) VALUES (me_device, vault)
        ON CONFLICT (device_id) DO NOTHING;
        RETURN jsonb_build_object('status', 'noted');
    END IF;
    SELECT p.vault_id INTO published_vault FROM sim.publication p;
    IF unsent = 0 THEN
        verdict := true;
    ELSIF published_vault IS NOT NULL THEN
        verdict := published_vault = vault;
        reason := 'published';
    ELSE
        verdict := NOT EXISTS (SELECT 1 FROM sim.device_vaults v
                               WHERE v.brought AND v.vault_id <> vault);
        reason := 'records';
    END IF;
    INSERT INTO sim.device_vaults AS v (device_id, vault_id, unsent, brought, refused)
    VALUES (me_device, vault, unsent, verdict AND unsent > 0, NOT verdict)
    ON CONFLICT (device_id) DO UPDATE
    SET unsent = excluded.unsent, brought = v.brought OR excluded.brought,
        refused = excluded.refused, noted_at = now();
    IF verdict THEN
        RETURN jsonb_build_object('status', 'allowed');
    END IF;
    RETURN jsonb_build_object('status', 'refused', 'reason', reason);
END
$$;

-- Row-level security (forced): each device writes its own row; whether some other vault brought
-- records is read by sim.check_vault for any device (it answers only allowed or refused).
-- Any device's check reads which vault was published (only leads read the rest, 0006).
ALTER TABLE sim.device_vaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.device_vaults FORCE ROW LEVEL SECURITY;
CREATE POLICY device_vaults_read ON sim.device_vaults FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY device_vaults_note ON sim.device_vaults FOR INSERT TO @p@_owner WITH CHECK (
    device_id = (SELECT sim.caller_device()));
CREATE POLICY device_vaults_own ON sim.device_vaults FOR UPDATE TO @p@_owner
    USING (device_id = (SELECT sim.caller_device()))
    WITH CHECK (device_id = (SELECT sim.caller_device()));
CREATE POLICY publication_checked ON sim.publication FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_device()) IS NOT NULL);

-- Push (0008's, whole), refusing everything from a laptop whose vault was refused.
CREATE OR REPLACE FUNCTION sim.push(changes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, sim, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    me_device uuid := sim._require_device();
    me_user uuid := sim.caller_user();
    me_role text := sim.caller_role();
    me_clinical boolean := sim.caller_is_clinical();
    me_lead boolean := sim.caller_is_lead();
    team_row sim.team;
    results jsonb := '[]';
    change jsonb;
    answer jsonb;
BEGIN
    IF jsonb_typeof(changes) IS DISTINCT FROM 'array' OR jsonb_array_length(changes) > 500
       OR pg_column_size(changes) > 16777216 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'push takes a JSON array of at most 500 changes (16 MB in all)';
    END IF;
    -- A laptop whose vault this server refused at its first sync (a second vault's records:
    -- sim.check_vault) sends nothing, whatever it tries.
    IF EXISTS (SELECT 1 FROM sim.device_vaults v WHERE v.device_id = me_device AND v.refused) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'this laptop''s vault was refused by the team server: join with a new vault';
    END IF;
    team_row := sim._lock_team();
    IF team_row.id IS NULL THEN
        RETURN jsonb_build_object('status', 'busy', 'results', '[]'::jsonb,
                                  'incarnation', sim._incarnation(), 'protocol', 2);
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    FOR change IN SELECT value FROM jsonb_array_elements(changes) LOOP
        answer := sim._apply_change(
            change, me_device, me_user, me_role, me_clinical, me_lead, team_row);
        results := results || jsonb_build_array(answer);
        IF answer ->> 'code' IN ('not_permitted', 'invalid', 'unknown_table')
           AND octet_length(change::text) <= 2097152 THEN
            BEGIN
                INSERT INTO sim.refused_changes (device_id, author, change_id, code, change)
                VALUES (me_device, me_user, nullif(answer ->> 'change_id', '')::uuid,
                        answer ->> 'code', change);
            EXCEPTION
                -- (ON CONFLICT would need the leads-only read policy to pass)
                WHEN unique_violation THEN NULL;  -- sent and refused before: kept once
                WHEN data_exception THEN NULL;  -- not even an id to keep it by
            END;
        END IF;
    END LOOP;
    RETURN jsonb_build_object(
        'status', 'done', 'incarnation', sim._incarnation(), 'protocol', 2, 'results', results);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges: replaced functions keep their grants; said again so that this file alone shows
-- them.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;
REVOKE ALL ON sim.device_vaults FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    sim.pull(bigint, integer, integer), sim.snapshot_rows(), sim.push(jsonb),
    sim.check_vault(uuid, bigint)
TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
