-- SIM Desk team server, schema 0005: leavers and lost laptops (issue 20).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- Until now a revoked device's login was disabled at once (NOLOGIN), so the laptop could never
-- learn that it had been revoked and kept its replica. Now:
--   * Revoking a device (sim.revoke_device, sim.revoke_user) ends its sessions and leaves its
--     login able to connect once at a time for 180 days (VALID UNTIL). Every function that
--     reads or writes anything still refuses it at once: they all ask sim.caller_device(),
--     which is NULL for a revoked device or a removed user. It may call exactly two functions:
--       sim.device_standing()   answers {"standing": "revoked"}: erase your replica;
--       sim.confirm_erased(n)   notes that it erased it (and how many changes it had not
--                               sent), and disables the login for good (NOLOGIN).
--   * Nothing the device sends commits after its revocation does: a push updates its own
--     device row (last_seen) before it applies anything, so one racing the revocation waits
--     for it and then finds the device revoked (tests/teamserver/test_leavers.py).
--   * A team lead may set a replica expiry (sim.set_replica_expiry): laptops learn it from
--     sim.device_standing() at every sync, and a replica that has not synced for that many
--     days refuses to open its records until it syncs again (enforced on the laptop).

ALTER TABLE sim.team ADD COLUMN replica_expiry_days integer
    CHECK (replica_expiry_days BETWEEN 1 AND 365);
ALTER TABLE sim.devices ADD COLUMN erased_at timestamptz;
ALTER TABLE sim.devices ADD COLUMN unsent_at_erasure integer;

GRANT CREATE ON SCHEMA sim TO @p@_resolver, @p@_rolemgr;

-- ---------------------------------------------------------------------------------------------
-- Who is calling: a revoked device (or a removed user's) is known only to these two functions.
-- ---------------------------------------------------------------------------------------------

SET ROLE @p@_resolver;

-- The calling login's device, if it was revoked (or its user removed). NULL for anyone else.
CREATE FUNCTION sim.caller_revoked_device() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
    SELECT d.id FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
    WHERE d.login_role = session_user AND (d.revoked_at IS NOT NULL OR NOT u.active)
$$;

-- ---------------------------------------------------------------------------------------------
-- Login roles (@p@_rolemgr).
-- ---------------------------------------------------------------------------------------------

SET ROLE @p@_rolemgr;

-- An invitation's login: NOLOGIN, as before. A device's login: its sessions ended, and kept
-- able to log in (one connection at a time, for 180 days) so that the laptop can learn it was
-- revoked and erase its replica; nothing else answers it (see above).
CREATE OR REPLACE FUNCTION sim.rm_disable_login(kind text, id uuid) RETURNS void
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
    IF kind = 'd' THEN
        EXECUTE format('ALTER ROLE %I CONNECTION LIMIT 1 VALID UNTIL %L', role_name,
            (now() + interval '180 days')::text);
    ELSE
        EXECUTE format('ALTER ROLE %I NOLOGIN', role_name);
    END IF;
    -- Waits (up to 5 s each) until the sessions have really gone.
    PERFORM pg_terminate_backend(a.pid, 5000)
    FROM pg_catalog.pg_stat_activity a
    WHERE a.usename = role_name AND a.pid <> pg_backend_pid();
END
$$;

-- A revoked device that has erased its replica: its login is disabled for good.
CREATE FUNCTION sim.rm_end_device_login(device uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    role_name text := '@p@_d_' || replace(device::text, '-', '');
BEGIN
    IF device IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name)
    THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER ROLE %I NOLOGIN', role_name);
    PERFORM pg_terminate_backend(a.pid, 5000)
    FROM pg_catalog.pg_stat_activity a
    WHERE a.usename = role_name AND a.pid <> pg_backend_pid();
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The API (@p@_owner).
-- ---------------------------------------------------------------------------------------------

RESET ROLE;
SET ROLE @p@_owner;

-- A revoked device may mark its own row erased (through sim.confirm_erased only).
CREATE POLICY devices_erased ON sim.devices FOR UPDATE TO @p@_owner
    USING (id = (SELECT sim.caller_revoked_device()))
    WITH CHECK (id = (SELECT sim.caller_revoked_device()));

-- The first call of every sync, before hello: is this device still in good standing? An
-- active device learns the team's replica expiry and the server's time; a revoked one learns
-- only that it was revoked (erase your replica). Anyone else is refused.
CREATE FUNCTION sim.device_standing() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    active uuid := sim.caller_device();
    revoked uuid;
BEGIN
    IF active IS NOT NULL THEN
        RETURN jsonb_build_object(
            'standing', 'active',
            'device', active,
            'replica_expiry_days', (SELECT t.replica_expiry_days FROM sim.team t),
            'server_time', clock_timestamp());
    END IF;
    revoked := sim.caller_revoked_device();
    IF revoked IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'this login may not use the team server (not a device)';
    END IF;
    RETURN jsonb_build_object(
        'standing', 'revoked', 'device', revoked, 'server_time', clock_timestamp());
END
$$;

-- A revoked laptop has erased its replica: noted (with how many changes it had not sent, which
-- the server never received), and its login disabled for good. The calling session carries on
-- until it closes.
CREATE FUNCTION sim.confirm_erased(unsent integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    revoked uuid := sim.caller_revoked_device();
BEGIN
    IF revoked IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'only a revoked device confirms that it erased its replica';
    END IF;
    UPDATE sim.devices
    SET erased_at = coalesce(erased_at, clock_timestamp()),
        unsent_at_erasure = least(greatest(coalesce(unsent, 0), 0), 100000000)
    WHERE id = revoked;
    PERFORM sim.rm_end_device_login(revoked);
    RETURN jsonb_build_object('erased', true, 'device', revoked);
END
$$;

-- A team lead (or the administrator) sets how many days a replica may go without syncing
-- before it refuses to open (NULL: no expiry).
CREATE FUNCTION sim.set_replica_expiry(days integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    PERFORM sim._require_lead_or_admin();
    IF days IS NOT NULL AND days NOT BETWEEN 1 AND 365 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'a replica expiry is from 1 to 365 days, or none';
    END IF;
    UPDATE sim.team SET replica_expiry_days = days;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'only a team lead may do this';
    END IF;
    RETURN jsonb_build_object('replica_expiry_days', days);
END
$$;

-- Revoked devices and whether each has erased its replica yet (team leads and administrators).
CREATE FUNCTION sim.revoked_devices() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    PERFORM sim._require_lead_or_admin();
    RETURN jsonb_build_object(
        'replica_expiry_days', (SELECT t.replica_expiry_days FROM sim.team t),
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object(
            'id', d.id, 'user', d.user_id, 'username', u.username,
            'revoked_at', coalesce(d.revoked_at, u.removed_at),
            'erased_at', d.erased_at, 'unsent_at_erasure', d.unsent_at_erasure)
            ORDER BY coalesce(d.revoked_at, u.removed_at), d.id)
            FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
            WHERE d.revoked_at IS NOT NULL OR NOT u.active), '[]'::jsonb));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; the two revoked-device functions and the lead's to devices.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE CREATE ON SCHEMA sim FROM @p@_resolver, @p@_rolemgr;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION sim.caller_revoked_device() TO @p@_owner;
GRANT EXECUTE ON FUNCTION sim.rm_end_device_login(uuid) TO @p@_owner;
GRANT EXECUTE ON FUNCTION
    sim.device_standing(), sim.confirm_erased(integer), sim.set_replica_expiry(integer),
    sim.revoked_devices()
TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
