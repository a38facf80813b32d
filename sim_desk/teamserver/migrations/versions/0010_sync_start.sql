-- SIM Desk team server, schema 0010: a sync starts with one call, not four (issue 19).
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
-- Why: a day's work must sync in under a second, and every sync paid for four calls before it
-- pushed anything, each its own round trip and transaction: sim.device_standing (is this laptop
-- revoked?), sim.hello (which server, which incarnation, what time), sim.audit_head in a
-- transaction with sim.push_audit (is the laptop's audit chain where the server left it?) and
-- sim.users_directory (the team's users). sim.sync_start answers all of them at once:
--
--   * a revoked device learns only that (as sim.device_standing tells it), and erases;
--   * an active one gets sim.hello's answer, the team's replica expiry, the users directory,
--     and where its audit chain stands: the laptop sends where its own chain ends and its hash
--     there, and the server says whether that is exactly its head ("in_step": nothing to push,
--     and the laptop provably still holds the head). The hash is compared, never told: a
--     laptop put back from an older copy, or a copy of another laptop's vault, is out of step
--     and goes on to push its chain as before, where sim.push_audit refuses and flags it
--     before any change of it is taken.
--
-- Nothing here writes but sim.hello's last_seen; the older calls stay for laptops that use them.

CREATE FUNCTION sim.sync_start(chain_end bigint, chain_hash text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    standing jsonb := sim.device_standing();  -- refuses any login but a device's
    me uuid;
    head sim.audit_heads;
BEGIN
    IF standing ->> 'standing' <> 'active' THEN
        RETURN standing;
    END IF;
    me := sim._require_device();
    SELECT * INTO head FROM sim.audit_heads h WHERE h.device_id = me;
    RETURN sim.hello() || jsonb_build_object(
        'standing', 'active',
        'replica_expiry_days', standing -> 'replica_expiry_days',
        'audit', jsonb_build_object(
            'seq', coalesce(head.seq, 0),
            'refused', CASE WHEN head.device_id IS NULL THEN NULL
                            ELSE sim._audit_refusal(head) END,
            'in_step', coalesce(head.refused_kind IS NULL
                                AND head.seq > 0
                                AND head.seq = chain_end
                                AND head.hash = chain_hash, false)),
        'users', sim.users_directory());
END
$$;

RESET ROLE;

REVOKE EXECUTE ON FUNCTION sim.sync_start(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.sync_start(bigint, text) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
