-- SIM Desk team server, schema 0011: an analyst's laptop reads the team's pairs.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * Every person row names its pair (people.pair_id), and a laptop keeps a row only once what
--     it points to is there. 0001's row-level security let a device read a pair only if its
--     user worked in it (officers, clinicians) or led the team, so an analyst's snapshot and
--     pulls carried no pairs, and an analyst's laptop held every person back ("its parent is
--     not on this laptop"): its figures and exports were empty. Analysts now read pairs too,
--     through the same analyst filter as every other row (sim._for_analyst: the pair's name,
--     its officer's and clinician's user ids, whether it is active; nothing about people).
--     A laptop that synced before receives the pairs at its next pull, which lets go of the
--     people it held back.

DROP POLICY rows_read ON sim.rows;
CREATE POLICY rows_read ON sim.rows FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR person_id IN (SELECT c.person_id FROM sim.caseload c)
    OR (table_name = 'pairs' AND ((SELECT sim.caller_role()) = 'analyst'
                                  OR row_id = ANY ((SELECT sim.caller_pairs())::uuid[]))));

DROP POLICY changes_read ON sim.changes;
CREATE POLICY changes_read ON sim.changes FOR SELECT TO @p@_owner USING (
    (SELECT sim.caller_is_admin()) OR (SELECT sim.caller_is_lead())
    OR person_id IN (SELECT c.person_id FROM sim.caseload c)
    OR (table_name = 'pairs' AND ((SELECT sim.caller_role()) = 'analyst'
                                  OR row_id = ANY ((SELECT sim.caller_pairs())::uuid[]))));
