-- Bookkeeping for every delivery and load attempt: what arrived, what was loaded, what went wrong.

create table audit.landing_file (
    content_hash        text primary key,
    source              text not null,
    delivery_name       text not null,
    size_bytes          bigint not null,
    archive_path        text not null,
    first_received_at   timestamptz not null default now(),
    last_received_at    timestamptz not null default now(),
    times_received      integer not null default 1
);
comment on table audit.landing_file is '落地归档 — one row per distinct delivery content (sha-256), as received';

create table audit.load_run (
    load_id             bigserial primary key,
    source              text not null,
    delivery_name       text,
    content_hash        text,
    logical_date        date,
    status              text not null default 'running'
                        check (status in ('running', 'succeeded', 'failed', 'skipped_duplicate')),
    rows_read           bigint,
    rows_loaded         bigint,
    rows_skipped        bigint,
    rows_quarantined    bigint,
    schema_drift        jsonb,
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    error               text
);
comment on table audit.load_run is '加载记录 — one row per load attempt of one delivery into raw; counts reconcile';
create index load_run_source_idx on audit.load_run (source, started_at desc);
-- A delivery's content is loaded at most once, even when two runs race for it.
create unique index load_run_once_per_content on audit.load_run (source, content_hash)
    where status = 'succeeded';

create table audit.watermark (
    source              text primary key,
    high_water_mark     timestamptz not null,
    load_id             bigint references audit.load_run (load_id),
    updated_at          timestamptz not null default now()
);
comment on table audit.watermark is '增量水位 — the highest updated_at committed per incremental source';

create table audit.quality_result (
    quality_result_id   bigserial primary key,
    load_id             bigint references audit.load_run (load_id),
    run_id              text,
    suite_name          text not null,
    expectation_type    text not null,
    column_name         text,
    severity            text not null check (severity in ('critical', 'warning')),
    success             boolean not null,
    observed            jsonb,
    checked_at          timestamptz not null default now()
);
comment on table audit.quality_result is '质量检查结果 — one row per expectation evaluated per gate run';
