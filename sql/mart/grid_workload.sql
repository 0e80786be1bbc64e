-- mart.grid_workload: residents and households per grid worker against 1 worker per 1,000 residents.
-- Grain: one row per grid.
drop table if exists mart.grid_workload;
create table mart.grid_workload as
with residents as (
    select grid_code, count(*) as residents, count(distinct household_no) as households
    from core.person
    where residency_status = 'resident' and grid_code is not null
    group by grid_code
),
final as (
    select
        g.grid_code,
        g.grid_name,
        g.community,
        g.subdistrict,
        g.grid_worker_name,
        coalesce(r.residents, 0)                    as residents,
        coalesce(r.households, 0)                   as households,
        1                                           as grid_workers,
        1000                                        as target_residents_per_worker,
        coalesce(r.residents, 0) > 1000             as over_target
    from core.grid g
    left join residents r using (grid_code)
)
select * from final;
comment on table mart.grid_workload is '网格工作量 — one row per grid: residents and households per grid worker; over_target when above 1,000 residents';
