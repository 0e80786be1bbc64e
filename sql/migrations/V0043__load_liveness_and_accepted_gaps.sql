-- Two holes in load bookkeeping (issue #12).
-- No percent sign in this file: the migration runner hands it to the driver as a parameterised statement.

-- 1. A load killed mid-COPY (SIGKILL, out of memory, a lost host) left its audit.load_run row 'running'
-- forever: the session that would have closed it was gone, and nothing told a dead attempt from a live
-- one. A file loader now records its session and holds a session advisory lock on the load while it runs
-- (sources/attempts.py); the next ingest of the source closes rows whose lock is free as failed.
alter table audit.load_run add column backend_pid integer;
comment on column audit.load_run.backend_pid is
    '加载会话 — pg_backend_pid() of the session that holds the load''s advisory lock while it runs; null for loaders that do not claim their runs';

-- 2. A daily delta holds the changes since the previous delivery: one applied over a missing day publishes
-- a stale state without a word. The ingest holds a delta whose previous day never arrived, unless an
-- operator recorded here that the department issued no delta that day (cdw ingest accept-gap).
create table audit.accepted_delivery_gap (
    source              text not null,
    gap_date            date not null,
    reason              text not null check (btrim(reason) <> ''),
    accepted_by         text not null,
    accepted_at         timestamptz not null default now(),
    primary key (source, gap_date)
);
comment on table audit.accepted_delivery_gap is
    '确认缺失的投递日 — one row per source per day an operator confirmed has no delivery, so later deltas load';
comment on column audit.accepted_delivery_gap.gap_date is 'the day with no delta, as a delivery file name would date it';
comment on column audit.accepted_delivery_gap.reason is 'why the day has no delivery, in the operator''s words (e.g. the department''s reply)';
comment on column audit.accepted_delivery_gap.accepted_by is 'who accepted it: operating-system user and database login';
