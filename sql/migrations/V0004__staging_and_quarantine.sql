-- Staging: one typed, standardized row per usable source record, with the flags standardization set.
-- Quarantine: one row per unusable source record, with a reason code (standardize/reasons.py) and the
-- raw record, so nothing is silently dropped: per load, raw = staging + quarantine (audit.load_step).

create table audit.load_step (
    load_id              bigint not null references audit.load_run (load_id),
    step                 text not null,
    rows_in              bigint not null,
    rows_out             bigint not null,
    rows_quarantined     bigint not null,
    finished_at          timestamptz not null default now(),
    primary key (load_id, step),
    constraint load_step_counts_add_up check (rows_in = rows_out + rows_quarantined)
);
comment on table audit.load_step is '加载步骤 — per load and step (e.g. standardize), rows in = rows out + rows quarantined';

create table staging.stg_public_security__resident (
    load_id               bigint not null,
    source_row            bigint not null,
    delivery_kind         text not null check (delivery_kind in ('full', 'delta')),
    delivery_date         date not null,
    -- identity
    name                  text not null,
    name_pinyin           text,
    id_type               text,
    id_number             text,
    id_valid              boolean not null,
    id_issue              text,
    id_upgraded_from_15   boolean not null default false,
    birth_date            date,
    sex                   text check (sex in ('M', 'F')),
    birth_date_conflict   boolean not null default false,
    sex_conflict          boolean not null default false,
    ethnicity             text,
    -- contact
    phone_primary         text,
    phone_primary_type    text,
    phones_all            text,
    -- household and place
    household_no          text,
    relation_to_head      text,
    registered_address    text,
    current_address       text,
    address_key           text,
    building_code         text,
    population_type       text,
    residence_permit_no   text,
    subdistrict           text,
    community             text,
    -- change (delta files)
    change_type           text,
    change_date           date,
    primary key (load_id, source_row)
);
comment on table staging.stg_public_security__resident is '公安 人口 (标准化) — one row per usable row of a resident delivery';

create table quarantine.public_security__resident (
    load_id               bigint not null,
    source_row            bigint not null,
    reason_code           text not null,
    reason_detail         text,
    record                jsonb not null,
    quarantined_at        timestamptz not null default now(),
    primary key (load_id, source_row)
);
comment on table quarantine.public_security__resident is '公安 人口 隔离 — rows of a resident delivery that could not be used, with why';

create table staging.stg_health__vaccination_record (
    record_id             bigint primary key,
    load_id               bigint not null,
    source_row            bigint not null,
    recipient_name        text,
    name_pinyin           text,
    id_type               text,
    id_number             text,
    id_valid              boolean not null,
    id_issue              text,
    birth_date            date,
    sex                   text check (sex in ('M', 'F')),
    phone_primary         text,
    vaccine_code          text not null,
    vaccine_name          text,
    dose_number           integer not null,
    vaccinated_at         timestamptz not null,
    site_name             text,
    manufacturer          text,
    batch_no              text,
    updated_at            timestamptz not null
);
comment on table staging.stg_health__vaccination_record is '卫健 接种记录 (标准化) — one row per live source record (latest version; revoked records removed)';

create table quarantine.health__vaccination_record (
    load_id               bigint not null,
    source_row            bigint not null,
    reason_code           text not null,
    reason_detail         text,
    record                jsonb not null,
    quarantined_at        timestamptz not null default now(),
    primary key (load_id, source_row)
);

create table staging.stg_civil_affairs__facility (
    facility_id           text primary key,
    load_id               bigint not null,
    source_row            bigint not null,
    name                  text not null,
    category              text not null,
    address               text,
    longitude             double precision,
    latitude              double precision,
    coord_issue           text,
    capacity              integer,
    status                text,
    community             text,
    subdistrict           text,
    updated_at            timestamptz not null
);
comment on table staging.stg_civil_affairs__facility is '民政 设施 (标准化) — one row per facility (latest version)';

create table quarantine.civil_affairs__facility (
    load_id bigint not null, source_row bigint not null, reason_code text not null, reason_detail text,
    record jsonb not null, quarantined_at timestamptz not null default now(), primary key (load_id, source_row)
);

create table staging.stg_civil_affairs__service_recipient (
    recipient_id          text primary key,
    load_id               bigint not null,
    source_row            bigint not null,
    name                  text not null,
    name_pinyin           text,
    id_number             text,
    id_valid              boolean not null,
    id_issue              text,
    category              text not null,
    community             text,
    valid_from            date,
    valid_to              date,
    updated_at            timestamptz not null
);
comment on table staging.stg_civil_affairs__service_recipient is '民政 服务对象 (标准化) — one row per recipient record (latest version)';

create table quarantine.civil_affairs__service_recipient (
    load_id bigint not null, source_row bigint not null, reason_code text not null, reason_detail text,
    record jsonb not null, quarantined_at timestamptz not null default now(), primary key (load_id, source_row)
);

create table staging.stg_grid__grid (
    grid_code             text primary key,
    load_id               bigint not null,
    source_row            bigint not null,
    grid_name             text,
    community             text,
    subdistrict           text,
    grid_worker_name      text,
    grid_worker_phone     text,
    grid_leader_name      text,
    geometry_wkt          text not null,
    geometry_issue        text
);
comment on table staging.stg_grid__grid is '综治 网格 (标准化) — one row per grid of the latest grid delivery';

create table quarantine.grid__grid (
    load_id bigint not null, source_row bigint not null, reason_code text not null, reason_detail text,
    record jsonb not null, quarantined_at timestamptz not null default now(), primary key (load_id, source_row)
);

create table staging.stg_grid__building (
    building_code         text primary key,
    load_id               bigint not null,
    source_row            bigint not null,
    address               text,
    address_key           text,
    longitude             double precision,
    latitude              double precision,
    coord_issue           text,
    registered_grid_code  text,
    building_head_name    text,
    building_head_phone   text,
    household_count       integer
);
comment on table staging.stg_grid__building is '综治 楼栋 (标准化) — one row per building of the latest buildings delivery';

create table quarantine.grid__building (
    load_id bigint not null, source_row bigint not null, reason_code text not null, reason_detail text,
    record jsonb not null, quarantined_at timestamptz not null default now(), primary key (load_id, source_row)
);
