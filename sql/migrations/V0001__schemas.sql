-- One schema per layer; data flows raw -> staging -> core -> mart/outreach (ARCHITECTURE.md).
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists quarantine;
create schema if not exists core;
create schema if not exists mart;
create schema if not exists outreach;
create schema if not exists audit;
create schema if not exists review;

comment on schema raw is '原始层 — exactly what arrived, all text, with load_id and source row number';
comment on schema staging is '标准层 — one typed, standardized row per usable source record';
comment on schema quarantine is '隔离区 — rows that could not be used, with a reason code';
comment on schema core is '核心模型 — resolved people, households, buildings, grids, facilities, doses';
comment on schema mart is '集市层 — what departments read: coverage, key populations, access, workload';
comment on schema outreach is '走访名单 — prioritized lists per grid worker, feedback, list matching';
comment on schema audit is '审计 — load runs, row counts, quality results, watermarks, migrations';
comment on schema review is '人工复核 — candidate person matches waiting for a reviewer';

create extension if not exists pg_trgm;
create extension if not exists fuzzystrmatch;
create extension if not exists btree_gist;
