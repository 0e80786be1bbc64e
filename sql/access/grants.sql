-- The grant matrix, (re)applied after every build: a table rebuilt with `drop table; create table` or
-- swapped in with `alter table set schema` comes back with no grants at all, so grants cannot live in
-- a migration. Idempotent: granting what is granted and revoking what is not are both no-ops.
--
--   role                         schemas it may use           what it may read
--   cdw_loader                   every layer (usage, create)  everything, and write it
--   cdw_engineer                 every layer                  every table (not access.pseudonym_key)
--   cdw_reader_<department>      mart, published              mart.*, published.<department>__*
--   cdw_analyst                  mart                         mart.*
--   cdw_community_staff          access                       nothing: it executes access.read_* only
--   cdw_access_broker            access, audit, outreach      what protect_community_table granted it
--
-- raw, staging, quarantine, core, review, audit and outreach are revoked from the outside roles every
-- time, so a grant made by hand does not survive the next build.
do $grants$
declare
    layers      constant text[] := array['raw', 'staging', 'quarantine', 'core', 'mart', 'mart_build', 'outreach',
                                         'audit', 'review', 'published', 'access'];
    sensitive   constant text[] := array['raw', 'staging', 'quarantine', 'core', 'mart_build', 'outreach', 'audit',
                                         'review'];
    outsiders   constant text := 'cdw_reader_public_security, cdw_reader_health, cdw_reader_civil_affairs, '
                                 'cdw_reader_grid, cdw_analyst, cdw_community_staff';
    readers     constant text := 'cdw_reader_public_security, cdw_reader_health, cdw_reader_civil_affairs, '
                                 'cdw_reader_grid';
    layer       text;
    published_table record;
begin
    foreach layer in array layers loop
        continue when to_regnamespace(layer) is null;
        execute format('revoke all on schema %I from public', layer);
        execute format('revoke all on all tables in schema %I from public', layer);
        execute format('grant usage, create on schema %I to cdw_loader', layer);
        execute format('grant all on all tables in schema %I to cdw_loader', layer);
        execute format('grant all on all sequences in schema %I to cdw_loader', layer);
        execute format('grant usage on schema %I to cdw_engineer', layer);
        execute format('grant select on all tables in schema %I to cdw_engineer', layer);
    end loop;
    revoke all on access.pseudonym_key from cdw_engineer;
    grant execute on all functions in schema access to cdw_loader;

    -- never readable from outside
    foreach layer in array sensitive loop
        continue when to_regnamespace(layer) is null;
        execute format('revoke all on schema %I from %s', layer, outsiders);
        execute format('revoke all on all tables in schema %I from %s', layer, outsiders);
    end loop;
    execute format('revoke all on all tables in schema access from %s', outsiders);

    -- aggregates: departments and analysts
    execute format('grant usage on schema mart to %s, cdw_analyst', readers);
    execute format('grant select on all tables in schema mart to %s, cdw_analyst', readers);

    -- published: each department its own tables, by name prefix (published.health__* -> cdw_reader_health)
    execute format('grant usage on schema published to %s', readers);
    execute format('revoke all on schema published from cdw_analyst, cdw_community_staff');
    for published_table in
        select c.relname, 'cdw_reader_' || split_part(c.relname, '__', 1) as reader
        from pg_class c
        where c.relnamespace = 'published'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
    loop
        execute format('revoke all on published.%I from %s', published_table.relname, outsiders);
        if exists (select 1 from pg_roles where rolname = published_table.reader) then
            execute format('grant select on published.%I to %I', published_table.relname, published_table.reader);
        end if;
    end loop;

    -- staff: the read functions only (protect_community_table grants execute on each)
    grant usage on schema access to cdw_community_staff;
    revoke all on schema access from cdw_reader_public_security, cdw_reader_health, cdw_reader_civil_affairs,
        cdw_reader_grid, cdw_analyst;
    -- the broker: the mapping, the log, and the schemas of the tables it reads
    grant usage on schema access to cdw_access_broker;
    grant select on access.staff_community to cdw_access_broker;
    grant usage on schema audit to cdw_access_broker;
    grant insert on audit.access_log to cdw_access_broker;
    if to_regnamespace('outreach') is not null then
        grant usage on schema outreach to cdw_access_broker;
    end if;
end
$grants$;
select count(*) from pg_roles where rolname like 'cdw\_%';
