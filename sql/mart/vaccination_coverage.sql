-- mart.vaccination_coverage: who is vaccinated, by vaccine x place x age band.
-- Grain: one row per vaccine x level (grid | community | subdistrict) x area x age band.
-- people = eligible residents (core.vaccination_status); rates are null where people = 0.
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
by_area as (
    select vaccine_code, 'grid' as area_level, grid_code as area_code, community, subdistrict, age_band,
           has_any_dose, is_complete
    from status
    union all
    select vaccine_code, 'community', community, community, subdistrict, age_band, has_any_dose, is_complete
    from status
    union all
    select vaccine_code, 'subdistrict', subdistrict, null, subdistrict, age_band, has_any_dose, is_complete
    from status
),
final as (
    select
        vaccine_code,
        area_level,
        coalesce(area_code, '(unplaced)')                     as area_code,
        community,
        subdistrict,
        age_band,
        count(*)                                              as people,
        count(*) filter (where has_any_dose)                  as vaccinated_any_dose,
        count(*) filter (where is_complete)                   as vaccinated_complete,
        round(count(*) filter (where has_any_dose)::numeric / nullif(count(*), 0), 4) as any_dose_rate,
        round(count(*) filter (where is_complete)::numeric / nullif(count(*), 0), 4)  as complete_rate
    from by_area
    group by vaccine_code, area_level, area_code, community, subdistrict, age_band
)
select * from final;
comment on table mart.vaccination_coverage is '接种率 — one row per vaccine x level x area x age band: eligible people, vaccinated, complete, rates';
