-- SIM Desk team server, schema 0007: the team's users directory for every device (issue 21).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * sim.users_directory(): every user of the team (removed ones too, with when), so that a
--     laptop that joined with a fresh vault knows the officer and clinician its pairs name, and
--     the staff its records were written by. Ids, user names, names as colleagues know them,
--     roles: nothing about people supported, no device, key or invitation. Read under the
--     users_directory policy of 0003 (any device, no invitation login).

CREATE FUNCTION sim.users_directory() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
BEGIN
    PERFORM sim._require_device();
    RETURN coalesce((SELECT jsonb_agg(jsonb_build_object(
        'id', u.id, 'username', u.username, 'display_name', u.display_name, 'role', u.role,
        'clinical', u.clinical, 'active', u.active, 'removed_at', u.removed_at)
        ORDER BY u.username)
        FROM sim.users u), '[]'::jsonb);
END
$$;

RESET ROLE;

REVOKE EXECUTE ON FUNCTION sim.users_directory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.users_directory() TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
