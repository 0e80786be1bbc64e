-- access.protect_community_table(table, reader): row-level security by community on any table with a
-- `community` column, plus its logged staff read function access.<reader>(grid_code).
-- Defined here rather than in a migration so it can change without one: apply_access() runs this file
-- first on every build, then applies the function to access.person_contact and outreach.list_item.
--
-- The pitfalls it avoids:
-- * owners bypass RLS: FORCE ROW LEVEL SECURITY makes the owner subject to the policies too
--   (superusers and BYPASSRLS roles still bypass; the broker is neither);
-- * SECURITY DEFINER functions run as their owner: the read function is owned by cdw_access_broker,
--   which is not a superuser, has no BYPASSRLS and owns no table, so the policy still filters it; the
--   policy names session_user (the login that connected), which a definer function does not change;
-- * search_path hijacking of a definer function: search_path is pinned to pg_catalog, pg_temp and
--   every name in the body is schema-qualified;
-- * leaky functions in a caller's WHERE: staff get rows only from the function, after the policy
--   filtered them; policies themselves are applied before any non-leakproof qual of a query.
-- Staff have no SELECT on the table: the function is their only way in, so every read is logged.
-- The communities the connected login may read: what every staff policy compares a row's community
-- with. SECURITY DEFINER (owned by the broker, search_path pinned) so a policy can read the mapping
-- whoever queries, while the mapping itself stays unreadable to staff; it reveals a login its own
-- communities only, because it keys on session_user, which no function or SET ROLE changes.
create or replace function access.my_communities() returns text[]
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(array_agg(sc.community order by sc.community), '{}')
    from access.staff_community sc
    where sc.login_name = session_user
$$;
alter function access.my_communities() owner to cdw_access_broker;
revoke all on function access.my_communities() from public;
grant execute on function access.my_communities() to cdw_community_staff, cdw_access_broker, cdw_loader,
    cdw_engineer;

create or replace function access.protect_community_table(p_table regclass, p_reader text,
                                               p_exclude_columns text[] default '{}')
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $protect$
declare
    broker      constant oid := 'cdw_access_broker'::regrole;
    columns_out text;
    columns_in  text;
    grid_filter text;
    body        text;
    result_type text;
    existing    record;
begin
    if not exists (select 1 from pg_attribute
                   where attrelid = p_table and attname = 'community' and attnum > 0 and not attisdropped) then
        raise exception '% has no community column: row-level security by community cannot apply', p_table;
    end if;
    if (select relowner from pg_class where oid = p_table) = broker then
        raise exception '% is owned by cdw_access_broker: an owner is exempt from its policies unless forced', p_table;
    end if;

    -- the policies, replaced whole each time
    execute format('alter table %s enable row level security', p_table);
    execute format('alter table %s force row level security', p_table);
    execute format('drop policy if exists staff_own_community on %s', p_table);
    execute format('drop policy if exists loader_all on %s', p_table);
    execute format('drop policy if exists engineer_read on %s', p_table);
    execute format($f$create policy staff_own_community on %s for select
                       to cdw_access_broker, cdw_community_staff
                       using (community in (select unnest(access.my_communities())))$f$, p_table);
    execute format('create policy loader_all on %s for all to cdw_loader using (true) with check (true)', p_table);
    execute format('create policy engineer_read on %s for select to cdw_engineer using (true)', p_table);
    execute format('revoke all on %s from public, cdw_community_staff, cdw_analyst, cdw_reader_public_security, '
                   'cdw_reader_health, cdw_reader_civil_affairs, cdw_reader_grid', p_table);
    execute format('grant select on %s to cdw_access_broker', p_table);

    -- the read function: the table's columns (an id_number column comes back masked)
    select string_agg(case when a.attname = 'id_number' then 'id_number_masked text'
                           else format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)) end,
                      ', ' order by a.attnum),
           string_agg(case when a.attname = 'id_number' then 'access.mask_id_number(t.id_number)'
                           else format('t.%I', a.attname) end,
                      ', ' order by a.attnum)
      into columns_out, columns_in
      from pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
       and a.attname <> all (p_exclude_columns);
    grid_filter := case when exists (select 1 from pg_attribute where attrelid = p_table and attname = 'grid_code'
                                     and attnum > 0 and not attisdropped)
                        then 'p_grid_code is null or t.grid_code = p_grid_code'
                        else 'p_grid_code is null' end;
    body := format($body$
declare
    v_rows bigint;
    v_communities text[];
begin
    return query select %1$s from %2$s t where %3$s;
    get diagnostics v_rows = row_count;
    v_communities := access.my_communities();
    insert into audit.access_log (login_name, read_path, source_table, communities, grid_code, rows_returned,
                                  client_addr, application_name)
    values (session_user, %4$L, %5$L, v_communities, p_grid_code, v_rows,
            inet_client_addr(), current_setting('application_name', true));
    -- the server log keeps the read even when the caller rolls its transaction back
    raise log 'cdw access: login=%% read=%% communities=%% grid=%% rows=%%', session_user, %4$L, v_communities, p_grid_code, v_rows;
end
$body$, columns_in, p_table, grid_filter, 'access.' || p_reader, p_table::text);
    result_type := format('TABLE(%s)', columns_out);

    select p.oid, p.prosrc, pg_get_function_result(p.oid) as result into existing
      from pg_proc p
     where p.pronamespace = 'access'::regnamespace and p.proname = p_reader
       and pg_get_function_identity_arguments(p.oid) = 'p_grid_code text';
    if existing.oid is null or existing.prosrc <> body
       or replace(existing.result, ' ', '') <> replace(result_type, ' ', '') then
        execute format('drop function if exists access.%I(text)', p_reader);
        execute format('create function access.%I(p_grid_code text default null) returns table (%s) '
                       'language plpgsql security definer set search_path = pg_catalog, pg_temp as %L',
                       p_reader, columns_out, body);
        execute format('comment on function access.%I(text) is %L', p_reader,
                       format('staff read of %s: own communities only (row-level security), optionally one grid; logged in audit.access_log', p_table));
    end if;
    execute format('alter function access.%I(text) owner to cdw_access_broker', p_reader);
    execute format('revoke all on function access.%I(text) from public', p_reader);
    execute format('grant execute on function access.%I(text) to cdw_community_staff', p_reader);
    return 'access.' || p_reader;
end
$protect$;
comment on function access.protect_community_table(regclass, text, text[]) is
    'enable+force row-level security by community on a table and (re)create its logged staff read function access.<reader>(grid_code)';
alter function access.protect_community_table(regclass, text, text[]) owner to cdw_loader;
revoke all on function access.protect_community_table(regclass, text, text[]) from public;

