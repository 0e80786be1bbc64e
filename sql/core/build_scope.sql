-- pg_temp.core_scope: the persons a scoped core build rebuilds (pipeline.build_core, core_build.py).
-- Grain: one row per person_key whose core rows may differ from the last build's:
-- - records of loads no build has taken in yet: new and changed records of the register (staging keeps
--   every version), of health and of civil affairs;
-- - links made or moved since the last build started (new records, review decisions): the new person
--   and, from core.person_link_history, the person the record left;
-- - persons whose age changes a core row between the last build's as-of date and this one: their age in
--   years (core.person.age_years, a vaccine's max_age_years), or their age in months crossing a vaccine's
--   min_age_months (the eligibility test of sql/core/vaccination_status.sql: change the two together).
-- pg_temp.scoped_person_link and pg_temp.scoped_stg_*: those persons' links and staged records, for the
-- core files to read instead of core.person_link and staging.* (core_build.SCOPED_TABLE_MAP).
-- Returns the number of persons in scope.
drop table if exists pg_temp.scope_record;
drop table if exists pg_temp.core_scope;
drop table if exists pg_temp.scoped_person_link;
drop table if exists pg_temp.scoped_stg_public_security__resident cascade;
drop table if exists pg_temp.scoped_stg_health__vaccination_record cascade;
drop table if exists pg_temp.scoped_stg_civil_affairs__service_recipient cascade;

-- The records of the loads core_build.py listed when the build started (pg_temp.build_loads: standardized,
-- not yet taken in by a build). One statement per load, planned for its own load_id: a delta's few
-- thousand rows are then found through the table's (load_id, source_row) key, where one statement over
-- all the loads is planned for the average load (a snapshot's millions) and scans the whole table.
create temp table scope_record (source text, record_ref text) on commit drop;
do $scope$
declare
    pending record;
begin
    for pending in select load_id, source from pg_temp.build_loads order by load_id loop
        if pending.source = 'public_security.residents' then
            execute format('insert into pg_temp.scope_record select %L, load_id || '':'' || source_row '
                           'from staging.stg_public_security__resident where load_id = %s',
                           pending.source, pending.load_id);
        elsif pending.source = 'health.vaccination_record' then
            -- raw, not staging: a record revoked at the source is gone from staging but still names its
            -- person. Staged record ids are bigints: the raw text in the form the staging cast gives it.
            execute format('insert into pg_temp.scope_record select %L, btrim(record_id)::bigint::text '
                           'from raw.health__vaccination_record where load_id = %s '
                           'and btrim(record_id) ~ ''^[0-9]{1,18}$''',
                           pending.source, pending.load_id);
        elsif pending.source = 'civil_affairs.service_recipients' then
            execute format('insert into pg_temp.scope_record select %L, btrim(recipient_id) '
                           'from raw.civil_affairs__service_recipient where load_id = %s',
                           pending.source, pending.load_id);
        end if;
    end loop;
end
$scope$;
analyze scope_record;

create temp table core_scope on commit drop as
with previous as (
    select as_of_date, started_at from audit.core_build order by build_id desc limit 1
),
months as (
    -- age in whole months at both dates (whole years are these over 12)
    select
        p.person_key,
        (extract(year from age(a.as_of_date, p.birth_date)) * 12
         + extract(month from age(a.as_of_date, p.birth_date)))::int as months_now,
        (extract(year from age(previous.as_of_date, p.birth_date)) * 12
         + extract(month from age(previous.as_of_date, p.birth_date)))::int as months_before
    from core.person p
    cross join core.as_of a
    cross join previous
    where a.as_of_date <> previous.as_of_date and p.birth_date is not null
),
keys as (
    select l.person_key
    from pg_temp.scope_record t
    join core.person_link l using (source, record_ref)
    union all
    select person_key from core.person_link where linked_at >= (select started_at from previous)
    union all
    select old_person_key from core.person_link_history where changed_at >= (select started_at from previous)
    union all
    select person_key
    from months
    where months_now <> months_before
      and (months_now / 12 <> months_before / 12
           or exists (select 1 from core.vaccine_catalogue c
                      where (months_now >= coalesce(c.min_age_months, 0))
                            <> (months_before >= coalesce(c.min_age_months, 0))))
)
select distinct person_key from keys where person_key is not null;
create unique index on core_scope (person_key);
analyze core_scope;

create temp table scoped_person_link on commit drop as
select l.* from core.person_link l where l.person_key = any(array(select person_key from core_scope));
create index on scoped_person_link (source, record_ref);
analyze scoped_person_link;

-- Their staged records, each found through its table's key from the link's record_ref.
create temp table scoped_stg_public_security__resident on commit drop as
select s.*
from pg_temp.scoped_person_link l
join staging.stg_public_security__resident s
  on s.load_id = split_part(l.record_ref, ':', 1)::bigint and s.source_row = split_part(l.record_ref, ':', 2)::bigint
where l.source = 'public_security.residents';
create temp table scoped_stg_health__vaccination_record on commit drop as
select s.*
from pg_temp.scoped_person_link l
join staging.stg_health__vaccination_record s on s.record_id = l.record_ref::bigint
where l.source = 'health.vaccination_record';
create temp table scoped_stg_civil_affairs__service_recipient on commit drop as
select s.*
from pg_temp.scoped_person_link l
join staging.stg_civil_affairs__service_recipient s on s.recipient_id = l.record_ref
where l.source = 'civil_affairs.service_recipients';
analyze scoped_stg_public_security__resident;
analyze scoped_stg_health__vaccination_record;
analyze scoped_stg_civil_affairs__service_recipient;
select count(*) from core_scope;
