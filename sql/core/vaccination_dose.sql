-- core.vaccination_dose: one row per real dose given to a resolved person.
-- Grain: one row per person x vaccine x vaccination date. The same dose entered twice (two records,
-- same person, vaccine and day) is merged; revoked records never reach staging.
-- Memory for the sorts and hashes of a million people (for the rest of the transaction).
set local work_mem = '256MB';
drop table if exists core.vaccination_dose;
create table core.vaccination_dose as
with records as (
    select
        l.person_key,
        v.record_id,
        v.vaccine_code,
        v.dose_number,
        v.vaccinated_at,
        (v.vaccinated_at at time zone 'Asia/Shanghai')::date as vaccinated_date,
        v.site_name
    from staging.stg_health__vaccination_record v
    join core.person_link l
      on l.source = 'health.vaccination_record' and l.record_ref = v.record_id::text
),
merged as (
    select
        person_key,
        vaccine_code,
        vaccinated_date,
        min(dose_number)                       as dose_number,
        min(vaccinated_at)                     as vaccinated_at,
        min(site_name)                         as site_name,
        array_agg(record_id order by record_id) as record_ids
    from records
    group by person_key, vaccine_code, vaccinated_date
),
final as (
    select
        person_key,
        vaccine_code,
        vaccinated_date,
        -- the dose's position in the person's own series, whatever the site typed
        row_number() over (partition by person_key, vaccine_code order by vaccinated_date)::int as dose_sequence,
        dose_number as dose_number_recorded,
        vaccinated_at,
        site_name,
        record_ids
    from merged
)
select * from final;
alter table core.vaccination_dose add primary key (person_key, vaccine_code, vaccinated_date);
comment on table core.vaccination_dose is '接种剂次 — one row per real dose: person, vaccine, date (duplicate records merged)';
-- column comments: Chinese label — meaning
comment on column core.vaccination_dose.person_key is '人员键 — the person vaccinated (core.person)';
comment on column core.vaccination_dose.vaccine_code is '疫苗编码 — core.vaccine_catalogue code';
comment on column core.vaccination_dose.vaccinated_date is '接种日期 — date of the dose, Asia/Shanghai';
comment on column core.vaccination_dose.dose_sequence is '剂次序号 — the dose''s position in the person''s own series of this vaccine (by date)';
comment on column core.vaccination_dose.dose_number_recorded is '记录剂次 — the dose number the site entered (smallest, where records were merged)';
comment on column core.vaccination_dose.vaccinated_at is '接种时间 — time of vaccination (earliest of the merged records)';
comment on column core.vaccination_dose.site_name is '接种单位 — vaccination site';
comment on column core.vaccination_dose.record_ids is '记录编号 — the health records merged into this dose';
