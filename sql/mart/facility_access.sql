-- mart.facility_access: distance from every building to the nearest open facility of each category.
-- Grain: one row per building x facility category. Distances use an equirectangular approximation,
-- accurate to well under 1% at city scale.
-- Nearest by index (core.facility's GiST index on point(longitude, latitude)), not a cross join:
-- 1. k: the nearest facility of the category in plain degrees (a KNN scan), at d0 degrees;
-- 2. the equirectangular distance scales longitude by c = cos(latitude) <= 1, so no facility beyond
--    d0 / c degrees can beat that one: the exact distance ranks only the facilities inside that circle.
-- Ties (two facilities at the same distance) go to the smaller facility_id.
drop table if exists mart.facility_access;
create table mart.facility_access as
with buildings as (
    select building_code, grid_code, longitude, latitude, point(longitude, latitude) as location
    from core.building
    where longitude is not null and latitude is not null
),
categories as (
    select distinct category
    from core.facility
    where is_open and longitude is not null and latitude is not null
),
nearest as (
    select b.building_code, b.grid_code, c.category, n.facility_id, n.distance_m
    from buildings b
    cross join categories c
    cross join lateral (
        select point(f.longitude, f.latitude) <-> b.location as degrees
        from core.facility f
        where f.is_open and f.longitude is not null and f.latitude is not null and f.category = c.category
        order by point(f.longitude, f.latitude) <-> b.location
        limit 1
    ) k
    cross join lateral (
        select
            f.facility_id,
            111320.0 * sqrt(power(f.latitude - b.latitude, 2)
                            + power((f.longitude - b.longitude) * cos(radians(b.latitude)), 2)) as distance_m
        from core.facility f
        where f.is_open and f.longitude is not null and f.latitude is not null and f.category = c.category
          and point(f.longitude, f.latitude)
              <@ circle(b.location, k.degrees / cos(radians(b.latitude)::float8) * (1 + 1e-9) + 1e-12)
        order by distance_m, f.facility_id
        limit 1
    ) n
),
final as (
    select
        building_code,
        grid_code,
        category,
        facility_id          as nearest_facility_id,
        round(distance_m::numeric, 1) as distance_m,
        distance_m <= 1000   as within_1km
    from nearest
)
select * from final;
comment on table mart.facility_access is '设施可达性 — one row per building x category: nearest open facility and its distance';
-- column comments: Chinese label — meaning
comment on column mart.facility_access.building_code is '楼栋编码 — building; key with category';
comment on column mart.facility_access.grid_code is '网格编码 — grid of the building';
comment on column mart.facility_access.category is '设施类别 — facility category';
comment on column mart.facility_access.nearest_facility_id is '最近设施 — nearest open facility of the category';
comment on column mart.facility_access.distance_m is '距离(米) — straight-line distance to it in metres (equirectangular, < 1% error)';
comment on column mart.facility_access.within_1km is '1公里内 — distance_m <= 1000 (a 15-minute walk)';

drop table if exists mart.facility_access_by_grid;
create table mart.facility_access_by_grid as
with residents as (
    select grid_code, building_code, count(*) as residents
    from core.person
    where residency_status = 'resident' and building_code is not null
    group by grid_code, building_code
),
final as (
    select
        r.grid_code,
        sum(r.residents)                                                          as residents,
        round(sum(r.residents) filter (where e.within_1km)::numeric / nullif(sum(r.residents), 0), 4)
                                                                                  as elderly_care_within_1km_rate,
        round(sum(r.residents) filter (where h.within_1km)::numeric / nullif(sum(r.residents), 0), 4)
                                                                                  as health_within_1km_rate
    from residents r
    left join mart.facility_access e on e.building_code = r.building_code and e.category = '养老服务'
    left join mart.facility_access h on h.building_code = r.building_code and h.category = '医疗卫生'
    group by r.grid_code
)
select * from final;
comment on table mart.facility_access_by_grid is '设施可达性 (网格) — one row per grid: share of residents within 1 km of elderly care and of health';
-- column comments: Chinese label — meaning
comment on column mart.facility_access_by_grid.grid_code is '网格编码 — grid; key';
comment on column mart.facility_access_by_grid.residents is '常住人口 — residents placed in a building of the grid';
comment on column mart.facility_access_by_grid.elderly_care_within_1km_rate is '养老设施1公里覆盖率 — share of the residents within 1 km of an open 养老服务 facility';
comment on column mart.facility_access_by_grid.health_within_1km_rate is '医疗设施1公里覆盖率 — share of the residents within 1 km of an open 医疗卫生 facility';
