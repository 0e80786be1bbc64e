-- mart.key_population: the people community work looks after, per grid.
-- Grain: one row per grid (residents whose building is in no grid count under '(unplaced)').
drop table if exists mart.key_population;
create table mart.key_population as
with residents as (
    -- read twice, so kept as a table for the query: only the columns it needs, not the whole person
    select p.person_key, p.household_no, p.community, p.subdistrict, p.age_years, p.population_type,
           coalesce(p.grid_code, '(unplaced)') as area_grid
    from core.person p
    where p.residency_status = 'resident'
),
household_size as (
    select household_no, count(*) as members from residents where household_no is not null group by household_no
),
recipients as (
    select person_key, array_agg(distinct category) as categories
    from core.service_recipient
    where is_current
    group by person_key
),
flags as (
    select
        r.area_grid,
        r.community,
        r.subdistrict,
        r.age_years >= 60                                        as aged_60_plus,
        r.age_years >= 80                                        as aged_80_plus,
        r.age_years >= 80 and coalesce(h.members, 1) = 1         as aged_80_plus_alone,
        r.population_type = '流动人口'                            as floating,
        coalesce('特困人员' = any(s.categories), false)           as extreme_poverty,
        coalesce('低保' = any(s.categories), false)               as minimum_allowance,
        coalesce('残疾人' = any(s.categories), false)             as disability,
        coalesce('高龄独居' = any(s.categories), false)           as aged_alone_recipient,
        coalesce('困境儿童' = any(s.categories), false)           as child_in_difficulty
    from residents r
    left join household_size h using (household_no)
    left join recipients s using (person_key)
),
final as (
    select
        area_grid                                      as grid_code,
        min(community)                                 as community,
        min(subdistrict)                               as subdistrict,
        count(*)                                       as residents,
        count(*) filter (where aged_60_plus)           as aged_60_plus,
        count(*) filter (where aged_80_plus)           as aged_80_plus,
        count(*) filter (where aged_80_plus_alone)     as aged_80_plus_living_alone,
        count(*) filter (where floating)               as floating_population,
        count(*) filter (where extreme_poverty)        as extreme_poverty,
        count(*) filter (where minimum_allowance)      as minimum_allowance,
        count(*) filter (where disability)             as disability,
        count(*) filter (where aged_alone_recipient)   as aged_80_plus_alone_recipients,
        count(*) filter (where child_in_difficulty)    as children_in_difficulty
    from flags
    group by area_grid
)
select * from final;
comment on table mart.key_population is '重点人群 — one row per grid: aged 60+/80+, 80+ living alone, floating, each service-recipient category';
-- column comments: Chinese label — meaning
comment on column mart.key_population.grid_code is '网格编码 — grid; (unplaced) = residents whose building is in no grid';
comment on column mart.key_population.community is '社区 — community';
comment on column mart.key_population.subdistrict is '街道 — subdistrict';
comment on column mart.key_population.residents is '常住人口 — residents';
comment on column mart.key_population.aged_60_plus is '60岁及以上 — residents aged 60+';
comment on column mart.key_population.aged_80_plus is '80岁及以上 — residents aged 80+';
comment on column mart.key_population.aged_80_plus_living_alone is '80岁以上独居 — residents aged 80+ alone in their household (户号 with one resident)';
comment on column mart.key_population.floating_population is '流动人口 — residents of population type 流动人口';
comment on column mart.key_population.extreme_poverty is '特困人员 — residents with a current 特困人员 recipient record';
comment on column mart.key_population.minimum_allowance is '低保 — residents with a current 低保 recipient record';
comment on column mart.key_population.disability is '残疾人 — residents with a current 残疾人 recipient record';
comment on column mart.key_population.aged_80_plus_alone_recipients is '高龄独居 (民政) — residents with a current 高龄独居 recipient record';
comment on column mart.key_population.children_in_difficulty is '困境儿童 — residents with a current 困境儿童 recipient record';
