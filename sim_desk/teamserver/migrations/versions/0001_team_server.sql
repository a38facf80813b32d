-- SIM Desk team server, schema 0001: tables, row-level security and the functions devices call.
--
-- Run by `sim-desk server init` as the trust's database administrator, after the roles and the
-- schema `sim` exist, with `SET ROLE @p@_owner` in force, so that everything below belongs to
-- the owner role (neither superuser nor BYPASSRLS). `@p@` is the team's role prefix (checked to
-- be [a-z][a-z0-9_]*), so one cluster can hold several teams, each in a database of its own.
--
-- Roles (created by init, NOLOGIN unless said):
--   @p@_owner     owns the schema, the tables and the API functions. Row-level security is
--                 forced on every table, so even the owner's own functions see only the rows
--                 the *calling device* may see: the policies name the caller through
--                 session_user, resolved by the functions of @p@_resolver.
--   @p@_resolver  owns the caller_* functions; may read a device's own device, user, pair and
--                 invitation rows and nothing else (its policies are keyed to session_user).
--   @p@_rolemgr   CREATEROLE; owns only the rm_* functions, which create, disable and drop the
--                 login roles of devices and invitations. They take UUIDs and SCRAM verifiers,
--                 never names or SQL; role names are derived from the UUIDs and quoted with %I.
--   @p@_dedup     may read people rows and add merge proposals: it finds the same person on two
--                 caseloads without telling the device that pushed one of them (no oracle).
--   @p@_device    group of every device's LOGIN role: EXECUTE on the API functions only.
--   @p@_invitee   group of every invitation's LOGIN role: EXECUTE on sim.join_team only.
-- Device and invitation roles hold no table privileges at all.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE sim.team (
    id uuid PRIMARY KEY,
    singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- A new incarnation after a restore or failover tells laptops to push again what they hold.
    incarnation uuid NOT NULL,
    role_prefix text NOT NULL,
    -- The number of the last accepted change. Push locks this row (SELECT ... FOR UPDATE) and
    -- numbers its changes under the lock, so change order is commit order.
    last_seq bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- How long push waits for the team lock before it looks for a stalled holder.
    lock_wait interval NOT NULL DEFAULT '5 seconds' CHECK (lock_wait BETWEEN '10 ms' AND '1 minute'),
    -- A device transaction that has held the team lock longer than this is ended by the next
    -- push that needs the lock (no legitimate push runs longer than statement_timeout).
    stalled_after interval NOT NULL DEFAULT '45 seconds'
        CHECK (stalled_after BETWEEN '100 ms' AND '1 hour'),
    -- Hybrid-logical-clock times further ahead of the server's clock than this are refused.
    max_clock_ahead interval NOT NULL DEFAULT '5 minutes'
);

CREATE TABLE sim.users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username ~ '^[^[:space:][:cntrl:]]{1,64}$'),
    display_name text CHECK (length(display_name) <= 200),
    role text NOT NULL CHECK (role IN ('officer', 'clinician', 'team_lead', 'analyst')),
    clinical boolean NOT NULL DEFAULT false,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid,
    removed_at timestamptz,
    CHECK (NOT clinical OR role IN ('clinician', 'team_lead'))
);

-- Derived from the replicated `pairs` rows (pushed by team leads): who works which caseload.
CREATE TABLE sim.pairs (
    id uuid PRIMARY KEY,
    officer_id uuid,
    clinician_id uuid,
    active boolean NOT NULL DEFAULT true
);
CREATE INDEX pairs_officer ON sim.pairs (officer_id);
CREATE INDEX pairs_clinician ON sim.pairs (clinician_id);

-- Derived from the replicated `people` rows: which pair's caseload each person is on.
CREATE TABLE sim.caseload (
    person_id uuid PRIMARY KEY,
    pair_id uuid,
    deleted boolean NOT NULL DEFAULT false
);
CREATE INDEX caseload_pair ON sim.caseload (pair_id);

CREATE TABLE sim.invitations (
    -- The device that joins with this invitation gets the same id.
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES sim.users (id),
    login_role name NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    withdrawn_at timestamptz,
    login_dropped boolean NOT NULL DEFAULT false
);

CREATE TABLE sim.devices (
    id uuid PRIMARY KEY REFERENCES sim.invitations (id),
    user_id uuid NOT NULL REFERENCES sim.users (id),
    login_role name NOT NULL UNIQUE,
    -- X25519 public key: clinical keys are wrapped to it (part 3).
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_by uuid,
    last_seen timestamptz
);
CREATE INDEX devices_user ON sim.devices (user_id);

-- The record tables a device may push, and how each row finds the person it is about. A new
-- record table in the laptop's schema needs a row here (a migration), or its changes are
-- refused as `unknown_table`. Nothing is ever built into SQL from these names.
CREATE TABLE sim.record_tables (
    table_name text PRIMARY KEY CHECK (table_name ~ '^[a-z][a-z0-9_]{0,62}$'),
    scope text NOT NULL CHECK (scope IN ('team', 'person')),
    parent_table text REFERENCES sim.record_tables (table_name),
    parent_key text,
    writers text[] NOT NULL,
    clinical_fields text[] NOT NULL DEFAULT '{}',
    CHECK ((parent_table IS NULL) = (parent_key IS NULL))
);

-- The current image of every replicated row (the generic store: new record types need no
-- new server table). Row ids are UUIDs, unique across tables.
CREATE TABLE sim.rows (
    row_id uuid PRIMARY KEY,
    table_name text NOT NULL REFERENCES sim.record_tables (table_name),
    person_id uuid,
    payload jsonb NOT NULL,
    hlc bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    last_change bigint NOT NULL
);
CREATE INDEX rows_person ON sim.rows (person_id, table_name);
CREATE INDEX rows_people_nhs ON sim.rows ((payload ->> 'nhs_number'))
    WHERE table_name = 'people';
CREATE INDEX rows_people_police ON sim.rows ((payload ->> 'police_reference'))
    WHERE table_name = 'people';

-- Every accepted change, numbered in commit order.
CREATE TABLE sim.changes (
    seq bigint PRIMARY KEY,
    change_id uuid NOT NULL UNIQUE,
    device_id uuid NOT NULL REFERENCES sim.devices (id),
    author uuid NOT NULL REFERENCES sim.users (id),
    hlc bigint NOT NULL,
    table_name text NOT NULL,
    row_id uuid NOT NULL,
    person_id uuid,
    op text NOT NULL CHECK (op IN ('upsert', 'delete')),
    payload jsonb,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_person ON sim.changes (person_id, seq);

-- Clinician-only note ciphertext (AES-256-GCM under the clinical key, which the server never
-- holds), kept apart from the rows so that policies can give it to clinical devices only.
CREATE TABLE sim.clinical_fields (
    row_id uuid NOT NULL REFERENCES sim.rows (row_id),
    field text NOT NULL,
    person_id uuid NOT NULL,
    ciphertext bytea NOT NULL,
    key_epoch integer NOT NULL CHECK (key_epoch >= 0),
    last_change bigint NOT NULL,
    PRIMARY KEY (row_id, field)
);
CREATE TABLE sim.clinical_changes (
    seq bigint NOT NULL REFERENCES sim.changes (seq),
    field text NOT NULL,
    person_id uuid NOT NULL,
    ciphertext bytea NOT NULL,
    key_epoch integer NOT NULL CHECK (key_epoch >= 0),
    PRIMARY KEY (seq, field)
);

-- The same person created on two caseloads (one NHS number or police reference): for the lead.
CREATE TABLE sim.merge_proposals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    person_id uuid NOT NULL,
    other_person_id uuid NOT NULL,
    matched_on text NOT NULL CHECK (matched_on IN ('nhs_number', 'police_reference')),
    found_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (person_id, other_person_id, matched_on)
);

-- Each device's audit-chain head, the outside anchor for its local log (part 3 fills it).
CREATE TABLE sim.audit_heads (
    device_id uuid PRIMARY KEY REFERENCES sim.devices (id),
    seq bigint NOT NULL,
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('pairs', 'team', NULL, NULL, '{team_lead}', '{}'),
    ('people', 'person', NULL, NULL, '{officer,clinician,team_lead}', '{}');
INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('person_status_changes', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('key_contacts', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('consents', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('contacts', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{clinical_note}'),
    ('visit_plans', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('planned_visits', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('incidents', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('baseline_counts', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}'),
    ('disclosures', 'person', 'people', 'person_id', '{officer,clinician,team_lead}', '{}');
INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('contact_revisions', 'person', 'contacts', 'contact_id', '{officer,clinician,team_lead}',
     '{clinical_note}'),
    ('s136_episodes', 'person', 'incidents', 'incident_id', '{officer,clinician,team_lead}', '{}');
INSERT INTO sim.record_tables (table_name, scope, parent_table, parent_key, writers, clinical_fields)
VALUES
    ('places_of_safety', 'person', 's136_episodes', 'episode_id', '{officer,clinician,team_lead}',
     '{}');

-- ---------------------------------------------------------------------------------------------
-- Who is calling: definer functions of @p@_resolver, keyed to session_user (which a session
-- cannot change without being a superuser; current_user inside a definer function is the owner).
-- ---------------------------------------------------------------------------------------------

-- The helper roles own their functions, so they may create in the schema while this runs.
GRANT CREATE ON SCHEMA sim TO @p@_resolver, @p@_rolemgr, @p@_dedup;

SET ROLE @p@_resolver;

CREATE FUNCTION sim.caller_device() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT d.id FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active
$$;

CREATE FUNCTION sim.caller_user() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT u.id FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active
$$;

CREATE FUNCTION sim.caller_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT u.role FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active
$$;

CREATE FUNCTION sim.caller_is_lead() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT coalesce(bool_or(u.role = 'team_lead'), false)
    FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active
$$;

CREATE FUNCTION sim.caller_is_clinical() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT coalesce(bool_or(u.clinical AND u.role IN ('clinician', 'team_lead')), false)
    FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active
$$;

-- The active pairs the calling device's user works in (empty for leads and analysts).
CREATE FUNCTION sim.caller_pairs() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT coalesce(array_agg(p.id), '{}')
    FROM sim.pairs p
    JOIN sim.devices d ON d.user_id IN (p.officer_id, p.clinician_id)
    JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND d.revoked_at IS NULL AND u.active AND p.active
      AND u.role IN ('officer', 'clinician')
$$;

-- The pending, unexpired invitation whose login role is calling (sim.join_team only).
CREATE FUNCTION sim.caller_invitation() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT i.id FROM sim.invitations i JOIN sim.users u ON u.id = i.user_id
    WHERE i.login_role = session_user AND i.used_at IS NULL AND i.withdrawn_at IS NULL
      AND i.expires_at > clock_timestamp() AND u.active
$$;

-- The trust's administrators (members of the owner role, superusers) run init and migrations.
-- They could switch row-level security off as owners anyway; no device is ever a member.
CREATE FUNCTION sim.caller_is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT pg_has_role(session_user, '@p@_owner', 'MEMBER')
$$;

-- ---------------------------------------------------------------------------------------------
-- Login roles: definer functions of @p@_rolemgr (CREATEROLE). UUIDs and verifiers in, never a
-- name or SQL; a verifier that is not SCRAM-SHA-256 (a password, or md5) is refused, so the
-- server can never be handed a password to hash.
-- ---------------------------------------------------------------------------------------------

SET ROLE @p@_rolemgr;

CREATE FUNCTION sim.rm_create_invitation_login(invitation uuid, verifier text, valid_until timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    IF verifier IS NULL
       OR verifier !~ '^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/]{16,88}={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$'
       OR split_part(split_part(verifier, '$', 2), ':', 1)::integer < 4096 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'not a SCRAM-SHA-256 verifier';
    END IF;
    EXECUTE format(
        'CREATE ROLE %I LOGIN INHERIT CONNECTION LIMIT 1 PASSWORD %L VALID UNTIL %L IN ROLE %I ROLE %I',
        '@p@_i_' || replace(invitation::text, '-', ''), verifier, valid_until,
        '@p@_invitee', '@p@_rolemgr');
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L',
        '@p@_i_' || replace(invitation::text, '-', ''), '30s');
END
$$;

CREATE FUNCTION sim.rm_create_device_login(device uuid, verifier text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    role_name text := '@p@_d_' || replace(device::text, '-', '');
BEGIN
    IF verifier IS NULL
       OR verifier !~ '^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/]{16,88}={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$'
       OR split_part(split_part(verifier, '$', 2), ':', 1)::integer < 4096 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'not a SCRAM-SHA-256 verifier';
    END IF;
    -- @p@_rolemgr is made a member so that it may end this device's sessions on revocation.
    EXECUTE format(
        'CREATE ROLE %I LOGIN INHERIT CONNECTION LIMIT 4 PASSWORD %L IN ROLE %I ROLE %I',
        role_name, verifier, '@p@_device', '@p@_rolemgr');
    -- Defaults for a well-behaved client (a session can lower them; see docs/team-server.md).
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', role_name, '30s');
    EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', role_name, '10s');
    EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', role_name, '15s');
END
$$;

-- NOLOGIN, and every session of that login ended (except the caller's own).
CREATE FUNCTION sim.rm_disable_login(kind text, id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    role_name text;
BEGIN
    IF kind NOT IN ('d', 'i') OR id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'unknown kind of login';
    END IF;
    role_name := '@p@_' || kind || '_' || replace(id::text, '-', '');
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER ROLE %I NOLOGIN', role_name);
    -- Waits (up to 5 s each) until the sessions have really gone.
    PERFORM pg_terminate_backend(a.pid, 5000)
    FROM pg_catalog.pg_stat_activity a
    WHERE a.usename = role_name AND a.pid <> pg_backend_pid();
END
$$;

CREATE FUNCTION sim.rm_drop_invitation_login(invitation uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    role_name text := '@p@_i_' || replace(invitation::text, '-', '');
BEGIN
    IF role_name = session_user THEN
        RETURN;  -- a session cannot drop its own login; the next sweep will
    END IF;
    PERFORM pg_terminate_backend(a.pid, 5000)
    FROM pg_catalog.pg_stat_activity a WHERE a.usename = role_name;
    EXECUTE format('DROP ROLE IF EXISTS %I', role_name);
END
$$;

-- Ends device sessions that have held the team lock (a push left open in a transaction)
-- longer than `stalled`. Only members of @p@_device are ever ended; never an administrator.
CREATE FUNCTION sim.rm_end_stalled_lock_holders(stalled interval) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    ended integer := 0;
BEGIN
    IF stalled IS NULL OR stalled < interval '100 ms' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'stalled must be at least 100 ms';
    END IF;
    SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid, 5000)) INTO ended
    FROM pg_catalog.pg_stat_activity a
    WHERE a.pid <> pg_backend_pid()
      AND a.xact_start < clock_timestamp() - stalled
      AND pg_has_role(a.usesysid, '@p@_device', 'MEMBER')
      AND NOT pg_has_role(a.usesysid, '@p@_owner', 'MEMBER')
      AND EXISTS (
          SELECT 1 FROM pg_catalog.pg_locks l
          WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation'
            AND l.relation = 'sim.team'::regclass
            AND l.mode IN ('RowShareLock', 'RowExclusiveLock'));
    RETURN ended;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Duplicates across caseloads: @p@_dedup sees every person's identifiers and tells no one but
-- the lead (through merge proposals). It returns nothing, so a push learns nothing from it.
-- ---------------------------------------------------------------------------------------------

SET ROLE @p@_dedup;

CREATE FUNCTION sim.note_possible_duplicates(person uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me sim.rows%ROWTYPE;
BEGIN
    SELECT * INTO me FROM sim.rows WHERE row_id = person AND table_name = 'people';
    IF NOT FOUND OR me.deleted THEN
        RETURN;
    END IF;
    INSERT INTO sim.merge_proposals (person_id, other_person_id, matched_on)
    SELECT me.row_id, o.row_id, m.field
    FROM (VALUES ('nhs_number'), ('police_reference')) AS m (field)
    JOIN sim.rows o
      ON o.table_name = 'people' AND NOT o.deleted AND o.row_id <> me.row_id
     AND nullif(me.payload ->> m.field, '') IS NOT NULL
     AND o.payload ->> m.field = me.payload ->> m.field
    ON CONFLICT DO NOTHING;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The API: definer functions of the owner. Row-level security still applies inside them
-- (FORCE), keyed to the calling device.
-- ---------------------------------------------------------------------------------------------

SET ROLE @p@_owner;

-- The caller as a device, or an error that says only that this login may not do this.
CREATE FUNCTION sim._require_device() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    device uuid := sim.caller_device();
BEGIN
    IF device IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'this login may not use the team server (revoked, or not a device)';
    END IF;
    RETURN device;
END
$$;

CREATE FUNCTION sim._require_lead_or_admin() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    IF NOT (sim.caller_is_lead() OR sim.caller_is_admin()) THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'only a team lead may do this';
    END IF;
END
$$;

CREATE FUNCTION sim._result(change_id uuid, status text, code text, seq bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'change_id', change_id, 'status', status, 'code', code, 'seq', seq))
$$;

-- Drops the login roles of invitations that were used, withdrawn or have expired.
CREATE FUNCTION sim._sweep_invitations() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    old uuid;
BEGIN
    FOR old IN
        SELECT i.id FROM sim.invitations i
        WHERE NOT i.login_dropped
          AND (i.used_at IS NOT NULL OR i.withdrawn_at IS NOT NULL OR i.expires_at < now())
          AND i.login_role <> session_user
    LOOP
        PERFORM sim.rm_drop_invitation_login(old);
        UPDATE sim.invitations SET login_dropped = true WHERE id = old;
    END LOOP;
END
$$;

-- Takes the team lock. A device that left a push open in a transaction (holding the lock) for
-- longer than team.stalled_after is ended, then the lock is tried once more. NULL: busy.
CREATE FUNCTION sim._lock_team() RETURNS sim.team
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    t sim.team;
    settings sim.team;
BEGIN
    SELECT * INTO settings FROM sim.team;
    PERFORM set_config('lock_timeout',
        (extract(epoch FROM settings.lock_wait) * 1000)::bigint || 'ms', true);
    BEGIN
        SELECT * INTO t FROM sim.team FOR UPDATE;
        RETURN t;
    EXCEPTION WHEN lock_not_available THEN
        IF sim.rm_end_stalled_lock_holders(settings.stalled_after) = 0 THEN
            RETURN NULL;
        END IF;
    END;
    BEGIN
        SELECT * INTO t FROM sim.team FOR UPDATE;
        RETURN t;
    EXCEPTION WHEN lock_not_available THEN
        RETURN NULL;
    END;
END
$$;

-- One change, checked and applied under the team lock (the caller holds it). Any refusal that
-- depends on rows this device cannot see answers `not_permitted`, whatever the reason, so a
-- device cannot tell "exists on another caseload" from "does not exist".
CREATE FUNCTION sim._apply_change(
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
    spec sim.record_tables;
    existing sim.rows;
    had_row boolean;
    parent sim.rows;
    parent_id uuid;
    v_person uuid;
    v_pair uuid;
    old_pair uuid;
    prior record;
    v_seq bigint;
    v_field text;
    v_cipher jsonb;
    now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
    -- The change's shape. Nothing here depends on what this device can or cannot see.
    IF jsonb_typeof(change) IS DISTINCT FROM 'object' THEN
        RETURN sim._result(NULL, 'refused', 'invalid', NULL);
    END IF;
    BEGIN
        v_change_id := (change ->> 'change_id')::uuid;
        v_table := change ->> 'table';
        v_row := (change ->> 'row_id')::uuid;
        v_op := change ->> 'op';
        v_hlc := (change ->> 'hlc')::bigint;
        v_payload := change -> 'payload';
        v_clinical := change -> 'clinical';
    EXCEPTION WHEN data_exception THEN
        RETURN sim._result(NULL, 'refused', 'invalid', NULL);
    END;
    IF v_change_id IS NULL OR v_table IS NULL OR v_row IS NULL OR v_hlc IS NULL OR v_hlc < 0
       OR v_op IS NULL OR v_op NOT IN ('upsert', 'delete')
       OR (v_op = 'upsert' AND jsonb_typeof(v_payload) IS DISTINCT FROM 'object')
       OR (v_op = 'delete' AND v_payload IS NOT NULL AND jsonb_typeof(v_payload) <> 'null')
       OR (v_clinical IS NOT NULL AND jsonb_typeof(v_clinical) NOT IN ('object', 'null'))
       OR octet_length(change::text) > 262144 THEN
        RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
    END IF;
    IF jsonb_typeof(v_clinical) = 'null' THEN
        v_clinical := NULL;
    END IF;
    IF (v_hlc >> 16) > now_ms + (extract(epoch FROM team_row.max_clock_ahead) * 1000)::bigint THEN
        RETURN sim._result(v_change_id, 'refused', 'clock_ahead', NULL);
    END IF;

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

    -- The row as it would be: which person (and pair) it would belong to.
    IF v_op = 'delete' THEN
        v_person := existing.person_id;
    ELSIF spec.scope = 'team' THEN
        v_person := NULL;
    ELSIF spec.parent_table IS NULL THEN  -- a person
        v_person := v_row;
        BEGIN
            v_pair := nullif(v_payload ->> 'pair_id', '')::uuid;
        EXCEPTION WHEN data_exception THEN
            RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
        END;
        SELECT c.pair_id INTO old_pair FROM sim.caseload c WHERE c.person_id = v_row;
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
            parent_id := (v_payload ->> spec.parent_key)::uuid;
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

    -- Apply. Row-level security checks every write again (USING: the row as it is; WITH
    -- CHECK: as it would be). A row that exists where this device cannot see it fails on its
    -- primary key and answers exactly as a row this device may not touch.
    BEGIN
        IF v_table = 'people' AND v_op = 'upsert' THEN
            INSERT INTO sim.caseload AS c (person_id, pair_id, deleted)
            VALUES (v_row, v_pair, false)
            ON CONFLICT (person_id) DO UPDATE SET pair_id = excluded.pair_id, deleted = false;
        ELSIF v_table = 'people' THEN
            UPDATE sim.caseload SET deleted = true WHERE person_id = v_row;
        ELSIF v_table = 'pairs' THEN
            BEGIN
                INSERT INTO sim.pairs AS p (id, officer_id, clinician_id, active)
                VALUES (
                    v_row,
                    CASE WHEN v_op = 'upsert' THEN nullif(v_payload ->> 'officer_id', '')::uuid END,
                    CASE WHEN v_op = 'upsert' THEN nullif(v_payload ->> 'clinician_id', '')::uuid END,
                    v_op = 'upsert' AND coalesce((v_payload ->> 'active')::boolean, true))
                ON CONFLICT (id) DO UPDATE
                SET officer_id = excluded.officer_id, clinician_id = excluded.clinician_id,
                    active = excluded.active;
            EXCEPTION WHEN data_exception THEN
                RETURN sim._result(v_change_id, 'refused', 'invalid', NULL);
            END;
        END IF;

        UPDATE sim.team SET last_seq = last_seq + 1 RETURNING last_seq INTO v_seq;
        INSERT INTO sim.changes
            (seq, change_id, device_id, author, hlc, table_name, row_id, person_id, op, payload)
        VALUES
            (v_seq, v_change_id, me_device, me_user, v_hlc, v_table, v_row, v_person, v_op,
             CASE WHEN v_op = 'upsert' THEN v_payload END);
        IF had_row THEN
            UPDATE sim.rows
            SET person_id = v_person,
                payload = CASE WHEN v_op = 'upsert' THEN v_payload ELSE payload END,
                hlc = v_hlc, deleted = (v_op = 'delete'), last_change = v_seq
            WHERE row_id = v_row;
        ELSE
            INSERT INTO sim.rows (row_id, table_name, person_id, payload, hlc, deleted, last_change)
            VALUES (v_row, v_table, v_person, v_payload, v_hlc, false, v_seq);
        END IF;
        IF v_clinical IS NOT NULL THEN
            FOR v_field, v_cipher IN SELECT key, value FROM jsonb_each(v_clinical) LOOP
                INSERT INTO sim.clinical_changes (seq, field, person_id, ciphertext, key_epoch)
                VALUES (v_seq, v_field, v_person, decode(v_cipher ->> 'ciphertext', 'base64'),
                        (v_cipher ->> 'epoch')::integer);
                INSERT INTO sim.clinical_fields AS f
                    (row_id, field, person_id, ciphertext, key_epoch, last_change)
                VALUES (v_row, v_field, v_person, decode(v_cipher ->> 'ciphertext', 'base64'),
                        (v_cipher ->> 'epoch')::integer, v_seq)
                ON CONFLICT (row_id, field) DO UPDATE
                SET person_id = excluded.person_id, ciphertext = excluded.ciphertext,
                    key_epoch = excluded.key_epoch, last_change = excluded.last_change;
            END LOOP;
        END IF;
        IF v_table = 'people' AND v_op = 'upsert' THEN
            PERFORM sim.note_possible_duplicates(v_row);
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

-- Push: a batch of at most 500 changes, each accepted or refused on its own (a refusal never
-- blocks the changes behind it). Results come back in the order given.
CREATE FUNCTION sim.push(changes jsonb) RETURNS jsonb
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
BEGIN
    IF jsonb_typeof(changes) IS DISTINCT FROM 'array' OR jsonb_array_length(changes) > 500
       OR pg_column_size(changes) > 16777216 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'push takes a JSON array of at most 500 changes (16 MB in all)';
    END IF;
    team_row := sim._lock_team();
    IF team_row.id IS NULL THEN
        RETURN jsonb_build_object('status', 'busy', 'results', '[]'::jsonb);
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    FOR change IN SELECT value FROM jsonb_array_elements(changes) LOOP
        results := results || jsonb_build_array(sim._apply_change(
            change, me_device, me_user, me_role, me_clinical, me_lead, team_row));
    END LOOP;
    RETURN jsonb_build_object(
        'status', 'done', 'incarnation', team_row.incarnation, 'results', results);
END
$$;

-- Pull: the changes after `after` that this device may see now, oldest first, with the
-- clinical ciphertext only for clinical devices. `cursor` moves past changes it may not see.
CREATE FUNCTION sim.pull(after_seq bigint, max_changes integer DEFAULT 500) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    me_clinical boolean := sim.caller_is_clinical();
    page integer := least(greatest(coalesce(max_changes, 500), 1), 1000);
    result jsonb;
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    WITH visible AS (
        SELECT c.* FROM sim.changes c
        WHERE c.seq > greatest(coalesce(after_seq, 0), 0)
        ORDER BY c.seq
        LIMIT page
    )
    SELECT jsonb_build_object(
        'team', t.id,
        'incarnation', t.incarnation,
        'cursor', CASE WHEN (SELECT count(*) FROM visible) = page
                       THEN (SELECT max(seq) FROM visible)
                       ELSE greatest(t.last_seq, coalesce(after_seq, 0)) END,
        'more', (SELECT count(*) FROM visible) = page,
        'changes', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'seq', v.seq, 'change_id', v.change_id, 'table', v.table_name,
                'row_id', v.row_id, 'person_id', v.person_id, 'op', v.op, 'hlc', v.hlc,
                'author', v.author, 'payload', v.payload,
                'clinical', CASE WHEN me_clinical THEN (
                    SELECT jsonb_object_agg(cc.field, jsonb_build_object(
                        'ciphertext', encode(cc.ciphertext, 'base64'), 'epoch', cc.key_epoch))
                    FROM sim.clinical_changes cc WHERE cc.seq = v.seq) END
            )) ORDER BY v.seq)
            FROM visible v), '[]'::jsonb))
    INTO result
    FROM sim.team t;
    RETURN result;
END
$$;

-- Who this device is, on which team and server: the first call of every sync.
CREATE FUNCTION sim.hello() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    result jsonb;
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    SELECT jsonb_build_object(
        'protocol', 1,
        'schema', (SELECT version_num FROM sim.alembic_version LIMIT 1),
        'team', jsonb_build_object('id', t.id, 'name', t.name),
        'incarnation', t.incarnation,
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

-- A team lead (or the trust's administrator) invites a user's next device. The inviting
-- laptop made the one-time secret and sends only its SCRAM verifier; the invitation's login
-- role expires with the invitation (VALID UNTIL).
CREATE FUNCTION sim.invite(
    username text, role text, clinical boolean, valid_hours integer, verifier text,
    display_name text DEFAULT NULL, user_id uuid DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    inviter uuid := sim.caller_user();
    the_user sim.users;
    invitation uuid := gen_random_uuid();
    expires timestamptz;
BEGIN
    PERFORM sim._require_lead_or_admin();
    IF username IS NULL OR username !~ '^[^[:space:][:cntrl:]]{1,64}$'
       OR role IS NULL OR role NOT IN ('officer', 'clinician', 'team_lead', 'analyst')
       OR clinical IS NULL OR (clinical AND role NOT IN ('clinician', 'team_lead'))
       OR valid_hours IS NULL OR valid_hours NOT BETWEEN 1 AND 720
       OR length(display_name) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'invitation details are not valid';
    END IF;
    SELECT * INTO the_user FROM sim.users u WHERE u.username = invite.username;
    IF FOUND THEN
        IF NOT the_user.active OR the_user.role <> invite.role OR the_user.clinical <> invite.clinical
           OR (invite.user_id IS NOT NULL AND invite.user_id <> the_user.id) THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = 'that user name belongs to a removed user or one with another role';
        END IF;
    ELSE
        INSERT INTO sim.users (id, username, display_name, role, clinical, created_by)
        VALUES (coalesce(invite.user_id, gen_random_uuid()), invite.username,
                invite.display_name, invite.role, invite.clinical, inviter)
        RETURNING * INTO the_user;
    END IF;
    PERFORM sim._sweep_invitations();
    expires := date_trunc('second', now()) + make_interval(hours => valid_hours);
    INSERT INTO sim.invitations (id, user_id, login_role, created_by, expires_at)
    VALUES (invitation, the_user.id, '@p@_i_' || replace(invitation::text, '-', ''),
            inviter, expires);
    PERFORM sim.rm_create_invitation_login(invitation, verifier, expires);
    RETURN jsonb_build_object(
        'invitation', invitation,
        'login_role', '@p@_i_' || replace(invitation::text, '-', ''),
        'device_login_role', '@p@_d_' || replace(invitation::text, '-', ''),
        'expires_at', expires,
        'team', (SELECT jsonb_build_object('id', t.id, 'name', t.name) FROM sim.team t),
        'user', jsonb_build_object(
            'id', the_user.id, 'username', the_user.username, 'role', the_user.role,
            'clinical', the_user.clinical, 'display_name', the_user.display_name));
END
$$;

-- Called by a new laptop logged in with its invitation: makes the device's own login role
-- from the verifier the laptop computed for its fresh random credential, records its public
-- key, and disables the invitation's login. One invitation, one device, once.
CREATE FUNCTION sim.join_team(verifier text, device_public_key bytea) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    invitation uuid := sim.caller_invitation();
    result jsonb;
BEGIN
    IF invitation IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'this invitation has been used, withdrawn or has expired';
    END IF;
    IF device_public_key IS NULL OR length(device_public_key) <> 32 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the public key must be 32 bytes';
    END IF;
    -- What to answer, read while the invitation still speaks for this session.
    SELECT jsonb_build_object(
        'device', invitation,
        'login_role', '@p@_d_' || replace(invitation::text, '-', ''),
        'team', jsonb_build_object('id', t.id, 'name', t.name),
        'user', jsonb_build_object(
            'id', u.id, 'username', u.username, 'role', u.role, 'clinical', u.clinical,
            'display_name', u.display_name))
    INTO result
    FROM sim.team t, sim.users u JOIN sim.invitations i ON i.user_id = u.id
    WHERE i.id = invitation;
    INSERT INTO sim.devices (id, user_id, login_role, public_key)
    SELECT invitation, i.user_id, '@p@_d_' || replace(invitation::text, '-', ''), join_team.device_public_key
    FROM sim.invitations i WHERE i.id = invitation;
    PERFORM sim.rm_create_device_login(invitation, verifier);
    UPDATE sim.invitations SET used_at = now() WHERE id = invitation;
    PERFORM sim.rm_disable_login('i', invitation);
    RETURN result;
END
$$;

-- Cuts off one device: no more logins, its sessions ended, every function refuses it.
CREATE FUNCTION sim.revoke_device(device uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    found_device uuid;
BEGIN
    PERFORM sim._require_lead_or_admin();
    UPDATE sim.devices SET revoked_at = now(), revoked_by = sim.caller_user()
    WHERE id = device AND revoked_at IS NULL
    RETURNING id INTO found_device;
    IF found_device IS NULL THEN
        RETURN jsonb_build_object('revoked', false);
    END IF;
    PERFORM sim.rm_disable_login('d', found_device);
    RETURN jsonb_build_object('revoked', true, 'device', found_device);
END
$$;

-- Cuts off a user: every device, every pending invitation, and the user marked removed.
CREATE FUNCTION sim.revoke_user(target uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    gone uuid;
    devices_revoked integer := 0;
BEGIN
    PERFORM sim._require_lead_or_admin();
    UPDATE sim.users SET active = false, removed_at = now() WHERE id = target AND active;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('revoked', false);
    END IF;
    FOR gone IN
        UPDATE sim.devices SET revoked_at = now(), revoked_by = sim.caller_user()
        WHERE user_id = target AND revoked_at IS NULL RETURNING id
    LOOP
        PERFORM sim.rm_disable_login('d', gone);
        devices_revoked := devices_revoked + 1;
    END LOOP;
    FOR gone IN
        UPDATE sim.invitations SET withdrawn_at = now()
        WHERE user_id = target AND used_at IS NULL AND withdrawn_at IS NULL RETURNING id
    LOOP
        PERFORM sim.rm_disable_login('i', gone);
    END LOOP;
    RETURN jsonb_build_object('revoked', true, 'devices', devices_revoked);
END
$$;

-- The team as the caller may see it: a lead sees every user, device and pending invitation;
-- anyone else sees their own user and devices.
CREATE FUNCTION sim.team_status() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    RETURN jsonb_build_object(
        'team', (SELECT jsonb_build_object('id', t.id, 'name', t.name, 'incarnation', t.incarnation)
            FROM sim.team t),
        'users', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', u.id, 'username', u.username, 'display_name', u.display_name,
            'role', u.role, 'clinical', u.clinical, 'active', u.active) ORDER BY u.username)
            FROM sim.users u
            WHERE sim.caller_is_lead() OR u.id = sim.caller_user()), '[]'::jsonb),
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', d.id, 'user', d.user_id, 'created_at', d.created_at,
            'last_seen', d.last_seen, 'revoked_at', d.revoked_at) ORDER BY d.created_at)
            FROM sim.devices d
            WHERE sim.caller_is_lead() OR d.user_id = sim.caller_user()), '[]'::jsonb),
        'invitations', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', i.id, 'user', i.user_id, 'expires_at', i.expires_at) ORDER BY i.created_at)
            FROM sim.invitations i
            WHERE sim.caller_is_lead() AND i.used_at IS NULL AND i.withdrawn_at IS NULL
              AND i.expires_at > now()), '[]'::jsonb));
END
$$;

RESET ROLE;
SET ROLE @p@_owner;

-- ---------------------------------------------------------------------------------------------
-- Row-level security: on, and forced (so the owner's own definer functions obey it too).
-- ---------------------------------------------------------------------------------------------

ALTER TABLE sim.team ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.team FORCE ROW LEVEL SECURITY;
CREATE POLICY team_read ON sim.team FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL
    OR (SELECT sim.caller_invitation()) IS NOT NULL);
CREATE POLICY team_number ON sim.team FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL)
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY team_create ON sim.team FOR INSERT TO @p@_owner
    WITH CHECK ((SELECT sim.caller_is_admin()));

ALTER TABLE sim.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_read ON sim.users FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR id = (SELECT sim.caller_user())
    OR id IN (SELECT i.user_id FROM sim.invitations i
              WHERE i.id = (SELECT sim.caller_invitation())));
CREATE POLICY users_write ON sim.users FOR INSERT TO @p@_owner
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY users_change ON sim.users FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY users_resolve ON sim.users FOR SELECT TO @p@_resolver USING (
    id IN (SELECT d.user_id FROM sim.devices d WHERE d.login_role = session_user)
    OR id IN (SELECT i.user_id FROM sim.invitations i WHERE i.login_role = session_user));

ALTER TABLE sim.pairs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.pairs FORCE ROW LEVEL SECURITY;
CREATE POLICY pairs_read ON sim.pairs FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR id = ANY ((SELECT sim.caller_pairs())::uuid[]));
CREATE POLICY pairs_write ON sim.pairs FOR INSERT TO @p@_owner
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY pairs_change ON sim.pairs FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY pairs_resolve ON sim.pairs FOR SELECT TO @p@_resolver USING (
    officer_id IN (SELECT d.user_id FROM sim.devices d WHERE d.login_role = session_user)
    OR clinician_id IN (SELECT d.user_id FROM sim.devices d WHERE d.login_role = session_user));

ALTER TABLE sim.caseload ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.caseload FORCE ROW LEVEL SECURITY;
CREATE POLICY caseload_read ON sim.caseload FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR pair_id = ANY ((SELECT sim.caller_pairs())::uuid[]));
CREATE POLICY caseload_add ON sim.caseload FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR pair_id = ANY ((SELECT sim.caller_pairs())::uuid[]));
CREATE POLICY caseload_change ON sim.caseload FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
           OR pair_id = ANY ((SELECT sim.caller_pairs())::uuid[]))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
                OR pair_id = ANY ((SELECT sim.caller_pairs())::uuid[]));

ALTER TABLE sim.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_read ON sim.invitations FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR login_role = session_user);
CREATE POLICY invitations_add ON sim.invitations FOR INSERT TO @p@_owner
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY invitations_change ON sim.invitations FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
           OR id = (SELECT sim.caller_invitation()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
                OR login_role = session_user);
CREATE POLICY invitations_resolve ON sim.invitations FOR SELECT TO @p@_resolver
    USING (login_role = session_user);

ALTER TABLE sim.devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.devices FORCE ROW LEVEL SECURITY;
CREATE POLICY devices_read ON sim.devices FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR login_role = session_user
    OR id = (SELECT sim.caller_invitation()));
CREATE POLICY devices_join ON sim.devices FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin()) OR id = (SELECT sim.caller_invitation()));
CREATE POLICY devices_change ON sim.devices FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
           OR id = (SELECT sim.caller_device()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
                OR login_role = session_user);
CREATE POLICY devices_resolve ON sim.devices FOR SELECT TO @p@_resolver
    USING (login_role = session_user);

ALTER TABLE sim.record_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.record_tables FORCE ROW LEVEL SECURITY;
CREATE POLICY record_tables_read ON sim.record_tables FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY record_tables_admin ON sim.record_tables FOR ALL TO @p@_owner
    USING ((SELECT sim.caller_is_admin())) WITH CHECK ((SELECT sim.caller_is_admin()));

-- A row is visible to leads, and to a pair for the people on its caseload (and the pair's own
-- row); `caseload` is itself filtered by its policy, so the subquery yields only those people.
ALTER TABLE sim.rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.rows FORCE ROW LEVEL SECURITY;
CREATE POLICY rows_read ON sim.rows FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR person_id IN (SELECT c.person_id FROM sim.caseload c)
    OR (table_name = 'pairs' AND row_id = ANY ((SELECT sim.caller_pairs())::uuid[])));
CREATE POLICY rows_add ON sim.rows FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR ((SELECT sim.caller_device()) IS NOT NULL
        AND person_id IN (SELECT c.person_id FROM sim.caseload c)));
CREATE POLICY rows_change ON sim.rows FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
           OR person_id IN (SELECT c.person_id FROM sim.caseload c))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
                OR ((SELECT sim.caller_device()) IS NOT NULL
                    AND person_id IN (SELECT c.person_id FROM sim.caseload c)));
CREATE POLICY rows_dedup ON sim.rows FOR SELECT TO @p@_dedup USING (table_name = 'people');

ALTER TABLE sim.changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.changes FORCE ROW LEVEL SECURITY;
CREATE POLICY changes_read ON sim.changes FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR person_id IN (SELECT c.person_id FROM sim.caseload c)
    OR (table_name = 'pairs' AND row_id = ANY ((SELECT sim.caller_pairs())::uuid[])));
CREATE POLICY changes_add ON sim.changes FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin())
    OR (device_id = (SELECT sim.caller_device()) AND author = (SELECT sim.caller_user())));

-- Clinical ciphertext: clinical devices only (clinicians of the pair, clinical leads).
ALTER TABLE sim.clinical_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.clinical_fields FORCE ROW LEVEL SECURITY;
CREATE POLICY clinical_fields_read ON sim.clinical_fields FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin())
    OR ((SELECT sim.caller_is_clinical())
        AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))));
CREATE POLICY clinical_fields_add ON sim.clinical_fields FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin())
    OR ((SELECT sim.caller_is_clinical())
        AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))));
CREATE POLICY clinical_fields_change ON sim.clinical_fields FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin())
        OR ((SELECT sim.caller_is_clinical())
            AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))))
    WITH CHECK ((SELECT sim.caller_is_admin())
        OR ((SELECT sim.caller_is_clinical())
            AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))));

ALTER TABLE sim.clinical_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.clinical_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY clinical_changes_read ON sim.clinical_changes FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin())
    OR ((SELECT sim.caller_is_clinical())
        AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))));
CREATE POLICY clinical_changes_add ON sim.clinical_changes FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin())
    OR ((SELECT sim.caller_is_clinical())
        AND ((SELECT sim.caller_is_lead()) OR person_id IN (SELECT c.person_id FROM sim.caseload c))));

ALTER TABLE sim.merge_proposals ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.merge_proposals FORCE ROW LEVEL SECURITY;
CREATE POLICY merge_proposals_read ON sim.merge_proposals FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY merge_proposals_resolve ON sim.merge_proposals FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()))
    WITH CHECK ((SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY merge_proposals_found ON sim.merge_proposals FOR INSERT TO @p@_dedup
    WITH CHECK (true);

ALTER TABLE sim.audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_heads_read ON sim.audit_heads FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR device_id = (SELECT sim.caller_device()));
CREATE POLICY audit_heads_own ON sim.audit_heads FOR INSERT TO @p@_owner
    WITH CHECK (device_id = (SELECT sim.caller_device()));
CREATE POLICY audit_heads_move ON sim.audit_heads FOR UPDATE TO @p@_owner
    USING (device_id = (SELECT sim.caller_device()))
    WITH CHECK (device_id = (SELECT sim.caller_device()));

-- Alembic's own table: administrators only.
ALTER TABLE sim.alembic_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.alembic_version FORCE ROW LEVEL SECURITY;
CREATE POLICY alembic_version_admin ON sim.alembic_version FOR ALL TO @p@_owner
    USING ((SELECT sim.caller_is_admin())) WITH CHECK ((SELECT sim.caller_is_admin()));
CREATE POLICY alembic_version_hello ON sim.alembic_version FOR SELECT TO @p@_owner
    USING ((SELECT sim.caller_device()) IS NOT NULL);

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; the helper roles get exactly what their functions need;
-- devices and invitations get EXECUTE on the API and nothing else.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE CREATE ON SCHEMA sim FROM @p@_resolver, @p@_rolemgr, @p@_dedup;
REVOKE ALL ON ALL TABLES IN SCHEMA sim FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA sim FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT SELECT ON sim.devices, sim.users, sim.pairs, sim.invitations TO @p@_resolver;
GRANT SELECT ON sim.rows TO @p@_dedup;
GRANT INSERT ON sim.merge_proposals TO @p@_dedup;

GRANT EXECUTE ON FUNCTION
    sim.caller_device(), sim.caller_user(), sim.caller_role(), sim.caller_is_lead(),
    sim.caller_is_clinical(), sim.caller_pairs(), sim.caller_invitation(), sim.caller_is_admin()
TO @p@_owner;
GRANT EXECUTE ON FUNCTION
    sim.rm_create_invitation_login(uuid, text, timestamptz), sim.rm_create_device_login(uuid, text),
    sim.rm_disable_login(text, uuid), sim.rm_drop_invitation_login(uuid),
    sim.rm_end_stalled_lock_holders(interval)
TO @p@_owner;
GRANT EXECUTE ON FUNCTION sim.note_possible_duplicates(uuid) TO @p@_owner;

GRANT EXECUTE ON FUNCTION
    sim.hello(), sim.push(jsonb), sim.pull(bigint, integer),
    sim.invite(text, text, boolean, integer, text, text, uuid),
    sim.revoke_device(uuid), sim.revoke_user(uuid), sim.team_status()
TO @p@_device;
GRANT EXECUTE ON FUNCTION sim.join_team(text, bytea) TO @p@_invitee;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
