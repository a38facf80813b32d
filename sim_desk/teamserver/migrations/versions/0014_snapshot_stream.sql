-- SIM Desk team server, schema 0014: a first sync's snapshot streamed in order, not sorted first.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * sim.snapshot_stream(table_order): the rows of sim.snapshot_rows(table_order) (0012's: the
--     same rows, shaped the same for officers and analysts, the same record of what the replica
--     holds), in the same order, sent as they are read. 0012's function, in PL/pgSQL, gathered
--     every row into a store of its own (about 1.4 GB on disk for the 2,000-person stress team)
--     and sorted it before the first row left: a lead's laptop waited 9 s for its first row
--     with nothing to do. Here each table, in the laptop's order, is read person by person
--     from a new index (table_name, person_id, row_id), so nothing is sorted or stored; the
--     laptop calls it in a SELECT list (`SELECT (x.s).* FROM (SELECT sim.snapshot_stream(...)
--     AS s OFFSET 0) x`), where a SQL function hands over each row as it comes. What the
--     replica holds is recorded first (sim._snapshot_hold), in its own statement, so that the
--     rows read after see it.
--   * sim.snapshot_rows(table_order) now gives sim.snapshot_stream's rows (still gathered, as a
--     function in FROM always is, but no longer sorted): laptops of the version before call it.

CREATE INDEX rows_snapshot_order ON sim.rows (table_name, person_id, row_id);

CREATE FUNCTION sim._snapshot_hold(table_order text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp AS $$
DECLARE
    me_device uuid := sim._require_device();
BEGIN
    PERFORM sim._require_one_snapshot();
    IF table_order IS NULL OR cardinality(table_order) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'table order is not valid';
    END IF;
    INSERT INTO sim.device_people (device_id, person_id)
    SELECT me_device, c.person_id FROM sim.caseload c
    ON CONFLICT DO NOTHING;
    INSERT INTO sim.device_team_rows (device_id, row_id)
    SELECT me_device, r.row_id
    FROM sim.rows r JOIN sim.record_tables s ON s.table_name = r.table_name
    WHERE s.scope = 'team'
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION sim.snapshot_stream(table_order text[])
RETURNS TABLE (table_name text, row_id uuid, person_id uuid, payload jsonb, clocks jsonb,
               deleted boolean, clinical jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, sim, pg_temp SET jit = off
ROWS 100000 AS $$
    SELECT sim._snapshot_hold(table_order);
    SELECT r.table_name, r.row_id, r.person_id,
           CASE WHEN me.analyst THEN sim._for_analyst(r.table_name, r.payload) ELSE r.payload END,
           CASE WHEN me.analyst THEN sim._for_analyst(r.table_name, r.clocks)
                WHEN me.clinical THEN r.clocks
                ELSE r.clocks - spec.clinical_fields END,
           r.deleted, cf.clinical
    FROM (SELECT sim.caller_is_clinical() AS clinical,
                 sim.caller_role() = 'analyst' AS analyst OFFSET 0) me
    -- Tables in the laptop's order (those it does not name last, by name); OFFSET 0 keeps
    -- each subquery whole, so that its ORDER BY is the order its rows come in.
    CROSS JOIN LATERAL (
        SELECT s.table_name, s.clinical_fields
        FROM sim.record_tables s
        LEFT JOIN unnest(table_order) WITH ORDINALITY t(name, ord) ON t.name = s.table_name
        WHERE NOT me.analyst OR s.analyst_fields <> '{}'
        ORDER BY t.ord NULLS LAST, s.table_name OFFSET 0) spec
    CROSS JOIN LATERAL (
        SELECT r.* FROM sim.rows r
        WHERE r.table_name = spec.table_name
          AND (r.row_id IN (SELECT d.row_id FROM sim.device_team_rows d
                            WHERE d.device_id = sim.caller_device())
               OR r.person_id IN (SELECT dp.person_id FROM sim.device_people dp
                                  WHERE dp.device_id = sim.caller_device()))
        ORDER BY r.person_id, r.row_id OFFSET 0) r
    -- sim._clinical_of's text, found row by row (a join could hash every row first).
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(f.field, jsonb_build_object(
                   'ciphertext', translate(encode(f.ciphertext, 'base64'), E'\n', ''),
                   'epoch', f.key_epoch)) AS clinical
        FROM sim.clinical_fields f
        WHERE me.clinical AND spec.clinical_fields <> '{}' AND f.row_id = r.row_id) cf ON true
$$;

CREATE OR REPLACE FUNCTION sim.snapshot_rows(table_order text[])
RETURNS TABLE (table_name text, row_id uuid, person_id uuid, payload jsonb, clocks jsonb,
               deleted boolean, clinical jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sim, pg_temp
ROWS 100000 AS $$
    SELECT * FROM sim.snapshot_stream(table_order)
$$;

RESET ROLE;

REVOKE EXECUTE ON FUNCTION sim._snapshot_hold(text[]), sim.snapshot_stream(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.snapshot_stream(text[]) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
