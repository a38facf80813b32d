-- SIM Desk team server, schema 0003: the team's keys (issue 20).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- The server never holds a key that opens a clinical note or makes a linkage pseudonym. It
-- keeps, for laptops to exchange:
--   * sim.devices.proof: HMAC(K_proof, device id || public key), K_proof derived from the
--     invitation's one-time secret, which the server never sees. The inviting laptop checks it,
--     so a public key swapped in here is caught.
--   * sim.key_introductions: one laptop telling another which key a third device has, MAC'd
--     with a key only those two laptops can derive (X25519 between their own keys).
--   * sim.team_keys: which epochs of the clinical and linkage keys exist, and the current one.
--   * sim.key_wraps: each epoch's key sealed to one device's public key by another device
--     (authenticated: the recipient checks who wrapped it). A device reads only its own wraps.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

ALTER TABLE sim.devices ADD COLUMN proof bytea CHECK (proof IS NULL OR length(proof) = 32);

CREATE TABLE sim.team_keys (
    kind text NOT NULL CHECK (kind IN ('clinical', 'linkage')),
    epoch integer NOT NULL CHECK (epoch >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid NOT NULL REFERENCES sim.devices (id),
    current boolean NOT NULL DEFAULT true,
    PRIMARY KEY (kind, epoch)
);
CREATE UNIQUE INDEX team_keys_one_current ON sim.team_keys (kind) WHERE current;

CREATE TABLE sim.key_wraps (
    kind text NOT NULL,
    epoch integer NOT NULL,
    device_id uuid NOT NULL REFERENCES sim.devices (id),
    wrapped bytea NOT NULL CHECK (length(wrapped) = 92),
    wrapped_by uuid NOT NULL REFERENCES sim.devices (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, epoch, device_id),
    FOREIGN KEY (kind, epoch) REFERENCES sim.team_keys (kind, epoch)
);

CREATE TABLE sim.key_introductions (
    from_device uuid NOT NULL REFERENCES sim.devices (id),
    to_device uuid NOT NULL REFERENCES sim.devices (id),
    about_device uuid NOT NULL REFERENCES sim.devices (id),
    said bytea NOT NULL CHECK (length(said) <= 400),
    mac bytea NOT NULL CHECK (length(mac) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_device, to_device, about_device)
);
CREATE INDEX key_introductions_to ON sim.key_introductions (to_device);

-- A wrap may go only to an active device that may hold the kind: clinical keys to clinical
-- users' devices, linkage keys to analysts' and team leads' devices.
CREATE FUNCTION sim._may_hold(kind text, device uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT coalesce(bool_or(d.revoked_at IS NULL AND u.active AND CASE kind
        WHEN 'clinical' THEN u.clinical AND u.role IN ('clinician', 'team_lead')
        WHEN 'linkage' THEN u.role IN ('analyst', 'team_lead')
        ELSE false END), false)
    FROM sim.devices d JOIN sim.users u ON u.id = d.user_id WHERE d.id = device
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security (forced): a device sees every epoch's existence, its own wraps, the
-- introductions to it and from it; the directory of devices' public keys (below) through
-- sim.key_state only.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE sim.team_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.team_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY team_keys_read ON sim.team_keys FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY team_keys_add ON sim.team_keys FOR INSERT TO @p@_owner WITH CHECK (
    created_by = (SELECT sim.caller_device())
    AND CASE kind WHEN 'clinical' THEN (SELECT sim.caller_is_clinical())
                  ELSE (SELECT sim.caller_is_lead()) END);
CREATE POLICY team_keys_supersede ON sim.team_keys FOR UPDATE TO @p@_owner
    USING (CASE kind WHEN 'clinical' THEN (SELECT sim.caller_is_clinical())
                     ELSE (SELECT sim.caller_is_lead()) END)
    WITH CHECK (NOT current);

ALTER TABLE sim.key_wraps ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.key_wraps FORCE ROW LEVEL SECURITY;
-- Its own wraps to each device; which (kind, epoch, device) wraps exist to the devices that
-- may make them (for the same kind), so they wrap only what is missing.
CREATE POLICY key_wraps_read ON sim.key_wraps FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin())
    OR device_id = (SELECT sim.caller_device())
    OR wrapped_by = (SELECT sim.caller_device())
    OR sim._may_hold(kind, (SELECT sim.caller_device())));
CREATE POLICY key_wraps_add ON sim.key_wraps FOR INSERT TO @p@_owner WITH CHECK (
    wrapped_by = (SELECT sim.caller_device())
    AND CASE kind WHEN 'clinical' THEN (SELECT sim.caller_is_clinical())
                  ELSE (SELECT sim.caller_is_lead()) END);

ALTER TABLE sim.key_introductions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.key_introductions FORCE ROW LEVEL SECURITY;
CREATE POLICY key_introductions_read ON sim.key_introductions FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin())
    OR to_device = (SELECT sim.caller_device())
    OR from_device = (SELECT sim.caller_device()));
CREATE POLICY key_introductions_add ON sim.key_introductions FOR INSERT TO @p@_owner
    WITH CHECK (from_device = (SELECT sim.caller_device()));

-- The directory every device needs to wrap keys and check introductions: each device's id,
-- public key, proof, role and clinical flag, revoked or not. No names. Readable by devices
-- (not invitations), through the definer function sim.key_state, which selects only those.
CREATE POLICY devices_directory ON sim.devices FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY users_directory ON sim.users FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_device()) IS NOT NULL);

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------

-- sim.join_team with the proof of the public key (0001's two-argument form is kept for
-- laptops of the previous release; their devices carry no proof and are never wrapped a key
-- until they join again).
CREATE FUNCTION sim.join_team(verifier text, device_public_key bytea, proof bytea) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    invitation uuid := sim.caller_invitation();
    result jsonb;
BEGIN
    IF invitation IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'this invitation is not valid (used, withdrawn or expired)';
    END IF;
    IF device_public_key IS NULL OR length(device_public_key) <> 32 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the public key must be 32 bytes';
    END IF;
    IF proof IS NULL OR length(proof) <> 32 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the proof must be 32 bytes';
    END IF;
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
    INSERT INTO sim.devices (id, user_id, login_role, public_key, proof)
    SELECT invitation, i.user_id, '@p@_d_' || replace(invitation::text, '-', ''),
           join_team.device_public_key, join_team.proof
    FROM sim.invitations i WHERE i.id = invitation;
    PERFORM sim.rm_create_device_login(invitation, verifier);
    UPDATE sim.invitations SET used_at = now() WHERE id = invitation;
    PERFORM sim.rm_disable_login('i', invitation);
    RETURN result;
END
$$;

-- Everything a device needs for its key step, in one call.
CREATE FUNCTION sim.key_state() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me uuid := sim._require_device();
BEGIN
    RETURN jsonb_build_object(
        'device', me,
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', d.id, 'user', d.user_id, 'public_key', encode(d.public_key, 'base64'),
            'proof', encode(d.proof, 'base64'), 'role', u.role, 'clinical', u.clinical,
            'active', d.revoked_at IS NULL AND u.active) ORDER BY d.created_at)
            FROM sim.devices d JOIN sim.users u ON u.id = d.user_id), '[]'::jsonb),
        'epochs', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'kind', k.kind, 'epoch', k.epoch, 'current', k.current, 'created_by', k.created_by)
            ORDER BY k.kind, k.epoch) FROM sim.team_keys k), '[]'::jsonb),
        'wraps', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'kind', w.kind, 'epoch', w.epoch, 'device', w.device_id,
            'wrapped', CASE WHEN w.device_id = me THEN encode(w.wrapped, 'base64') END,
            'wrapped_by', w.wrapped_by))
            FROM sim.key_wraps w), '[]'::jsonb),
        'introductions', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'from', x.from_device, 'to', x.to_device, 'about', x.about_device,
            'said', encode(x.said, 'base64'), 'mac', encode(x.mac, 'base64')))
            FROM sim.key_introductions x), '[]'::jsonb));
END
$$;

-- Introductions from the calling device: [{"to", "about", "said", "mac"}]; repeats are no-ops.
CREATE FUNCTION sim.put_introductions(items jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me uuid := sim._require_device();
    added integer;
BEGIN
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'introductions must be a short array';
    END IF;
    INSERT INTO sim.key_introductions (from_device, to_device, about_device, said, mac)
    SELECT me, (x ->> 'to')::uuid, (x ->> 'about')::uuid,
           decode(x ->> 'said', 'base64'), decode(x ->> 'mac', 'base64')
    FROM jsonb_array_elements(items) x
    WHERE (x ->> 'to')::uuid <> me
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$$;

-- Wraps from the calling device: [{"kind", "epoch", "device", "wrapped"}]. The caller must
-- hold the epoch itself (a wrap to it, or it made the epoch); repeats are no-ops.
CREATE FUNCTION sim.put_wraps(items jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me uuid := sim._require_device();
    item jsonb;
    added integer := 0;
    refused integer := 0;
    n integer;
BEGIN
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'wraps must be a short array';
    END IF;
    FOR item IN SELECT * FROM jsonb_array_elements(items) LOOP
        IF NOT sim._may_hold(item ->> 'kind', (item ->> 'device')::uuid)
           OR NOT sim._may_hold(item ->> 'kind', me)
           OR NOT EXISTS (SELECT 1 FROM sim.key_wraps w WHERE w.kind = item ->> 'kind'
                          AND w.epoch = (item ->> 'epoch')::integer AND w.device_id = me) THEN
            refused := refused + 1;
            CONTINUE;
        END IF;
        INSERT INTO sim.key_wraps (kind, epoch, device_id, wrapped, wrapped_by)
        VALUES (item ->> 'kind', (item ->> 'epoch')::integer, (item ->> 'device')::uuid,
                decode(item ->> 'wrapped', 'base64'), me)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        added := added + n;
    END LOOP;
    RETURN jsonb_build_object('added', added, 'refused', refused);
END
$$;

-- A new epoch of a kind, with its first wraps (one of them to the caller). Epoch numbers are
-- taken in order: the answer says 'taken' when another device made that epoch first.
CREATE FUNCTION sim.new_key_epoch(kind text, epoch integer, wraps jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me uuid := sim._require_device();
    latest integer;
BEGIN
    IF kind NOT IN ('clinical', 'linkage') OR NOT sim._may_hold(kind, me)
       OR (kind = 'linkage' AND NOT sim.caller_is_lead()) THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'this device may not make that key';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(wraps) x
                   WHERE (x ->> 'device')::uuid = me AND x ->> 'kind' = new_key_epoch.kind
                     AND (x ->> 'epoch')::integer = new_key_epoch.epoch) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a new epoch needs a wrap to its maker';
    END IF;
    -- One maker at a time per kind (the team row is the lock every push takes too, briefly).
    PERFORM 1 FROM sim.team FOR UPDATE;
    SELECT max(k.epoch) INTO latest FROM sim.team_keys k WHERE k.kind = new_key_epoch.kind;
    IF coalesce(latest, 0) + 1 <> epoch THEN
        RETURN jsonb_build_object('created', false, 'latest', latest);
    END IF;
    UPDATE sim.team_keys k SET current = false WHERE k.kind = new_key_epoch.kind AND k.current;
    INSERT INTO sim.team_keys (kind, epoch, created_by) VALUES (kind, epoch, me);
    INSERT INTO sim.key_wraps (kind, epoch, device_id, wrapped, wrapped_by)
    SELECT kind, epoch, me, decode(x ->> 'wrapped', 'base64'), me
    FROM jsonb_array_elements(wraps) x WHERE (x ->> 'device')::uuid = me
    LIMIT 1;
    RETURN jsonb_build_object('created', true, 'latest', epoch)
        || jsonb_build_object('wraps', sim.put_wraps(
            (SELECT coalesce(jsonb_agg(x), '[]'::jsonb) FROM jsonb_array_elements(wraps) x
             WHERE (x ->> 'device')::uuid <> me)));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE ALL ON sim.team_keys, sim.key_wraps, sim.key_introductions FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    sim.key_state(), sim.put_introductions(jsonb), sim.put_wraps(jsonb),
    sim.new_key_epoch(text, integer, jsonb)
TO @p@_device;
GRANT EXECUTE ON FUNCTION sim.join_team(text, bytea, bytea) TO @p@_invitee;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
