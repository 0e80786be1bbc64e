-- Which core builds ran, and which loads each one took in (issue #12: the daily delta).
-- No percent sign in this file: the migration runner hands it to the driver as a parameterised statement.
-- A daily build rebuilds only the persons whose records changed since the last build (pipeline.build_core,
-- core_scope.py); it needs to know what the last build saw: its as-of date, its inputs, its loads.
create table audit.core_build (
    build_id            bigint generated always as identity primary key,
    as_of_date          date not null,
    mode                text not null check (mode in ('full', 'scoped')),
    reason              text not null,
    persons_rebuilt     bigint,
    -- fingerprints of what every person's rows depend on besides their own records: a change rebuilds all
    inputs              jsonb not null,
    started_at          timestamptz not null default now(),
    seconds             numeric
);
comment on table audit.core_build is
    '核心层构建 — one row per committed core build: full (every person) or scoped (the persons whose records changed)';
comment on column audit.core_build.reason is 'why the build was full, or what a scoped build took in';
comment on column audit.core_build.inputs is
    'md5 of the core SQL, the buildings and the vaccine catalogue, and the flu season, as the build saw them';
comment on column audit.core_build.started_at is
    'the build transaction''s start: links and relinks at or after it are the next build''s to take in';

create table audit.core_build_load (
    load_id             bigint primary key references audit.load_run (load_id),
    build_id            bigint not null references audit.core_build (build_id)
);
comment on table audit.core_build_load is
    '核心层已纳入的加载 — each standardized load and the first core build that took its records in';
create index core_build_load_build_idx on audit.core_build_load (build_id);
