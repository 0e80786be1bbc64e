-- pg_temp.core_scope: the persons a scoped core build rebuilds (pipeline.build_core, core_build.py).
-- Grain: one row per person_key whose core rows may differ from the last build's:
-- - records of loads no build has taken in yet (audit.core_build_load): new and changed records of the
--   register (staging keeps every version), of health and of civil affairs (read from raw, so a record
--   revoked at the source, gone from staging, still names its person);
-- - links made or moved since the last build started (new records, review decisions): the new person
--   and, from core.person_link_history, the person the record left;
-- - persons whose age in months is not the same at the new as-of date as at the last build's (age,
--   eligibility for a vaccine).
-- pg_temp.scoped_person_link: those persons' links, for the core files to read instead of core.person_link.
-- Returns the number of persons in scope.
drop table if exists pg_temp.core_scope;
drop table if exists pg_temp.scoped_person_link;
create temp table core_scope on commit drop as
with previous as (
    select as_of_date, started_at from audit.core_build order by build_id desc limit 1
),
new_loads as (
    -- listed by core_build.py when the build started: standardized, not yet taken in by a build
    select load_id, source from pg_temp.build_loads
),
touched_records as (
    select 'public_security.residents'::text as source, s.load_id || ':' || s.source_row as record_ref
    from staging.stg_public_security__resident s
    where s.load_id in (select load_id from new_loads where source = 'public_security.residents')
    union all
    -- staged record ids are bigints: the raw text in the form the staging cast gives it
    select 'health.vaccination_record', btrim(v.record_id)::bigint::text
    from raw.health__vaccination_record v
    where v.load_id in (select load_id from new_loads where source = 'health.vaccination_record')
      and btrim(v.record_id) ~ '^[0-9]{1,18}$'
    union all
    select 'civil_affairs.service_recipients', btrim(c.recipient_id)
    from raw.civil_affairs__service_recipient c
    where c.load_id in (select load_id from new_loads where source = 'civil_affairs.service_recipients')
),
as_of as (
    select (select as_of_date from core.as_of) as new_date, (select as_of_date from previous) as old_date
),
keys as (
    select l.person_key
    from touched_records t
    join core.person_link l using (source, record_ref)
    union all
    select person_key from core.person_link where linked_at >= (select started_at from previous)
    union all
    select old_person_key from core.person_link_history where changed_at >= (select started_at from previous)
    union all
    select p.person_key
    from core.person p
    cross join as_of a
    where a.new_date <> a.old_date
      and (extract(year from age(a.new_date, p.birth_date)) * 12 + extract(month from age(a.new_date, p.birth_date)))
          <> (extract(year from age(a.old_date, p.birth_date)) * 12 + extract(month from age(a.old_date, p.birth_date)))
)
select distinct person_key from keys where person_key is not null;
create unique index on core_scope (person_key);
analyze core_scope;
create temp table scoped_person_link on commit drop as
select l.* from core.person_link l where l.person_key in (select person_key from core_scope);
create index on scoped_person_link (source, record_ref);
analyze scoped_person_link;
select count(*) from core_scope;
