-- SIM Desk team server, schema 0006: publishing a vault once, and each laptop's last sync
-- (issue 20).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * sim.publication: the one vault whose records this team server was filled from. A team
--     lead's laptop calls sim.publish_begin (which also puts the vault's users on the server,
--     with the ids pairs and invitations name them by), syncs, then sim.publish_finish. A
--     second publish (another vault, or the same one again) is refused; one cut short is
--     carried on.
--   * sim.device_syncs: when each laptop last finished a sync (sim.sync_done, called at the
--     end of every successful sync), so reports can say how complete they are. Every device
--     may read the times, never whose they are: only a team lead's answer names the laptops.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE sim.publication (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- vault_meta.vault_id of the published vault (the same on every copy of it).
    vault_id uuid NOT NULL,
    device_id uuid NOT NULL REFERENCES sim.devices (id),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    rows_published bigint
);

CREATE TABLE sim.device_syncs (
    device_id uuid PRIMARY KEY REFERENCES sim.devices (id),
    -- Whether the laptop's user writes records (analysts' laptops only read: not counted).
    writes boolean NOT NULL DEFAULT true,
    last_synced timestamptz
);

-- Laptops that joined before this revision: last seen is the best there is (each sync says
-- hello first); each sets its own time at its next sync.
INSERT INTO sim.device_syncs (device_id, writes, last_synced)
SELECT d.id, u.role <> 'analyst', d.last_seen
FROM sim.devices d JOIN sim.users u ON u.id = d.user_id
WHERE d.revoked_at IS NULL AND u.active;

-- A device joining gets its row (never synced); a revoked one loses it.
CREATE FUNCTION sim._device_joined() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    INSERT INTO sim.device_syncs (device_id, writes)
    VALUES (NEW.id, coalesce((SELECT u.role <> 'analyst' FROM sim.users u WHERE u.id = NEW.user_id),
                             true))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER device_syncs_joined AFTER INSERT ON sim.devices
    FOR EACH ROW EXECUTE FUNCTION sim._device_joined();

CREATE FUNCTION sim._device_revoked() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    DELETE FROM sim.device_syncs WHERE device_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER device_syncs_revoked AFTER UPDATE OF revoked_at ON sim.devices
    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION sim._device_revoked();

-- ---------------------------------------------------------------------------------------------
-- Publishing
-- ---------------------------------------------------------------------------------------------

-- A team lead's laptop starts (or carries on) publishing its vault: `vault` is the vault's id,
-- `team_users` its users as [{"id", "username", "display_name", "role", "clinical",
-- "active"}]. Answers {"status": "begun" | "resumed", "users_added"} or {"status": "refused",
-- "reason": "published" | "another_vault" | "records" | "user_differs" | "user_clash", ...}.
-- Nothing is changed when it refuses.
CREATE FUNCTION sim.publish_begin(vault uuid, team_users jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    earlier sim.publication;
    resumed boolean := false;
    u jsonb;
    known sim.users;
    added integer := 0;
BEGIN
    IF NOT sim.caller_is_lead() THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'only a team lead may do this';
    END IF;
    IF vault IS NULL OR team_users IS NULL OR jsonb_typeof(team_users) <> 'array'
       OR jsonb_array_length(team_users) > 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'publish details are not valid';
    END IF;
    FOR u IN SELECT * FROM jsonb_array_elements(team_users) LOOP
        IF jsonb_typeof(u) <> 'object'
           OR coalesce(u ->> 'id', '') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           OR coalesce(u ->> 'username', '') !~ '^[^[:space:][:cntrl:]]{1,64}$'
           OR coalesce(u ->> 'role', '') NOT IN ('officer', 'clinician', 'team_lead', 'analyst')
           OR jsonb_typeof(u -> 'clinical') IS DISTINCT FROM 'boolean'
           OR jsonb_typeof(u -> 'active') IS DISTINCT FROM 'boolean'
           OR ((u -> 'clinical')::boolean AND u ->> 'role' NOT IN ('clinician', 'team_lead'))
           OR length(u ->> 'display_name') > 200 THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'publish details are not valid';
        END IF;
    END LOOP;
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    -- One publish at a time, and none while a push numbers changes: the team row's lock.
    PERFORM 1 FROM sim.team FOR UPDATE;
    SELECT * INTO earlier FROM sim.publication;
    IF FOUND THEN
        IF earlier.vault_id <> vault THEN
            RETURN jsonb_build_object('status', 'refused', 'reason', 'another_vault',
                                      'published_at', coalesce(earlier.finished_at, earlier.started_at));
        ELSIF earlier.finished_at IS NOT NULL THEN
            RETURN jsonb_build_object('status', 'refused', 'reason', 'published',
                                      'published_at', earlier.finished_at);
        END IF;
        resumed := true;
    ELSIF EXISTS (SELECT 1 FROM sim.changes c WHERE c.device_id <> me_device) THEN
        -- Records that came from elsewhere: this server already serves a team. (Changes from
        -- this very laptop are its own records, sent by a sync before it published.)
        RETURN jsonb_build_object('status', 'refused', 'reason', 'records',
                                  'changes', (SELECT count(*) FROM sim.changes));
    END IF;
    -- Every user checked before any is added, so a refusal leaves nothing behind.
    FOR u IN SELECT * FROM jsonb_array_elements(team_users) LOOP
        SELECT * INTO known FROM sim.users x WHERE x.id = (u ->> 'id')::uuid;
        IF FOUND THEN
            IF known.username <> u ->> 'username' OR known.role <> u ->> 'role' THEN
                RETURN jsonb_build_object('status', 'refused', 'reason', 'user_differs',
                                          'username', known.username);
            END IF;
        ELSIF EXISTS (SELECT 1 FROM sim.users x WHERE x.username = u ->> 'username') THEN
            RETURN jsonb_build_object('status', 'refused', 'reason', 'user_clash',
                                      'username', u ->> 'username');
        END IF;
    END LOOP;
    FOR u IN SELECT * FROM jsonb_array_elements(team_users) LOOP
        INSERT INTO sim.users (id, username, display_name, role, clinical, active, removed_at,
                               created_by)
        VALUES ((u ->> 'id')::uuid, u ->> 'username', u ->> 'display_name', u ->> 'role',
                (u -> 'clinical')::boolean, (u -> 'active')::boolean,
                CASE WHEN (u -> 'active')::boolean THEN NULL ELSE now() END, sim.caller_user())
        ON CONFLICT (id) DO NOTHING;
        IF FOUND THEN
            added := added + 1;
        END IF;
    END LOOP;
    IF NOT resumed THEN
        INSERT INTO sim.publication (vault_id, device_id) VALUES (vault, me_device);
    END IF;
    RETURN jsonb_build_object('status', CASE WHEN resumed THEN 'resumed' ELSE 'begun' END,
                              'users_added', added);
END
$$;

-- The publishing laptop has sent everything and seen it back: the publish is done, and any
-- later publish is refused. Answers {"finished": bool, "finished_at", "rows"}.
CREATE FUNCTION sim.publish_finish(vault uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    done sim.publication;
BEGIN
    IF NOT sim.caller_is_lead() THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'only a team lead may do this';
    END IF;
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    UPDATE sim.publication p
    SET finished_at = now(), rows_published = (SELECT count(*) FROM sim.rows)
    WHERE p.vault_id = vault AND p.finished_at IS NULL
    RETURNING * INTO done;
    IF NOT FOUND THEN
        SELECT * INTO done FROM sim.publication p WHERE p.vault_id = vault;
    END IF;
    RETURN jsonb_build_object('finished', done.finished_at IS NOT NULL,
                              'finished_at', done.finished_at, 'rows', done.rows_published);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Each laptop's last successful sync
-- ---------------------------------------------------------------------------------------------

-- Called by a laptop when a sync has pushed and pulled everything. Answers the server's time
-- and the other writing laptops' last syncs: times only, in no particular order of who; a
-- team lead's answer also names each laptop's device and user.
CREATE FUNCTION sim.sync_done() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
    me_lead boolean := sim.caller_is_lead();
    done timestamptz := clock_timestamp();
BEGIN
    UPDATE sim.devices SET last_seen = now() WHERE id = me_device;
    INSERT INTO sim.device_syncs (device_id, writes, last_synced)
    VALUES (me_device, sim.caller_role() <> 'analyst', done)
    ON CONFLICT (device_id) DO UPDATE SET last_synced = EXCLUDED.last_synced;
    IF me_lead THEN
        RETURN jsonb_build_object('synced_at', done, 'lead', true, 'laptops', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'last_synced', s.last_synced, 'device', s.device_id, 'user', u.username)
                ORDER BY s.last_synced NULLS FIRST, u.username)
            FROM sim.device_syncs s
            JOIN sim.devices d ON d.id = s.device_id
            JOIN sim.users u ON u.id = d.user_id
            WHERE s.device_id <> me_device AND s.writes AND d.revoked_at IS NULL AND u.active),
            '[]'::jsonb));
    END IF;
    RETURN jsonb_build_object('synced_at', done, 'lead', false, 'laptops', coalesce((
        SELECT jsonb_agg(jsonb_build_object('last_synced', s.last_synced)
                         ORDER BY s.last_synced NULLS FIRST)
        FROM sim.device_syncs s
        WHERE s.device_id <> me_device AND s.writes), '[]'::jsonb));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------------

ALTER TABLE sim.publication ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.publication FORCE ROW LEVEL SECURITY;
CREATE POLICY publication_read ON sim.publication FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));
CREATE POLICY publication_begin ON sim.publication FOR INSERT TO @p@_owner
    WITH CHECK ((SELECT sim.caller_is_lead()) AND device_id = (SELECT sim.caller_device()));
CREATE POLICY publication_finish ON sim.publication FOR UPDATE TO @p@_owner
    USING ((SELECT sim.caller_is_lead())) WITH CHECK ((SELECT sim.caller_is_lead()));

ALTER TABLE sim.device_syncs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sim.device_syncs FORCE ROW LEVEL SECURITY;
CREATE POLICY device_syncs_read ON sim.device_syncs FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_device()) IS NOT NULL);
CREATE POLICY device_syncs_join ON sim.device_syncs FOR INSERT TO @p@_owner WITH CHECK (
    (SELECT sim.caller_is_admin()) OR device_id = (SELECT sim.caller_invitation())
    OR device_id = (SELECT sim.caller_device()));
CREATE POLICY device_syncs_own ON sim.device_syncs FOR UPDATE TO @p@_owner
    USING (device_id = (SELECT sim.caller_device()))
    WITH CHECK (device_id = (SELECT sim.caller_device()));
CREATE POLICY device_syncs_revoke ON sim.device_syncs FOR DELETE TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead()));

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; devices get the three new calls.
-- ---------------------------------------------------------------------------------------------

RESET ROLE;

REVOKE ALL ON sim.publication, sim.device_syncs FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA sim FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    sim.publish_begin(uuid, jsonb), sim.publish_finish(uuid), sim.sync_done()
TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
