-- The row-level-security pitfalls, looked for after every access step (apply_access raises when any
-- row comes back). Each row: the object, and the way it lets an outside role around the policies.
--   * a table with policies that is not FORCEd: its owner reads every row;
--   * a view over a policy-protected table without security_invoker, readable by an outside role: the
--     view reads the table as its owner (a superuser owner bypasses row-level security entirely);
--   * a SECURITY DEFINER function an outside role may execute, owned by a superuser or a BYPASSRLS
--     role (it reads every row), or without a pinned search_path (its callers can shadow its names);
--   * an outside role with direct SELECT on a protected table: it would read past the logged functions;
--   * a broker that could bypass row-level security.
-- Outside roles: the department readers, the analyst and community staff (and PUBLIC, through them).
with outsiders as (
    select oid, rolname from pg_roles
    where rolname in ('cdw_reader_public_security', 'cdw_reader_health', 'cdw_reader_civil_affairs',
                      'cdw_reader_grid', 'cdw_analyst', 'cdw_community_staff')
),
protected as (
    select c.oid, c.oid::regclass::text as name, c.relforcerowsecurity
    from pg_class c
    where c.relrowsecurity and c.relkind in ('r', 'p')
),
unforced as (
    select name as object, 'row-level security is not forced: the table owner reads every row' as problem
    from protected
    where not relforcerowsecurity
),
definer_views as (
    select distinct v.oid::regclass::text as object,
           format('view over %s runs as its owner (%s), not the reader: set security_invoker = true',
                  p.name, pg_get_userbyid(v.relowner)) as problem
    from pg_rewrite r
    join pg_class v on v.oid = r.ev_class and v.relkind = 'v'
    join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    join protected p on p.oid = d.refobjid
    where not coalesce((select option_value::boolean from pg_options_to_table(v.reloptions)
                        where option_name = 'security_invoker'), false)
      and exists (select 1 from outsiders o where has_table_privilege(o.oid, v.oid, 'select'))
),
definer_functions as (
    select f.oid::regprocedure::text as object,
           case when owner.rolsuper or owner.rolbypassrls
                then format('SECURITY DEFINER function owned by %s, which bypasses row-level security', owner.rolname)
                else 'SECURITY DEFINER function without a pinned search_path' end as problem
    from pg_proc f
    join pg_roles owner on owner.oid = f.proowner
    where f.prosecdef
      and f.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      and (owner.rolsuper or owner.rolbypassrls
           or not exists (select 1 from unnest(f.proconfig) setting where setting like 'search\_path=%'))
      and exists (select 1 from outsiders o where has_function_privilege(o.oid, f.oid, 'execute'))
),
direct_reads as (
    select p.name as object, format('%s may select it directly, past the logged read functions', o.rolname) as problem
    from protected p
    cross join outsiders o
    where has_table_privilege(o.oid, p.oid, 'select')
),
broker as (
    select 'role cdw_access_broker' as object, 'the broker is a superuser or BYPASSRLS: its functions read every row' as problem
    from pg_roles
    where rolname = 'cdw_access_broker' and (rolsuper or rolbypassrls)
),
final as (
    select * from unforced
    union all select * from definer_views
    union all select * from definer_functions
    union all select * from direct_reads
    union all select * from broker
)
select object, problem from final order by object, problem;
