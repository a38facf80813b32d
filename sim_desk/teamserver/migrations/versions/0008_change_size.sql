-- SIM Desk team server, schema 0008: the largest change a laptop can legitimately send fits.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- Schemas 0001 and 0002 refused any change whose JSON text (`change::text`, UTF-8) was over
-- 262,144 bytes, as 'invalid' for good. A laptop takes notes of up to 100,000 characters
-- (records/validation.py MAX_NOTE_CHARS) in any script, so a long note in Chinese or in
-- emoji, or one encrypted as a clinician-only note, never reached the team.
--
-- The largest change a laptop can send, in bytes of `change::text`. A character is at most 4
-- bytes of UTF-8 (outside the Basic Multilingual Plane: CJK Extension B, emoji); jsonb::text
-- escapes only '"', '\' and control characters (2 bytes each: the laptop refuses every control
-- character but newline and tab), so no character costs more than 4 bytes there.
--
--   a contact's earlier version (contact_revisions), the largest row:
--     shared note in its `fields`       100,000 x 4                          =   400,000
--     clinical note: AES-GCM of the note's UTF-8 (400,000) + frame 37 (magic 5, epoch 4,
--       nonce 12, tag 16) = 400,037 bytes, in base64: 4 x ceil(400,037 / 3)  =   533,384
--     reason for the change               2,000 x 4                          =     8,000
--     place                                 200 x 4                          =       800
--     other fields, keys, clocks of `base`, the change's envelope            <     4,000
--                                                                             < 946,184
--   a contact itself: the same without the reason                             < 938,184
--   a handover plan's earlier version: (100,000 x 2 + 300 + 500) x 4 + 8,000
--     + 4,000                                                                 < 815,200
--   a person: 5 long fields of 20,000 and short ones of at most 200, x 4      < 420,000
--
-- So 946,184 bytes (0.9 MiB) at most; the limit is 2 MiB (2,097,152), twice that and more,
-- for a field added later or a longer envelope. A push's 500 changes of that size would be
-- far over push's 16 MB: laptops send pushes in batches by size too (teamserver/protocol.py).
--
-- A pull page is bounded in bytes too. sim.pull answered up to 1,000 changes and up to 50 newly
-- visible people's rows as ONE jsonb value, which holds at most 268,435,455 bytes: about 280
-- changes of the largest size in one page would not fit (the pull fails every time, and the
-- laptop never gets past them); one person's rows can be larger than that on their own (a few
-- hundred contacts with long notes and their earlier versions). A page now takes snapshot rows,
-- then changes, while together they stay within `max_bytes` (32 MiB at most, the default), and
-- says `more` when it left some out; it always holds at least one row, so a row larger than
-- the budget still goes, alone (a change is at most 2 MiB; a merged row is only as large as
-- the fields its changes set: a laptop sets only its own columns, so a row stays near 1 MiB).
-- Team rows (pairs: a few short rows) go whole in the page that first sends them. A person's
-- rows may span several pages: sim.device_people marks how far their snapshot has gone, and
-- while it is unfinished the page sends no changes and the cursor stays, so no change meets a
-- row the laptop does not hold yet and none after the cursor is skipped.

-- The two functions holding the limit are replaced as 0002 last defined them (0003 to 0007
-- did not replace them), with only the limit changed: sim._apply_change refuses a change
-- over it; sim.push keeps a refused change for the team leads up to the same size. sim.pull is
-- 0002's (0003 to 0007 did not replace it) with only its paging changed.

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------

-- One change, checked, merged and logged under the team lock (the caller holds it). Any refusal
-- that depends on rows this device cannot see answers `not_permitted`, whatever the reason, so
-- a device cannot tell "exists where I may not see it" from "does not exist".
CREATE OR REPLACE FUNCTION sim._apply_change(
    change jsonb, me_device uuid, me_user uuid, me_role text, me_clinical boolean,
    me_lead boolean, team_row sim.team
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    v_change_id uuid;
    v_table text;
    v_row uuid;
    v_op text;
    v_hlc bigint;
    v_payload jsonb;
    v_clinical jsonb;
    v_clock text;
    v_base jsonb;
    spec sim.record_tables;
    existing sim.rows;
    had_row boolean;
    parent sim.rows;
    parent_id uuid;
    v_person uuid;
    final_person uuid;
    v_pair uuid;
    old_pair uuid;
    merged_pair uuid;
    prior record;
    v_seq bigint;
    v_field text;
    v_value jsonb;
    v_cipher jsonb;
    new_payload jsonb;
    new_clocks jsonb;
    new_deleted boolean;
    won_clinical text[] := '{}';
    now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
    -- The change's shape. Nothing here depends on what this device can or cannot see.
    IF jsonb_typeof(change) IS DISTINCT FROM 'object' THEN
        RETURN sim._result(NULL, 'refused', 'invalid', NULL);
    END IF;
    BEGIN
        v_change_id := (change ->> 'change_id')::uuid;
    EXCEPTION WHEN data_exception THEN
        RETURN sim._result(NULL, 'refused', 'invalid', NULL);
    END;
    -- Protocol 2 only (missing: 2). A laptop speaking another refreshes itself first.
    IF coalesce(jsonb_typeof(change -> 'protocol'), 'null') <> 'null'
       AND (change -> 'protocol') <> '2'::jsonb THEN
        RETURN sim._result(v_change_id, 'refused', 'incompatible', NULL);
    END IF;
    BEGIN
        v_table := change ->> 'table';
        v_row := (change ->> 'row_id')::uuid;
        v_op := change ->> 'op';
        v_hlc := (change ->> 'hlc')::bigint;
        v_payload := change -> 'payload';
        v_clinical := change -> 'clinical';
        v_base := change -> 'base';
    EXCEPTION WHEN data_exception THEN
        RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END;
    IF v_change_id IS NULL OR v_table IS NULL OR v_row IS NULL OR v_hlc IS NULL OR v_hlc < 0
       OR v_op IS NULL OR v_op NOT IN ('upsert', 'delete')
       OR (v_op = 'upsert' AND jsonb_typeof(v_payload) IS DISTINCT FROM 'object')
       OR (v_op = 'delete' AND v_payload IS NOT NULL AND jsonb_typeof(v_payload) <> 'null')
       OR (v_op = 'upsert' AND v_payload ? '_deleted')
       OR (v_clinical IS NOT NULL AND jsonb_typeof(v_clinical) NOT IN ('object', 'null'))
       OR (v_base IS NOT NULL AND jsonb_typeof(v_base) NOT IN ('object', 'null'))
       OR (jsonb_typeof(v_base) = 'object' AND EXISTS (
               SELECT 1 FROM jsonb_each(v_base) b
               WHERE jsonb_typeof(b.value) IS DISTINCT FROM 'string'
                  OR (b.value #>> '{}') !~ '^[0-9]{20}:[01]:[0-9a-f-]{36}$'))
       -- 2 MiB: twice the largest change a laptop can send (the head of this file).
       OR octet_length(change::text) > 2097152 THEN
        RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END IF;
    IF jsonb_typeof(v_clinical) = 'null' THEN
        v_clinical := NULL;
    END IF;
    IF jsonb_typeof(v_base) = 'null' THEN
        v_base := NULL;
    END IF;
    IF v_op = 'delete' THEN
        v_payload := NULL;
    END IF;
    IF (v_hlc >> 16) > now_ms + (extract(epoch FROM team_row.max_clock_ahead) * 1000)::bigint THEN
        RETURN sim._result(v_change_id, 'refused', 'clock_ahead', NULL);
    END IF;
    v_clock := sim._clock(v_hlc, v_table, v_payload, v_change_id);

    -- A change already accepted from this device: the same answer again (retries are safe).
    SELECT c.seq, c.device_id INTO prior FROM sim.changes c WHERE c.change_id = v_change_id;
    IF FOUND THEN
        IF prior.device_id = me_device THEN
            RETURN sim._result(v_change_id, 'duplicate', NULL, prior.seq);
        END IF;
        RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
    END IF;

    SELECT * INTO spec FROM sim.record_tables WHERE table_name = v_table;
    IF NOT FOUND THEN
        RETURN sim._result(v_change_id, 'refused', 'unknown_table', NULL);
    END IF;
    IF NOT (me_role = ANY (spec.writers)) THEN
        RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
    END IF;
    -- Clinical text travels only in the clinical part, never in the shared payload.
    IF v_op = 'upsert' AND (v_payload ?| spec.clinical_fields
       OR (v_payload ? 'id' AND v_payload ->> 'id' IS DISTINCT FROM v_row::text)) THEN
        RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END IF;
    IF v_clinical IS NOT NULL THEN
        IF v_op <> 'upsert' THEN
            RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
        END IF;
        IF NOT me_clinical THEN
            RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
        END IF;
        FOR v_field, v_cipher IN SELECT key, value FROM jsonb_each(v_clinical) LOOP
            IF NOT (v_field = ANY (spec.clinical_fields))
               OR jsonb_typeof(v_cipher) IS DISTINCT FROM 'object'
               OR jsonb_typeof(v_cipher -> 'ciphertext') IS DISTINCT FROM 'string'
               OR jsonb_typeof(v_cipher -> 'epoch') IS DISTINCT FROM 'number'
               OR (v_cipher ->> 'ciphertext') !~ '^[A-Za-z0-9+/]*={0,2}$' THEN
                RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
            END IF;
        END LOOP;
    END IF;

    -- The row as it is (row-level security shows only rows this device may see).
    SELECT * INTO existing FROM sim.rows WHERE row_id = v_row;
    had_row := FOUND;
    IF had_row AND existing.table_name <> v_table THEN
        RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END IF;
    IF NOT had_row AND v_op = 'delete' THEN
        RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
    END IF;

    -- The row as it would be: which person (and pair) it would belong to. A payload holds only
    -- the fields a change sets: a field it leaves out is the merged row's.
    IF v_op = 'delete' THEN
        v_person := existing.person_id;
    ELSIF spec.scope = 'team' THEN
        v_person := NULL;
    ELSIF spec.parent_table IS NULL THEN  -- a person
        v_person := v_row;
        SELECT c.pair_id INTO old_pair FROM sim.caseload c WHERE c.person_id = v_row;
        IF v_payload ? 'pair_id' THEN
            BEGIN
                v_pair := nullif(v_payload ->> 'pair_id', '')::uuid;
            EXCEPTION WHEN data_exception THEN
                RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
            END;
        ELSE
            v_pair := old_pair;  -- no move
        END IF;
        IF me_lead THEN
            IF v_pair IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sim.pairs p WHERE p.id = v_pair) THEN
                RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
            END IF;
        ELSIF v_pair IS NULL OR NOT (v_pair = ANY (sim.caller_pairs()))
              OR (had_row AND old_pair IS DISTINCT FROM v_pair) THEN
            -- Officers and clinicians add people to their own pair and cannot move them.
            RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
        END IF;
    ELSE  -- a row about a person, found through its parent row
        BEGIN
            IF v_payload ? spec.parent_key THEN
                parent_id := (v_payload ->> spec.parent_key)::uuid;
            ELSIF had_row THEN
                parent_id := (existing.payload ->> spec.parent_key)::uuid;
            END IF;
        EXCEPTION WHEN data_exception THEN
            RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
        END;
        SELECT * INTO parent FROM sim.rows r
        WHERE r.row_id = parent_id AND r.table_name = spec.parent_table AND NOT r.deleted;
        IF NOT FOUND OR parent.person_id IS NULL THEN
            RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
        END IF;
        v_person := parent.person_id;
    END IF;

    -- Merge: per field, the higher clock wins; a tombstone is final.
    IF NOT had_row THEN
        new_payload := v_payload;
        new_deleted := false;
        SELECT coalesce(jsonb_object_agg(k, v_clock), '{}'::jsonb) INTO new_clocks
        FROM jsonb_object_keys(v_payload) k;
        IF v_clinical IS NOT NULL THEN
            won_clinical := ARRAY(SELECT jsonb_object_keys(v_clinical));
            -- Clinical fields are clocked like the others (a restore compares them too).
            SELECT new_clocks || coalesce(jsonb_object_agg(k, v_clock), '{}'::jsonb)
            INTO new_clocks FROM jsonb_object_keys(v_clinical) k;
        END IF;
    ELSE
        new_payload := existing.payload;
        new_clocks := existing.clocks;
        new_deleted := existing.deleted;
        IF existing.deleted THEN
            NULL;  -- logged below, merged into nothing
        ELSIF v_op = 'delete' THEN
            new_deleted := true;
            new_clocks := new_clocks || jsonb_build_object('_deleted', v_clock);
        ELSE
            FOR v_field, v_value IN SELECT key, value FROM jsonb_each(v_payload) LOOP
                IF new_clocks ->> v_field IS NULL
                   OR v_clock COLLATE "C" > (new_clocks ->> v_field) COLLATE "C" THEN
                    new_payload := new_payload || jsonb_build_object(v_field, v_value);
                    new_clocks := new_clocks || jsonb_build_object(v_field, v_clock);
                END IF;
            END LOOP;
            IF v_clinical IS NOT NULL THEN
                FOR v_field IN SELECT jsonb_object_keys(v_clinical) LOOP
                    IF new_clocks ->> v_field IS NULL
                       OR v_clock COLLATE "C" > (new_clocks ->> v_field) COLLATE "C" THEN
                        won_clinical := won_clinical || v_field;
                        new_clocks := new_clocks || jsonb_build_object(v_field, v_clock);
                    END IF;
                END LOOP;
            END IF;
        END IF;
    END IF;

    -- Whom the merged row is about: the change's person, unless its parent key lost (or it
    -- changed nothing), when the row stays with its person.
    IF spec.scope = 'team' THEN
        final_person := NULL;
    ELSIF spec.parent_table IS NULL THEN
        final_person := v_row;
    ELSIF had_row AND (v_op = 'delete' OR existing.deleted
                       OR (new_payload ->> spec.parent_key) IS DISTINCT FROM (v_payload ->> spec.parent_key)
                          AND v_payload ? spec.parent_key) THEN
        final_person := existing.person_id;
    ELSE
        final_person := v_person;
    END IF;

    -- Apply. Row-level security checks every write again (USING: the row as it is; WITH
    -- CHECK: as it would be). A row that exists where this device cannot see it fails on its
    -- primary key and answers exactly as a row this device may not touch.
    BEGIN
        IF v_table = 'people' THEN
            merged_pair := nullif(new_payload ->> 'pair_id', '')::uuid;
            INSERT INTO sim.caseload AS c (person_id, pair_id, deleted)
            VALUES (v_row, merged_pair, new_deleted)
            ON CONFLICT (person_id) DO UPDATE
            SET pair_id = excluded.pair_id, deleted = excluded.deleted;
        ELSIF v_table = 'pairs' THEN
            INSERT INTO sim.pairs AS p (id, officer_id, clinician_id, active)
            VALUES (
                v_row,
                CASE WHEN NOT new_deleted THEN nullif(new_payload ->> 'officer_id', '')::uuid END,
                CASE WHEN NOT new_deleted THEN nullif(new_payload ->> 'clinician_id', '')::uuid END,
                NOT new_deleted AND coalesce((new_payload ->> 'active')::boolean, true))
            ON CONFLICT (id) DO UPDATE
            SET officer_id = excluded.officer_id, clinician_id = excluded.clinician_id,
                active = excluded.active;
        END IF;

        UPDATE sim.team SET last_seq = last_seq + 1 RETURNING last_seq INTO v_seq;
        INSERT INTO sim.changes
            (seq, change_id, device_id, author, hlc, table_name, row_id, person_id, op, payload,
             base)
        VALUES
            (v_seq, v_change_id, me_device, me_user, v_hlc, v_table, v_row, final_person, v_op,
             v_payload, v_base);
        IF had_row THEN
            UPDATE sim.rows
            SET person_id = final_person, payload = new_payload, clocks = new_clocks,
                hlc = greatest(hlc, v_hlc), deleted = new_deleted, last_change = v_seq
            WHERE row_id = v_row;
        ELSE
            INSERT INTO sim.rows
                (row_id, table_name, person_id, payload, clocks, hlc, deleted, last_change)
            VALUES (v_row, v_table, final_person, new_payload, new_clocks, v_hlc, false, v_seq);
        END IF;
        IF v_clinical IS NOT NULL THEN
            FOR v_field, v_cipher IN SELECT key, value FROM jsonb_each(v_clinical) LOOP
                INSERT INTO sim.clinical_changes (seq, field, person_id, ciphertext, key_epoch)
                VALUES (v_seq, v_field, final_person, decode(v_cipher ->> 'ciphertext', 'base64'),
                        (v_cipher ->> 'epoch')::integer);
                IF v_field = ANY (won_clinical) THEN
                    INSERT INTO sim.clinical_fields AS f
                        (row_id, field, person_id, ciphertext, key_epoch, last_change)
                    VALUES (v_row, v_field, final_person,
                            decode(v_cipher ->> 'ciphertext', 'base64'),
                            (v_cipher ->> 'epoch')::integer, v_seq)
                    ON CONFLICT (row_id, field) DO UPDATE
                    SET person_id = excluded.person_id, ciphertext = excluded.ciphertext,
                        key_epoch = excluded.key_epoch, last_change = excluded.last_change;
                END IF;
            END LOOP;
        END IF;
        IF v_table = 'people' AND NOT new_deleted THEN
            PERFORM sim.note_possible_duplicates(v_row);
        END IF;
        -- Last: a withdrawal pushed by an officer makes the person invisible to it from here on.
        IF v_table = 'consents' THEN
            PERFORM sim.note_police_sharing(final_person);
            IF had_row AND existing.person_id IS DISTINCT FROM final_person THEN
                PERFORM sim.note_police_sharing(existing.person_id);
            END IF;
        END IF;
    EXCEPTION
        WHEN unique_violation OR insufficient_privilege OR foreign_key_violation
             OR check_violation OR not_null_violation THEN
            RETURN sim._result(v_change_id, 'refused', 'not_permitted', NULL);
        WHEN data_exception THEN
            RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END;
    RETURN sim._result(v_change_id, 'accepted', NULL, v_seq);
END
$$;

-- Push: as 0002, keeping refused changes for the team leads up to the new limit.
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
-- Pull pages bounded in bytes
-- ---------------------------------------------------------------------------------------------

-- How far a person's snapshot has gone when it spans pages: the last row sent, in the order
-- (depth below the person, row id). NULL: the replica holds the person whole.
ALTER TABLE sim.device_people ADD COLUMN snapshot_depth integer, ADD COLUMN snapshot_row uuid;

-- A third argument: the old pull(bigint, integer) would make a call with two ambiguous.
DROP FUNCTION sim.pull(bigint, integer);

-- Pull (protocol 2): as 0002 (what this device's replica must do to catch up, in the order the
-- laptop applies it: `removed` people, `snapshots` of people and team rows newly visible,
-- `changes` after the cursor), with each page bounded by `max_bytes` as well as by
-- `max_changes` (the head of this file). Sizes are counted from the stored values (JSON text,
-- clinical ciphertext as base64) plus room for each row's envelope, before anything is built.
CREATE FUNCTION sim.pull(
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
                   512 + octet_length(r.payload::text) + octet_length(r.clocks::text)
                   + CASE WHEN me_clinical THEN coalesce((
                         SELECT sum(64 + octet_length(f.field)
                                    + 4 * ((octet_length(f.ciphertext) + 2) / 3))
                         FROM sim.clinical_fields f WHERE f.row_id = r.row_id), 0)
                     ELSE 0 END AS bytes
            FROM sim.rows r
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
                                  ELSE r.clocks END,
                   'deleted', r.deleted)
               || CASE WHEN cf.clinical IS NOT NULL
                       THEN jsonb_build_object('clinical', cf.clinical) ELSE '{}'::jsonb END
               ORDER BY dep.depth, r.row_id), '[]'::jsonb)
    INTO v_snapshots
    FROM sim.rows r
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
                        ELSE 512 + coalesce(octet_length(c.payload::text), 0)
                             + coalesce(octet_length(c.base::text), 0)
                             + CASE WHEN me_clinical THEN coalesce((
                                   SELECT sum(64 + octet_length(cc.field)
                                              + 4 * ((octet_length(cc.ciphertext) + 2) / 3))
                                   FROM sim.clinical_changes cc WHERE cc.seq = c.seq), 0)
                               ELSE 0 END
                   END AS bytes
            FROM sim.changes c
            WHERE c.seq > after
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
                   'base', CASE WHEN me_analyst THEN NULL ELSE v.base END)
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

-- ---------------------------------------------------------------------------------------------
-- Privileges: as 0002 (a replaced function keeps its grants; said again so that this file
-- alone shows them; pull is a new function and needs them): nothing for PUBLIC; devices may
-- call push and pull.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE EXECUTE ON FUNCTION
    sim._apply_change(jsonb, uuid, uuid, text, boolean, boolean, sim.team), sim.push(jsonb),
    sim.pull(bigint, integer, integer)
FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION sim.push(jsonb), sim.pull(bigint, integer, integer) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
