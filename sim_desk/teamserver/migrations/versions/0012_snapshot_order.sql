-- SIM Desk team server, schema 0012: a first sync's snapshot sorted once, in the laptop's order.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * sim.snapshot_rows(table_order): the rows of sim.snapshot_rows() (0009's: the same rows, the
--     same shaping for officers and analysts, the same record of what the replica holds), in
--     the order a laptop applies them: table by table as `table_order` lists them (tables it
--     does not name last), and within a table person by person. A laptop used to ask for that
--     order around sim.snapshot_rows(), whose own order (by depth below a person) it could
--     not use, so a lead's first sync sorted the whole team twice, on disk, before its first
--     row: about 8 of the 16 s the 2,000-person stress team waited for it. The older function
--     stays for laptops that call it.

CREATE FUNCTION sim.snapshot_rows(table_order text[])
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
    RETURN QUERY
    SELECT r.table_name, r.row_id, r.person_id,
           CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.payload) ELSE r.payload END,
           CASE WHEN me_analyst THEN sim._for_analyst(r.table_name, r.clocks)
                WHEN me_clinical THEN r.clocks
                ELSE r.clocks - spec.clinical_fields END,
           r.deleted, cf.clinical
    FROM sim.rows r
    JOIN sim.record_tables spec ON spec.table_name = r.table_name
    LEFT JOIN (SELECT c.row_id, c.clinical FROM sim._clinical_of(NULL, NULL) c
               WHERE me_clinical) cf ON cf.row_id = r.row_id
    WHERE (r.row_id IN (SELECT d.row_id FROM sim.device_team_rows d
                        WHERE d.device_id = me_device)
           OR r.person_id IN (SELECT dp.person_id FROM sim.device_people dp
                              WHERE dp.device_id = me_device))
      AND (NOT me_analyst OR EXISTS (SELECT 1 FROM sim.record_tables s
                                      WHERE s.table_name = r.table_name
                                        AND s.analyst_fields <> '{}'))
    ORDER BY array_position(table_order, r.table_name) NULLS LAST, r.table_name, r.person_id,
             r.row_id;
END
$$;

RESET ROLE;

REVOKE EXECUTE ON FUNCTION sim.snapshot_rows(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sim.snapshot_rows(text[]) TO @p@_device;

-- Alembic records the revision as the owner.
SET ROLE @p@_owner;
