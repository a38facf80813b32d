-- SIM Desk team server, schema 0002: what the sync engine (issue 19) needs from the server.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
-- 0001 is frozen; everything it made and this revision changes is changed here.
--
-- Wire protocol 2:
--   * A change carries only the fields it sets (the whole row on the row's first insert) and
--     "protocol": 2; any other protocol is refused as `incompatible`.
--   * Every change has a clock string, the total order the server and the laptops share:
--       lpad(hlc, 20, '0') || ':' || rank || ':' || change_id
--     where rank is '1' for a consent withdrawal, else '0' (so at an equal hlc a withdrawal wins).
--   * sim.rows.payload is the merged image: per field, last writer (highest clock) wins; each
--     field's clock is kept in sim.rows.clocks. A delete is a tombstone and final.
--   * sim.changes keeps each change's own payload (the diff): pull sends diffs with their clock.
--   * Officers see a pair's person only while the person's latest consent shares with police.
--   * Pull sends, per device, removals and snapshots when people stop or start being visible
--     (sim.device_people is what the device's replica holds), and a full snapshot at cursor 0.

-- ---------------------------------------------------------------------------------------------
-- Clocks
-- ---------------------------------------------------------------------------------------------

-- A consent withdrawal: a consents row that withdraws, or stops sharing or taking part.
CREATE FUNCTION sim._is_withdrawal(table_name text, payload jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT coalesce(table_name = 'consents' AND jsonb_typeof(payload) = 'object' AND (
        coalesce(jsonb_typeof(payload -> 'withdrawn_on'), 'null') <> 'null'
        OR payload -> 'information_sharing' = 'false'::jsonb
        OR payload -> 'taking_part' = 'false'::jsonb), false)
$$;

-- The clock string of a change: text order (COLLATE "C") is the order of changes.
CREATE FUNCTION sim._clock(hlc bigint, table_name text, payload jsonb, change_id uuid)
RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT lpad(hlc::text, 20, '0') || ':'
        || CASE WHEN sim._is_withdrawal(table_name, payload) THEN '1' ELSE '0' END || ':'
        || change_id::text
$$;

-- Computed from the change itself, so it can never disagree with it (and 0001's changes get
-- theirs when the column is added).
ALTER TABLE sim.changes
    ADD COLUMN clock text GENERATED ALWAYS AS (sim._clock(hlc, table_name, payload, change_id)) STORED;
-- Each field's clock on the laptop just before the change: another laptop compares it with its
-- own to tell an edit made after seeing its value from one made at the same time.
ALTER TABLE sim.changes ADD COLUMN base jsonb;

-- Field -> clock string of the change that set the field's value in the merged payload
-- (clinical fields too, under their names; '_deleted' for the delete that made the tombstone).
ALTER TABLE sim.rows ADD COLUMN clocks jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(clocks) = 'object');

-- 0001's rows held whole images: every field is clocked by the row's last change.
UPDATE sim.rows r
SET clocks = coalesce((SELECT jsonb_object_agg(k, c.clock) FROM jsonb_object_keys(r.payload) k),
                      '{}'::jsonb)
    || coalesce((SELECT jsonb_object_agg(f.field, c.clock)
                 FROM sim.clinical_fields f WHERE f.row_id = r.row_id), '{}'::jsonb)
    || CASE WHEN r.deleted THEN jsonb_build_object('_deleted', c.clock) ELSE '{}'::jsonb END
FROM sim.changes c
WHERE c.seq = r.last_change;

-- Whether the person's consent lets the pair's officer see them (kept by
-- sim.note_police_sharing whenever a consents row of the person is accepted).
ALTER TABLE sim.caseload ADD COLUMN police_sharing boolean NOT NULL DEFAULT true;

-- Which people each device's replica holds (pull adds the newly visible and removes the
-- no longer visible), and likewise which team-scope rows (pairs).
CREATE TABLE sim.device_people (
    device_id uuid NOT NULL,
    person_id uuid NOT NULL,
    PRIMARY KEY (device_id, person_id)
);
CREATE TABLE sim.device_team_rows (
    device_id uuid NOT NULL,
    row_id uuid NOT NULL,
    PRIMARY KEY (device_id, row_id)
);

CREATE INDEX merge_proposals_open ON sim.merge_proposals (found_at) WHERE resolved_at IS NULL;

-- The laptop's record tables not listed in 0001 (issues 13, 15 and 17).
INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('incident_revisions', 'person', 'incidents', 'incident_id', '{officer,clinician,team_lead}', '{}'),
    ('baseline_count_revisions', 'person', 'baseline_counts', 'baseline_count_id',
     '{officer,clinician,team_lead}', '{}'),
    ('support_partners', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('onward_referrals', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('handover_plans', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}');
INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('support_partner_revisions', 'person', 'support_partners', 'partner_id',
     '{officer,clinician,team_lead}', '{}'),
    ('referral_status_changes', 'person', 'onward_referrals', 'referral_id',
     '{officer,clinician,team_lead}', '{}'),
    ('referral_revisions', 'person', 'onward_referrals', 'referral_id',
     '{officer,clinician,team_lead}', '{}'),
    ('handover_plan_revisions', 'person', 'handover_plans', 'plan_id',
     '{officer,clinician,team_lead}', '{}');

-- ---------------------------------------------------------------------------------------------
-- Police sharing: a definer function of @p@_dedup, which may read consents rows and set
-- caseload.police_sharing for anyone. It must not run as the owner: an officer who pushes a
-- withdrawal makes the person invisible to itself, and an UPDATE whose new row the caller may
-- not see is refused by row-level security. It returns nothing, so it tells no one anything.
-- ---------------------------------------------------------------------------------------------

GRANT CREATE ON SCHEMA sim TO @p@_dedup;
GRANT SELECT, UPDATE (police_sharing) ON sim.caseload TO @p@_dedup;
CREATE POLICY rows_dedup_consents ON sim.rows FOR SELECT TO @p@_dedup
    USING (table_name = 'consents');
CREATE POLICY caseload_dedup_read ON sim.caseload FOR SELECT TO @p@_dedup USING (true);
CREATE POLICY caseload_dedup_sharing ON sim.caseload FOR UPDATE TO @p@_dedup
    USING (true) WITH CHECK (true);

SET ROLE @p@_dedup;

-- The person's latest consents row that is not deleted (by recorded_on, a withdrawal first,
-- then clock) decides:
-- sharing = information_sharing is true, not withdrawn, and taking_part is not false.
-- No consents row: sharing (the pair's officer referred them).
CREATE FUNCTION sim.note_police_sharing(person uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    latest jsonb;
    sharing boolean;
BEGIN
    IF person IS NULL THEN
        RETURN;
    END IF;
    SELECT r.payload INTO latest
    FROM sim.rows r
    WHERE r.table_name = 'consents' AND r.person_id = person AND NOT r.deleted
    -- As the laptops order them (records.people.consent.latest_consent_first): the latest by
    -- date; on the same date a withdrawal first; then the last written.
    ORDER BY (r.payload ->> 'recorded_on') COLLATE "C" DESC NULLS LAST,
             (coalesce(jsonb_typeof(r.payload -> 'withdrawn_on'), 'null') <> 'null'
              OR r.payload -> 'information_sharing' = 'false'::jsonb
              OR r.payload -> 'taking_part' = 'false'::jsonb) DESC,
             (SELECT max(c.value COLLATE "C") FROM jsonb_each_text(r.clocks) c) DESC NULLS LAST
    LIMIT 1;
    sharing := NOT FOUND OR (
        latest -> 'information_sharing' = 'true'::jsonb
        AND coalesce(jsonb_typeof(latest -> 'withdrawn_on'), 'null') = 'null'
        AND latest -> 'taking_part' IS DISTINCT FROM 'false'::jsonb);
    UPDATE sim.caseload c SET police_sharing = sharing
    WHERE c.person_id = person AND c.police_sharing IS DISTINCT FROM sharing;
END
$$;

RESET ROLE;
REVOKE CREATE ON SCHEMA sim FROM @p@_dedup;
REVOKE EXECUTE ON FUNCTION sim.note_police_sharing(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.note_police_sharing(uuid) TO @p@_owner;
SET ROLE @p@_owner;

-- 0001's people, as their consents say.
SELECT sim.note_police_sharing(c.person_id) FROM sim.caseload c;

-- ---------------------------------------------------------------------------------------------
-- Row-level security for the new tables, and the officer's view of a pair's caseload.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE sim.device_people ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.device_people FORCE ROW LEVEL SECURITY;
CREATE POLICY device_people_own ON sim.device_people FOR ALL TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR device_id = (SELECT sim.caller_device()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR device_id = (SELECT sim.caller_device()));

ALTER TABLE sim.device_team_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.device_team_rows FORCE ROW LEVEL SECURITY;
CREATE POLICY device_team_rows_own ON sim.device_team_rows FOR ALL TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR device_id = (SELECT sim.caller_device()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR device_id = (SELECT sim.caller_device()));

-- An officer sees a pair's person only while the person's consent shares with police; the
-- pair's clinician always; leads everyone. Everything keyed off caseload (rows, changes,
-- clinical text, writes) follows.
DROP POLICY caseload_read ON sim.caseload;
CREATE POLICY caseload_read ON sim.caseload FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR (SELECT sim.caller_role()) = 'analyst'
    OR (pair_id = ANY ((SELECT sim.caller_pairs())::uuid[])
        AND (police_sharing OR (SELECT sim.caller_role()) IS DISTINCT FROM 'officer')));

-- What an analyst's replica holds of each table: enough for cohort figures and exports, and no
-- name, NHS number, police reference, birth date or free text (DESIGN §11). A table with no
-- fields listed is not sent to analysts at all; a field not listed never is.
ALTER TABLE sim.record_tables ADD COLUMN analyst_fields text[] NOT NULL DEFAULT '{}';
UPDATE sim.record_tables SET analyst_fields = CASE table_name
    WHEN 'pairs' THEN '{name,officer_id,clinician_id,active,created_at,updated_at}'
    WHEN 'people' THEN '{date_of_birth,ethnic_category,gender,borough,status,referred_on,'
        'enrolled_on,closed_on,exit_reason,pair_id,interpreter_needed,created_at,updated_at}'
    WHEN 'person_status_changes' THEN '{person_id,from_status,to_status,changed_on,exit_reason,'
        'created_at,updated_at}'
    WHEN 'consents' THEN '{person_id,taking_part,information_sharing,scope,lawful_basis,'
        'recorded_on,withdrawn_on,created_at,updated_at}'
    WHEN 'contacts' THEN '{person_id,started_at,duration_minutes,mechanism,attendance,'
        'staff_present,planned_visit_id,created_at,updated_at}'
    WHEN 'visit_plans' THEN '{person_id,frequency,first_visit_at,end_on,occurrences,'
        'duration_minutes,mechanism,active,created_at,updated_at}'
    WHEN 'planned_visits' THEN '{person_id,plan_id,due_at,status,rescheduled_to_id,created_at,'
        'updated_at}'
    WHEN 'incidents' THEN '{person_id,occurred_at,incident_type,source,custody,ended_on,'
        'legal_action,created_at,updated_at}'
    WHEN 's136_episodes' THEN '{incident_id,detained_at,health_professional_consulted,'
        'conveyance,arrived_at,extension_hours,outcome,created_at,updated_at}'
    WHEN 'places_of_safety' THEN '{episode_id,sequence,place,arrived_at,created_at,updated_at}'
    WHEN 'baseline_counts' THEN '{person_id,incident_type,period_start,period_end,count,source,'
        'created_at,updated_at}'
    ELSE '{}' END::text[];

-- A row as an analyst's replica receives it: only the listed fields, and a birth date as the
-- middle of its year (ages come out at most a year out; the date itself never leaves).
CREATE FUNCTION sim._for_analyst(table_name text, payload jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT CASE WHEN payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN payload ELSE
        coalesce((
            SELECT jsonb_object_agg(k.key, CASE
                WHEN k.key = 'date_of_birth' AND jsonb_typeof(k.value) = 'string'
                     AND (k.value #>> '{}') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                THEN to_jsonb(substr(k.value #>> '{}', 1, 4) || '-07-01')
                ELSE k.value END)
            FROM jsonb_each(payload) k
            WHERE k.key = ANY ((SELECT s.analyst_fields FROM sim.record_tables s
                                WHERE s.table_name = _for_analyst.table_name)::text[])),
            '{}'::jsonb) END
$$;

-- ---------------------------------------------------------------------------------------------
-- The API, revised. Definer functions of the owner; row-level security applies inside them.
-- ---------------------------------------------------------------------------------------------

-- The incarnation laptops compare: a new value after a restore from backup (another database,
-- so another oid), a restore into a new cluster (another system identifier) or a failover or
-- point-in-time recovery (another timeline). The timeline is the one WAL is written on now
-- (pg_walfile_name; it changes the moment a replica is promoted, where pg_control_checkpoint's
-- changes only at the next checkpoint). The control functions are executable by PUBLIC in
-- PostgreSQL 15; where a managed service has revoked them, that part is left out.
CREATE FUNCTION sim._incarnation() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    base uuid;
    system text := '';
    timeline text := '';
    db oid;
BEGIN
    SELECT t.incarnation INTO base FROM sim.team t;
    SELECT d.oid INTO db FROM pg_catalog.pg_database d WHERE d.datname = current_database();
    BEGIN
        SELECT s.system_identifier::text INTO system FROM pg_catalog.pg_control_system() s;
    EXCEPTION WHEN insufficient_privilege THEN
        system := '';
    END;
    BEGIN
        IF pg_catalog.pg_is_in_recovery() THEN
            SELECT c.timeline_id::text INTO timeline FROM pg_catalog.pg_control_checkpoint() c;
        ELSE
            timeline := ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()),
                                       1, 8))::bit(32)::bigint::text;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        timeline := '';
    END;
    RETURN md5(base::text || ':' || system || ':' || timeline || ':' || db::text)::uuid;
END
$$;

-- Parents before children: each record table's depth below people and pairs.
CREATE FUNCTION sim._table_depths() RETURNS TABLE (table_name text, depth integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    WITH RECURSIVE d (table_name, depth) AS (
        SELECT t.table_name, 0 FROM sim.record_tables t WHERE t.parent_table IS NULL
        UNION ALL
        SELECT t.table_name, d.depth + 1
        FROM sim.record_tables t JOIN d ON t.parent_table = d.table_name
        WHERE d.depth < 32)
    SELECT d.table_name, max(d.depth)::integer FROM d GROUP BY d.table_name
$$;

-- Clinical ciphertext as the caller may see it (row-level security: clinical devices only),
-- per row, for the rows of the given people and rows: {field: {"ciphertext", "epoch"}}.
CREATE FUNCTION sim._clinical_of(people uuid[], row_ids uuid[])
RETURNS TABLE (row_id uuid, clinical jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT f.row_id, jsonb_object_agg(f.field, jsonb_build_object(
        'ciphertext', translate(encode(f.ciphertext, 'base64'), E'\n', ''), 'epoch', f.key_epoch))
    FROM sim.clinical_fields f
    WHERE (people IS NULL OR f.person_id = ANY (people)) AND (row_ids IS NULL OR f.row_id = ANY (row_ids))
    GROUP BY f.row_id
$$;

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
       OR octet_length(change::text) > 262144 THEN
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

-- Push: as 0001, answering with the computed incarnation.
-- A change the server refused (not permitted, invalid, an unknown table) is kept here for the
-- team leads, so that nothing a laptop wrote is lost even when the laptop then erases it (an
-- officer who wrote about a person offline while a lead moved them to another pair). The laptop
-- is told only "refused", as before: nothing about other caseloads.
CREATE TABLE sim.refused_changes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    device_id uuid NOT NULL REFERENCES sim.devices (id),
    author uuid NOT NULL REFERENCES sim.users (id),
    change_id uuid,
    code text NOT NULL,
    change jsonb NOT NULL,
    refused_at timestamptz NOT NULL DEFAULT now(),
    reviewed_at timestamptz,
    UNIQUE (device_id, change_id)
);
ALTER TABLE sim.refused_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.refused_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY refused_changes_read ON sim.refused_changes FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY refused_changes_keep ON sim.refused_changes FOR INSERT TO @p@_owner
    WITH CHECK (device_id = (SELECT sim.caller_device()) AND author = (SELECT sim.caller_user()));
CREATE POLICY refused_changes_review ON sim.refused_changes FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));

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
           AND octet_length(change::text) <= 262144 THEN
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

-- Pull (protocol 2): what this device's replica must do to catch up, in the order the laptop
-- applies it: `removed` people (no longer visible: erase them), `snapshots` (merged rows of
-- people and team rows newly visible; at cursor 0 everything visible), then `changes` after
-- the cursor (diffs with their clocks) for rows the replica holds. At most 300 new people per
-- pull; `more` says pull again at once.
CREATE OR REPLACE FUNCTION sim.pull(after_seq bigint, max_changes integer DEFAULT 500)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    me_clinical boolean := sim.caller_is_clinical();
    me_lead boolean := sim.caller_is_lead();
    me_analyst boolean := sim.caller_role() = 'analyst';
    page integer := least(greatest(coalesce(max_changes, 500), 1), 1000);
    after bigint := greatest(coalesce(after_seq, 0), 0);
    t sim.team;
    gone uuid[];
    fresh uuid[];
    fresh_team uuid[];
    more_people boolean;
    v_snapshots jsonb;
    v_changes jsonb := '[]';
    v_count integer := 0;
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

    -- Newly visible: recorded, and sent whole.
    SELECT coalesce(array_agg(n.person_id ORDER BY n.person_id), '{}') INTO fresh
    FROM (SELECT c.person_id FROM sim.caseload c
          WHERE NOT EXISTS (SELECT 1 FROM sim.device_people dp
                            WHERE dp.device_id = me_device AND dp.person_id = c.person_id)
          ORDER BY c.person_id LIMIT 301) n;
    more_people := cardinality(fresh) > 300;
    IF more_people THEN
        fresh := fresh[1:300];
    END IF;
    -- (A second session of the same laptop pulling at once may have recorded some already.)
    INSERT INTO sim.device_people (device_id, person_id) SELECT me_device, unnest(fresh)
    ON CONFLICT DO NOTHING;
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
    LEFT JOIN (SELECT c.row_id, c.clinical FROM sim._clinical_of(fresh, NULL) c
               WHERE me_clinical) cf ON cf.row_id = r.row_id
    WHERE (r.row_id = ANY (fresh_team) OR r.person_id = ANY (fresh))
      AND (NOT me_analyst OR EXISTS (SELECT 1 FROM sim.record_tables s
                                      WHERE s.table_name = r.table_name
                                        AND s.analyst_fields <> '{}'));

    IF after = 0 THEN
        v_cursor := t.last_seq;  -- the snapshot covers every change up to here
    ELSE
        -- Changes after the cursor that this device may see (policies), for rows its replica
        -- holds; a person still waiting for a snapshot gets everything in it.
        WITH page_rows AS (
            SELECT c.* FROM sim.changes c
            WHERE c.seq > after
              AND CASE WHEN c.person_id IS NULL
                       THEN EXISTS (SELECT 1 FROM sim.device_team_rows d
                                    WHERE d.device_id = me_device AND d.row_id = c.row_id)
                       ELSE EXISTS (SELECT 1 FROM sim.device_people dp
                                    WHERE dp.device_id = me_device AND dp.person_id = c.person_id)
                  END
            ORDER BY c.seq
            LIMIT page)
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
               count(*), max(v.seq)
        INTO v_changes, v_count, v_last
        FROM page_rows v;
        v_cursor := CASE WHEN v_count = page THEN v_last
                         ELSE greatest(t.last_seq, coalesce(v_last, 0), after) END;
    END IF;

    RETURN jsonb_build_object(
        'protocol', 2,
        'team', t.id,
        'incarnation', sim._incarnation(),
        'cursor', v_cursor,
        'more', more_people OR v_count = page,
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

-- Who this device is, on which team and server: the first call of every sync.
CREATE OR REPLACE FUNCTION sim.hello() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    result jsonb;
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    SELECT jsonb_build_object(
        'protocol', 2,
        'min_protocol', 2,
        'schema', (SELECT version_num FROM sim.alembic_version LIMIT 1),
        'team', jsonb_build_object('id', t.id, 'name', t.name),
        'incarnation', sim._incarnation(),
        'server_time', clock_timestamp(),
        'max_push', 500,
        'device', me_device,
        'user', jsonb_build_object(
            'id', u.id, 'username', u.username, 'display_name', u.display_name,
            'role', u.role, 'clinical', u.clinical),
        'pairs', to_jsonb(sim.caller_pairs()))
    INTO result
    FROM sim.team t, sim.users u
    WHERE u.id = sim.caller_user();
    RETURN result;
END
$$;

-- First sync in bulk, inside ONE client transaction at REPEATABLE READ (one snapshot):
--   SELECT sim.snapshot_begin();                      -- the cursor, the incarnation
--   COPY (SELECT * FROM sim.snapshot_rows()) TO STDOUT;
--   COMMIT;                                           -- records what the replica holds
CREATE FUNCTION sim._require_one_snapshot() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    IF current_setting('transaction_isolation') NOT IN ('repeatable read', 'serializable') THEN
        RAISE EXCEPTION USING ERRCODE = '25000',
            MESSAGE = 'a snapshot is taken inside one REPEATABLE READ transaction';
    END IF;
END
$$;

CREATE FUNCTION sim.snapshot_begin() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    t sim.team;
BEGIN
    PERFORM sim._require_one_snapshot();
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    SELECT * INTO t FROM sim.team;
    DELETE FROM sim.device_people WHERE device_id = me_device;
    DELETE FROM sim.device_team_rows WHERE device_id = me_device;
    RETURN jsonb_build_object(
        'protocol', 2, 'team', t.id, 'cursor', t.last_seq, 'incarnation', sim._incarnation());
END
$$;

-- Every row this device may see (team rows, and every visible person's rows, tombstones
-- included; clinical ciphertext for clinical devices only), parents first; the people and team
-- rows are recorded as held by this device's replica.
CREATE FUNCTION sim.snapshot_rows()
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
           CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.clocks) ELSE r.clocks END,
           r.deleted, cf.clinical
    FROM sim.rows r
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

-- A lead has dealt with a merge proposal (merged the two, or found them to be two people).
CREATE FUNCTION sim.resolve_merge_proposal(id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    done uuid;
BEGIN
    IF NOT sim.caller_is_lead() THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'only a team lead may do this';
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE sim.devices.id = me_device;
    UPDATE sim.merge_proposals m SET resolved_at = now()
    WHERE m.id = resolve_merge_proposal.id AND m.resolved_at IS NULL
    RETURNING m.id INTO done;
    RETURN jsonb_build_object('resolved', done IS NOT NULL);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC (new and replaced functions alike); devices get the API.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE ALL ON sim.device_people, sim.device_team_rows FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    sim._is_withdrawal(text, jsonb), sim._clock(bigint, text, jsonb, uuid),
    sim._incarnation(), sim._table_depths(), sim._clinical_of(uuid[], uuid[]),
    sim._require_one_snapshot(),
    sim._apply_change(jsonb, uuid, uuid, text, boolean, boolean, sim.team),
    sim.push(jsonb), sim.pull(bigint, integer), sim.hello(),
    sim.snapshot_begin(), sim.snapshot_rows(), sim.resolve_merge_proposal(uuid),
    sim.note_police_sharing(uuid)
FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    sim.hello(), sim.push(jsonb), sim.pull(bigint, integer),
    sim.snapshot_begin(), sim.snapshot_rows(), sim.resolve_merge_proposal(uuid)
TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
