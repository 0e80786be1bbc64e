-- published.health__vaccination_status: what 卫健 sees of vaccination status, masked.
-- Grain: one row per resident x vaccine they are eligible for (core.vaccination_status).
-- Refreshed after every core build, in the build's transaction (access.py empties it, or deletes the
-- rebuilt persons' rows, then this inserts).
-- Masked phone: enough to recognise a number on a site's register, not to call it (calling is the
-- community staff's job, from the outreach list).
insert into published.health__vaccination_status
-- The pseudonym (two SHA-256) and the masks are worked out once per person, not once per person and
-- vaccine: six times fewer calls, the larger part of this refresh's time at a million residents.
with person as materialized (
    select
        person_key,
        access.person_ref(k.inner_pad, k.outer_pad, 'health', person_key) as person_ref,
        access.mask_id_number(id_number)        as id_number_masked,
        access.mask_phone(phone_primary)        as phone_masked,
        sex, age_years, grid_code, community, subdistrict
    from core.person
    cross join access.pseudonym_key k
),
status as (
    select s.*, p.person_ref, p.id_number_masked, p.phone_masked, p.sex, p.age_years, p.grid_code, p.community,
           p.subdistrict
    from core.vaccination_status s
    join person p using (person_key)
),
final as (
    select
        -- ids
        person_ref,
        vaccine_code,
        id_number_masked,
        phone_masked,
        -- attributes
        sex,
        age_years,
        grid_code,
        community,
        subdistrict,
        -- status
        doses_counted,
        doses_required,
        first_dose_date,
        last_dose_date,
        has_any_dose,
        is_complete
    from status
)
select * from final;
select count(*) from published.health__vaccination_status;
