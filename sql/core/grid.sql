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
