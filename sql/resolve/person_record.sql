-- Every person-bearing staging record in one shape, for resolution.
-- Grain: one row per source record (source, record_ref).
create or replace view core.person_record as
with residents as (
    select
        'public_security.residents'::text as source,
        load_id || ':' || source_row      as record_ref,
        name, name_pinyin, id_number, id_valid,
        birth_date, sex, phone_primary, household_no, building_code, address_key,
        community,
        (birth_date_conflict or sex_conflict) as id_conflict,
        delivery_date                      as seen_date
    from staging.stg_public_security__resident
),
vaccinations as (
    select
        'health.vaccination_record'::text, record_id::text,
        recipient_name, name_pinyin, id_number, id_valid,
        birth_date, sex, phone_primary, null::text, null::text, null::text,
        null::text,
        coalesce(id_valid and birth_date is not null
                 and to_date(substr(id_number, 7, 8), 'YYYYMMDD') <> birth_date, false),
        (updated_at at time zone 'Asia/Shanghai')::date
    from staging.stg_health__vaccination_record
),
recipients as (
    select
        'civil_affairs.service_recipients'::text, recipient_id,
        name, name_pinyin, id_number, id_valid,
        case when id_valid then to_date(substr(id_number, 7, 8), 'YYYYMMDD') end, null::text, null::text,
        null::text, null::text, null::text,
        community,
        false,
        (updated_at at time zone 'Asia/Shanghai')::date
    from staging.stg_civil_affairs__service_recipient
),
final as (
    select * from residents
    union all select * from vaccinations
    union all select * from recipients
)
select * from final;
