-- Least-privilege access to personal data (issue 11; docs/access.md).
--
-- Builds: the group roles (NOLOGIN, cluster-wide, created only when missing), the schemas `published`
-- (masked, pseudonymous tables per department) and `access` (staff mapping, the community-scoped
-- contact table with its row-level security, the masking and pseudonym functions) and the staff read
-- log audit.access_log. The staff read functions are made by access.protect_community_table()
-- (sql/access/protect_community_table.sql), which apply_access() defines and applies after every build.
-- No percent sign in this file: the migration runner hands it to the driver as a parameterised statement.
--
-- Why tables and not views in `published`: the core is rebuilt with `drop table ...; create table ...`
-- and the marts are swapped in with `drop table ... cascade`. A view over core.person would make that
-- drop fail (or vanish with the cascade). The published tables are defined once here, so their grants
-- and policies persist, and sql/access/*.sql refreshes their rows (truncate + insert) in the build's
-- own transaction, through community_dw.access.apply_access().
--
-- Grants are not made here: sql/access/grants.sql (re)applies the whole grant matrix after every
-- build, because rebuilt tables come back without grants.

-- ---------------------------------------------------------------------------------------------------
-- Roles. Roles are cluster-wide: another database on the same server (a test database, a second
-- warehouse) may have created them already, or be creating them right now; either is fine.
do $roles$
declare
    wanted constant text[] := array[
        'cdw_loader',                   -- the pipeline: writes every layer
        'cdw_engineer',                 -- reads every layer (not the pseudonym key)
        'cdw_reader_public_security',   -- 公安: published.public_security__*, mart.*
        'cdw_reader_health',            -- 卫健: published.health__*, mart.*
        'cdw_reader_civil_affairs',     -- 民政: published.civil_affairs__*, mart.*
        'cdw_reader_grid',              -- 综治/网格办: published.grid__*, mart.*
        'cdw_analyst',                  -- aggregates only: mart.*
        'cdw_community_staff',          -- 社区工作人员: the access.read_* functions, own community only
        'cdw_access_broker'             -- owns the staff read functions; never a login, never an owner of data
    ];
    role_name text;
begin
    foreach role_name in array wanted loop
        if not exists (select 1 from pg_roles where rolname = role_name) then
            begin
                execute 'create role ' || quote_ident(role_name) || ' nologin';
            exception when duplicate_object or unique_violation then
                null;  -- created meanwhile by a migration of another database
            end;
        end if;
    end loop;
end
$roles$;

comment on role cdw_access_broker is
    'owner of the SECURITY DEFINER staff read functions: not a superuser, no BYPASSRLS, owns no data, so row-level security applies to it';

-- The pipeline (re)creates the staff read functions, owned by the broker: it must be able to SET ROLE to it.
do $membership$
begin
    if not pg_has_role('cdw_loader', 'cdw_access_broker', 'member') then
        grant cdw_access_broker to cdw_loader;
    end if;
end
$membership$;

-- ---------------------------------------------------------------------------------------------------
create schema if not exists published;
create schema if not exists access;
comment on schema published is '发布层 — per-department tables: pseudonymous person keys, masked ID numbers and phones, only the columns each department needs';
comment on schema access is '权限 — staff-to-community mapping, masking and pseudonym functions, community-scoped contact details and their logged read functions';
revoke all on schema published from public;
revoke all on schema access from public;

-- ---------------------------------------------------------------------------------------------------
-- Pseudonyms: HMAC-SHA256(secret, '<domain>:<person_key>'), first 16 hex digits (64 bits). The
-- domain is the department, so two departments cannot join their tables on the pseudonym, and one
-- who learns a person_key cannot compute a pseudonym without the secret. The secret is drawn once
-- (gen_random_uuid uses the server's strong random source) and never leaves this table; the HMAC
-- pads are stored precomputed so a pseudonym is two sha256() calls (pgcrypto is not required).
create table access.pseudonym_key (
    singleton       boolean primary key default true check (singleton),
    secret          bytea not null check (length(secret) = 32),
    inner_pad       bytea not null,
    outer_pad       bytea not null,
    created_at      timestamptz not null default now()
);
comment on table access.pseudonym_key is '假名密钥 — the HMAC secret behind every person_ref; readable by the pipeline only. Rotating it changes every pseudonym';

insert into access.pseudonym_key (secret, inner_pad, outer_pad)
with drawn as (
    select decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex') as secret
),
block as (
    -- HMAC: the key zero-padded to sha256's 64-byte block, xor 0x36 (inner) and 0x5c (outer)
    select secret, secret || decode(repeat('00', 32), 'hex') as k0 from drawn
)
select
    secret,
    decode(string_agg(lpad(to_hex(get_byte(k0, i) # 54), 2, '0'), '' order by i), 'hex'),
    decode(string_agg(lpad(to_hex(get_byte(k0, i) # 92), 2, '0'), '' order by i), 'hex')
from block cross join generate_series(0, 63) as i
group by secret;

create function access.pseudonym(p_person_key bigint, p_domain text) returns text
language sql stable parallel safe strict
set search_path = pg_catalog, pg_temp
as $$
    select substr(encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(p_domain || ':' || p_person_key, 'UTF8'))), 'hex'), 1, 16)
    from access.pseudonym_key k
$$;
comment on function access.pseudonym(bigint, text) is
    'person_ref: HMAC-SHA256(secret, domain || '':'' || person_key), 16 hex digits; domain = the department reading it';
revoke all on function access.pseudonym(bigint, text) from public;

-- ---------------------------------------------------------------------------------------------------
-- Masking: what a department sees instead of the value.
create function access.mask_id_number(p_id_number text) returns text
language sql immutable parallel safe strict
as $$
    -- 18 digits: 110105********002X (area code and the last four kept); anything too short to keep
    -- ten characters of is masked whole
    select case when length(p_id_number) > 10
                then left(p_id_number, 6) || repeat('*', length(p_id_number) - 10) || right(p_id_number, 4)
                else repeat('*', length(p_id_number)) end
$$;
comment on function access.mask_id_number(text) is '身份证号脱敏 — first 6 and last 4 kept: 110105********002X';

create function access.mask_phone(p_phone text) returns text
language sql immutable parallel safe strict
as $$
    select case
        -- mobile (canonical 11 digits): 138****5678
        when p_phone ~ '^1[0-9]{10}$' then left(p_phone, 3) || '****' || right(p_phone, 4)
        -- landline (canonical 0760-88123456): area code kept, subscriber number to its last 4
        when p_phone ~ '^0[0-9]{2,3}-[0-9]{5,8}$'
            then split_part(p_phone, '-', 1) || '-' || repeat('*', length(split_part(p_phone, '-', 2)) - 4) || right(p_phone, 4)
        when length(p_phone) > 7 then left(p_phone, 3) || repeat('*', length(p_phone) - 7) || right(p_phone, 4)
        else repeat('*', length(p_phone)) end
$$;
comment on function access.mask_phone(text) is '电话脱敏 — mobiles 138****5678, landlines 0760-****3456';

-- ---------------------------------------------------------------------------------------------------
-- Who may see which community: one row per staff login and community, bound to the login name that
-- connects (session_user), not to anything the application says.
create table access.staff_community (
    login_name      text not null,
    community       text not null,
    granted_at      timestamptz not null default now(),
    granted_by      text not null default current_user,
    primary key (login_name, community)
);
comment on table access.staff_community is '社区授权 — one row per staff login x community it may read (row-level security reads this)';

-- Every staff read, who, when, what scope, how many rows. Written by the read functions only.
create table audit.access_log (
    access_log_id   bigint generated always as identity primary key,
    login_name      text not null,
    read_at         timestamptz not null default clock_timestamp(),
    read_path       text not null,
    source_table    text not null,
    communities     text[] not null,
    grid_code       text,
    rows_returned   bigint not null,
    client_addr     inet,
    application_name text
);
comment on table audit.access_log is '访问日志 — one row per staff read of outreach lists or person contact details: login, time, communities, grid, rows';
comment on column audit.access_log.communities is 'the communities the login was entitled to at read time (what row-level security let through)';
comment on column audit.access_log.grid_code is 'the grid asked for; null = every grid of those communities';
create index access_log_login_idx on audit.access_log (login_name, read_at desc);

-- ---------------------------------------------------------------------------------------------------
-- Published tables, one set per department (name prefix = department; sql/access/grants.sql grants
-- published.<department>__* to cdw_reader_<department>). Rows refreshed by sql/access/<table>.sql.

create table published.public_security__resident (
    -- ids
    person_ref          text primary key,
    id_number_masked    text,
    id_valid            boolean,
    -- attributes
    sex                 text,
    age_years           integer,
    -- residency and place
    residency_status    text,
    household_no        text,
    building_code       text,
    grid_code           text,
    community           text,
    subdistrict         text,
    population_type     text,
    -- lineage
    known_to            text[]
);
comment on table published.public_security__resident is '公安 人员 (脱敏) — one row per resolved person: residency as resolved, placement, which departments know them';
comment on column published.public_security__resident.known_to is 'sources holding a record of the person: someone known to health but absent from the register is a registration lead';

create table published.health__vaccination_status (
    -- ids
    person_ref          text not null,
    vaccine_code        text not null,
    id_number_masked    text,
    phone_masked        text,
    -- attributes
    sex                 text,
    age_years           integer,
    grid_code           text,
    community           text,
    subdistrict         text,
    -- status
    doses_counted       integer,
    doses_required      integer,
    first_dose_date     date,
    last_dose_date      date,
    has_any_dose        boolean,
    is_complete         boolean,
    primary key (person_ref, vaccine_code)
);
comment on table published.health__vaccination_status is '卫健 接种状态 (脱敏) — one row per resident x vaccine they are eligible for';

create table published.civil_affairs__service_recipient (
    -- ids
    recipient_id        text primary key,
    person_ref          text,
    id_number_masked    text,
    -- attributes
    category            text,
    community           text,
    valid_from          date,
    valid_to            date,
    is_current          boolean,
    -- the person as the warehouse knows them
    age_years           integer,
    residency_status    text,
    grid_code           text
);
comment on table published.civil_affairs__service_recipient is '民政 服务对象 (脱敏) — one row per recipient record, with the residency status of the person (e.g. deceased while still receiving)';

create table published.grid__resident (
    -- ids
    person_ref          text primary key,
    phone_masked        text,
    -- place
    building_code       text,
    grid_code           text,
    community           text,
    subdistrict         text,
    household_no        text,
    -- attributes
    sex                 text,
    age_years           integer,
    population_type     text
);
comment on table published.grid__resident is '综治 网格居民 (脱敏) — one row per resident person (residency_status = resident) by building and grid';

-- ---------------------------------------------------------------------------------------------------
-- What community staff may know about residents of their own community: the people they visit and
-- call. Full phone (they dial it), masked ID number (enough to check a document at the door).
create table access.person_contact (
    -- ids
    person_key          bigint primary key,
    id_number_masked    text,
    -- who
    name                text,
    sex                 text,
    age_years           integer,
    -- contact and place
    phone               text,
    household_no        text,
    relation_to_head    text,
    building_code       text,
    current_address     text,
    grid_code           text,
    community           text,
    subdistrict         text
);
comment on table access.person_contact is '居民联系方式 — one row per resident person; row-level security: staff read only their own communities, through access.read_person_contacts()';

-- The broker's own needs: the mapping the policy reads, and the log it writes.
grant usage on schema access to cdw_access_broker;
grant create on schema access to cdw_access_broker;  -- the owner of a function must be allowed to create in its schema
grant select on access.staff_community to cdw_access_broker;
grant usage on schema audit to cdw_access_broker;
grant insert on audit.access_log to cdw_access_broker;

-- Row-level security on from the start; sql/access/protect_community_table.sql defines the function that
-- (re)applies these policies and creates the staff read function, run by apply_access() after every build.
alter table access.person_contact enable row level security;
alter table access.person_contact force row level security;
create policy staff_own_community on access.person_contact for select
    to cdw_access_broker, cdw_community_staff
    using (community in (select sc.community from access.staff_community sc where sc.login_name = session_user));
create policy loader_all on access.person_contact for all to cdw_loader using (true) with check (true);
create policy engineer_read on access.person_contact for select to cdw_engineer using (true);
