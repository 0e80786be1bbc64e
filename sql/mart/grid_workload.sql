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
-- column comments: Chinese label — meaning
comment on column mart.grid_workload.grid_code is '网格编码 — grid; key';
comment on column mart.grid_workload.grid_name is '网格名称 — grid name';
comment on column mart.grid_workload.community is '社区 — community';
comment on column mart.grid_workload.subdistrict is '街道 — subdistrict';
comment on column mart.grid_workload.grid_worker_name is '网格员 — grid worker''s name';
comment on column mart.grid_workload.residents is '常住人口 — residents placed in the grid';
comment on column mart.grid_workload.households is '户数 — distinct household numbers among them';
comment on column mart.grid_workload.grid_workers is '网格员人数 — grid workers (one per grid in the register)';
comment on column mart.grid_workload.target_residents_per_worker is '目标配比 — residents per worker the community reforms aim for (1,000)';
comment on column mart.grid_workload.over_target is '超配比 — residents above target_residents_per_worker x grid_workers';
