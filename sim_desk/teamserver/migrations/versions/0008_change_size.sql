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
-- Not changed here: sim.pull answers a page of up to 1,000 changes, and a jsonb value holds at
-- most 268,435,455 bytes. At 256 KiB a change, 1,000 stayed under that; about 280 changes of
-- the largest size in one page would not (the pull fails, and the laptop cannot get past
-- them). A byte budget per pull page is for a later revision.
--
-- The two functions holding the limit are replaced as 0002 last defined them (0003 to 0006
-- did not replace them), with only the limit changed: sim._apply_change refuses a change
-- over it; sim.push keeps a refused change for the team leads up to the same size.

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
-- Privileges: as 0002 (a replaced function keeps its grants; said again so that this file
-- alone shows them): nothing for PUBLIC; devices may call push.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE EXECUTE ON FUNCTION
    sim._apply_change(jsonb, uuid, uuid, text, boolean, boolean, sim.team), sim.push(jsonb)
FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION sim.push(jsonb) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
