-- core.grid: the grid office's grids with their workers. Grain: one row per grid_code.
drop table if exists core.grid;
create table core.grid as
with grids as (
    select * from staging.stg_grid__grid
),
final as (
    select
        -- ids
        grid_code,
        -- attributes
        grid_name,
        community,
        subdistrict,
        grid_worker_name,
        grid_worker_phone,
        grid_leader_name,
        geometry_wkt,
        geometry_issue
    from grids
)
select * from final;
alter table core.grid add primary key (grid_code);
comment on table core.grid is '网格 — one row per grid: polygon (WKT, WGS-84), community, subdistrict, grid worker and leader';
-- column comments: Chinese label — meaning
comment on column core.grid.grid_code is '网格编码 — the grid office''s code; key';
comment on column core.grid.grid_name is '网格名称 — grid name';
comment on column core.grid.community is '社区 — community the grid belongs to';
comment on column core.grid.subdistrict is '街道 — subdistrict the grid belongs to';
comment on column core.grid.grid_worker_name is '网格员 — grid worker''s name (personal data)';
comment on column core.grid.grid_worker_phone is '网格员电话 — grid worker''s phone (personal data)';
comment on column core.grid.grid_leader_name is '网格长 — grid leader''s name';
comment on column core.grid.geometry_wkt is '网格范围 — polygon or multipolygon as WKT, WGS-84 longitude/latitude';
comment on column core.grid.geometry_issue is '范围问题 — what standardize repaired in the polygon (e.g. ring_closed); null = none';
