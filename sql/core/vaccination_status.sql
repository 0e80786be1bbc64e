-- core.vaccination_status: where each resident stands per vaccine they are eligible for.
-- Grain: one row per resident person x catalogue vaccine they are eligible for at the as-of date.
-- Complete series per core.vaccine_catalogue: FLU counts this season's dose only (1 Sep - 31 Aug);
-- HPV needs 2 doses if the first was given before age 15, else 3.
-- Memory for the sorts and hashes of a million people (for the rest of the transaction).
set local work_mem = '256MB';
drop table if exists core.vaccination_status;
create table core.vaccination_status as
with as_of as (
    select
        as_of_date,
        make_date(extract(year from as_of_date)::int - case when extract(month from as_of_date) < 9 then 1 else 0 end,
                  9, 1) as flu_season_start
    from core.as_of
),
residents as materialized (
    -- materialized: each person's age is worked out once, not once per catalogue vaccine
    select p.person_key, p.birth_date, p.sex, p.age_years,
           (extract(year from age(a.as_of_date, p.birth_date)) * 12
            + extract(month from age(a.as_of_date, p.birth_date)))::int as age_months
    from core.person p
    cross join as_of a
    where p.residency_status = 'resident' and p.birth_date is not null
),
eligible as (
    select r.*, c.vaccine_code, c.doses_for_complete, c.doses_for_complete_if_started_before_15, c.seasonal
    from residents r
    join core.vaccine_catalogue c
      on r.age_months >= coalesce(c.min_age_months, 0)
     and (c.max_age_years is null or r.age_years <= c.max_age_years)
     and (c.sex is null or c.sex = r.sex)
),
doses as (
    select
        d.person_key,
        d.vaccine_code,
        count(*)                                                        as doses,
        count(*) filter (where d.vaccinated_date >= a.flu_season_start) as doses_this_season,
        min(d.vaccinated_date)                                          as first_dose_date,
        max(d.vaccinated_date)                                          as last_dose_date
    from core.vaccination_dose d
    cross join as_of a
    group by d.person_key, d.vaccine_code
),
final as (
    select
        e.person_key,
        e.vaccine_code,
        coalesce(case when e.seasonal then d.doses_this_season else d.doses end, 0) as doses_counted,
        case when e.doses_for_complete_if_started_before_15 is not null
                  and extract(year from age(d.first_dose_date, e.birth_date)) < 15
             then e.doses_for_complete_if_started_before_15
             else e.doses_for_complete end                                     as doses_required,
        d.first_dose_date,
        d.last_dose_date
    from eligible e
    left join doses d using (person_key, vaccine_code)
)
select
    final.*,
    doses_counted >= 1              as has_any_dose,
    doses_counted >= doses_required as is_complete
from final;
alter table core.vaccination_status add primary key (person_key, vaccine_code);
comment on table core.vaccination_status is '接种状态 — one row per resident x vaccine they are eligible for: doses counted, required, complete';
-- column comments: Chinese label — meaning
comment on column core.vaccination_status.person_key is '人员键 — resident person (core.person, residency_status = resident)';
comment on column core.vaccination_status.vaccine_code is '疫苗编码 — a catalogue vaccine the person is eligible for at core.as_of (age, sex)';
comment on column core.vaccination_status.doses_counted is '已接种剂次 — doses that count: all doses, FLU only this season''s (1 Sep - 31 Aug)';
comment on column core.vaccination_status.doses_required is '全程剂次 — doses for a complete series (HPV: 2 if started before 15, else 3)';
comment on column core.vaccination_status.first_dose_date is '首剂日期 — date of the first dose of this vaccine (any season)';
comment on column core.vaccination_status.last_dose_date is '末剂日期 — date of the latest dose of this vaccine (any season)';
comment on column core.vaccination_status.has_any_dose is '至少一剂 — doses_counted >= 1';
comment on column core.vaccination_status.is_complete is '全程接种 — doses_counted >= doses_required';
