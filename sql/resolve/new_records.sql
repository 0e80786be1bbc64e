-- pg_temp.new_stg_*: the staged records a resolution run can find unlinked, for the passes that look for
-- them (resolve/deterministic.py maps staging.* to these when it builds its views of new records).
-- Grain: the staging tables' own, restricted to the loads no core build has taken in yet: every run
-- links all it is given (new persons for the rest), so a record of a load an earlier build took in is
-- linked already. A daily run then reads a day's records, not the 4.4 million a city has staged.
-- One statement per load, planned for its own load_id (found through the table's load_id index).
drop table if exists pg_temp.new_stg_public_security__resident cascade;
drop table if exists pg_temp.new_stg_health__vaccination_record cascade;
drop table if exists pg_temp.new_stg_civil_affairs__service_recipient cascade;
create temp table new_stg_public_security__resident as
select * from staging.stg_public_security__resident limit 0;
create temp table new_stg_health__vaccination_record as
select * from staging.stg_health__vaccination_record limit 0;
create temp table new_stg_civil_affairs__service_recipient as
select * from staging.stg_civil_affairs__service_recipient limit 0;
do $new_records$
declare
    pending record;
begin
    for pending in
        select r.load_id, t.suffix
        from audit.load_run r
        join (values ('public_security.residents', 'public_security__resident'),
                     ('health.vaccination_record', 'health__vaccination_record'),
                     ('civil_affairs.service_recipients', 'civil_affairs__service_recipient')) t (source, suffix)
          on t.source = r.source
        where exists (select 1 from audit.load_step s where s.load_id = r.load_id and s.step = 'standardize')
          and not exists (select 1 from audit.core_build_load b where b.load_id = r.load_id)
        order by r.load_id
    loop
        execute format('insert into pg_temp.%I select * from staging.%I where load_id = %s',
                       'new_stg_' || pending.suffix, 'stg_' || pending.suffix, pending.load_id);
    end loop;
end
$new_records$;
analyze pg_temp.new_stg_public_security__resident;
analyze pg_temp.new_stg_health__vaccination_record;
analyze pg_temp.new_stg_civil_affairs__service_recipient;
