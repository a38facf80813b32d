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
--
-- And a scan every pull made: the step of sim.pull that finds team rows new to the device
-- (pairs) read every row of sim.rows (under its row-level security, whose filter keeps the
-- planner from any index), ~40,000 rows for a team of 100 people, ~940,000 for one of 2,000
-- (0.5 s, measured: benchmarks/sync_profile.py), at every pull of every laptop, even one that
-- brings nothing.
-- A team row never belongs to a person (sim._apply_change), so asking for person_id IS NULL
-- finds the same rows through rows_person. sim.pull is written out whole below, as 0009 left
-- it but for that one line.

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

-- The pull, as 0009 defined it but for the line marked 0010 (its grants are kept).
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
    -- (0010: a team row has no person, and rows_person finds those at once; without it this
    -- read every row of the team at every pull, however little the pull brought.)
    WITH added AS (
        INSERT INTO sim.device_team_rows (device_id, row_id)
        SELECT me_device, r.row_id
        FROM sim.rows r JOIN sim.record_tables s ON s.table_name = r.table_name
        WHERE s.scope = 'team' AND r.person_id IS NULL
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

RESET ROLE;

REVOKE EXECUTE ON FUNCTION sim.sync_start(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.sync_start(bigint, text) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
