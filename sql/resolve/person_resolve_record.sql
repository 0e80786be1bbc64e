-- What the probabilistic linker compares: core.person_record with a unique id and blocking keys.
-- Grain: one row per source record (source, record_ref).
create or replace view core.person_resolve_record as
with final as (
    select
        -- ids
        source || '|' || record_ref            as uid,
        source,
        record_ref,
        -- compared attributes
        name,
        name_pinyin,
        id_number,
        birth_date,
        sex,
        phone_primary                          as phone,
        household_no,
        building_code,
        address_key,
        -- blocking keys: the ID without its check character (a wrong check digit still blocks)
        left(id_number, 17)                    as id_body,
        extract(year from birth_date)::int::text as birth_year,
        -- flags
        id_valid,
        id_conflict,
        -- where the record says the person lives (residents, service recipients)
        community,
        -- the name without middle dots, spaces or punctuation (standardize.names' name_key):
        -- 约翰·史密斯 and 约翰史密斯, PARK KENJI and P ARK KENJI
        nullif(regexp_replace(name, '[[:space:]·.''’-]', '', 'g'), '') as name_key
    from core.person_record
)
select * from final;
