-- SIM Desk team server, schema 0013: a first sync's snapshot sorted with more memory and no JIT.
--
-- Run as 0001 is: by the trust's database administrator with `SET ROLE @p@_owner` in force.
--
--   * sim.snapshot_rows(table_order) sorts the whole of what a laptop may hold before its first
--     row: a team lead's first sync sorts the whole team. With the server's default 4 MB of
--     sort memory that sort spills about 1.4 GB to disk in many runs merged again, and the
--     planner's JIT compilation (on by default for a query that costly) adds seconds of its
--     own to a query that runs once. The function now runs with work_mem = 64MB and jit = off:
--     on the 2,000-person stress team its first row came after 9.2 s instead of 17.5 s. The
--     64 MB are taken only while a first sync sorts (docs/team-server.md, sizing).

ALTER FUNCTION sim.snapshot_rows(text[]) SET work_mem = '64MB';
ALTER FUNCTION sim.snapshot_rows(text[]) SET jit = off;
