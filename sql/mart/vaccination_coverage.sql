-- mart.vaccination_coverage: who is vaccinated, by vaccine x place x age band.
-- Grain: one row per vaccine x level (grid | community | subdistrict) x area x age band.
-- people = eligible residents (core.vaccination_status); rates are null where people = 0.
-- Memory for the sorts and hashes of a million people (for the rest of the transaction).
set local work_mem = '256MB';
drop table if exists mart.vaccination_coverage;
create table mart.vaccination_coverage as
with status as (
    select
        s.vaccine_code,
        s.has_any_dose,
        s.is_complete,
        p.grid_code,
        p.community,
        p.subdistrict,
        case when p.age_years < 18 then '0-17'
             when p.age_years < 60 then '18-59'
             when p.age_years < 80 then '60-79'
             else '80+' end as age_band
    from core.vaccination_status s
    join core.person p using (person_key)
),
by_grid as (
    -- one pass over the people, counted per grid; communities and subdistricts add these counts up
    -- a resident no building places is counted in an '(unplaced)' area of their community, not dropped
    select vaccine_code,
           coalesce(grid_code, '(unplaced) ' || coalesce(community, '?')) as area_code, community, subdistrict,
           age_band,
           count(*)                             as people,
           count(*) filter (where has_any_dose) as vaccinated_any_dose,
           count(*) filter (where is_complete)  as vaccinated_complete
    from status
    group by vaccine_code, 2, community, subdistrict, age_band
),
by_area as (
    select vaccine_code, 'grid' as area_level, area_code, community, subdistrict, age_band,
           people, vaccinated_any_dose, vaccinated_complete
    from by_grid
    union all
    select vaccine_code, 'community', community, community, subdistrict, age_band,
           sum(people)::bigint, sum(vaccinated_any_dose)::bigint, sum(vaccinated_complete)::bigint
    from by_grid
    group by vaccine_code, community, subdistrict, age_band
    union all
    select vaccine_code, 'subdistrict', subdistrict, null, subdistrict, age_band,
           sum(people)::bigint, sum(vaccinated_any_dose)::bigint, sum(vaccinated_complete)::bigint
    from by_grid
    group by vaccine_code, subdistrict, age_band
),
final as (
    select
        vaccine_code,
        area_level,
        coalesce(area_code, '(unplaced)')                     as area_code,
        community,
        subdistrict,
        age_band,
        people,
        vaccinated_any_dose,
        vaccinated_complete,
        round(vaccinated_any_dose::numeric / nullif(people, 0), 4) as any_dose_rate,
        round(vaccinated_complete::numeric / nullif(people, 0), 4) as complete_rate
    from by_area
)
select * from final;
comment on table mart.vaccination_coverage is '接种率 — one row per vaccine x level x area x age band: eligible people, vaccinated, complete, rates';
-- column comments: Chinese label — meaning
comment on column mart.vaccination_coverage.vaccine_code is '疫苗编码 — core.vaccine_catalogue code';
comment on column mart.vaccination_coverage.area_level is '统计层级 — grid | community | subdistrict';
comment on column mart.vaccination_coverage.area_code is '区域 — grid code, community or subdistrict name; "(unplaced) <community>" = residents of that community in no grid';
comment on column mart.vaccination_coverage.community is '社区 — community (null at subdistrict level)';
comment on column mart.vaccination_coverage.subdistrict is '街道 — subdistrict';
comment on column mart.vaccination_coverage.age_band is '年龄段 — 0-17 | 18-59 | 60-79 | 80+ (whole years at core.as_of)';
comment on column mart.vaccination_coverage.people is '应种人数 — eligible residents (core.vaccination_status): the denominator';
comment on column mart.vaccination_coverage.vaccinated_any_dose is '至少一剂人数 — eligible residents with at least one counted dose';
comment on column mart.vaccination_coverage.vaccinated_complete is '全程接种人数 — eligible residents with a complete series';
comment on column mart.vaccination_coverage.any_dose_rate is '至少一剂接种率 — vaccinated_any_dose / people, 4 decimals; null where people = 0';
comment on column mart.vaccination_coverage.complete_rate is '全程接种率 — vaccinated_complete / people, 4 decimals; null where people = 0';
