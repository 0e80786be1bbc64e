-- published.health__vaccination_status: what 卫健 sees of vaccination status, masked.
-- Grain: one row per resident x vaccine they are eligible for (core.vaccination_status).
-- Refreshed (truncate + insert) after every core build, in the build's transaction.
-- Masked phone: enough to recognise a number on a site's register, not to call it (calling is the
-- community staff's job, from the outreach list).
truncate published.health__vaccination_status;
insert into published.health__vaccination_status
with status as (
    select s.*, p.id_number, p.phone_primary, p.sex, p.age_years, p.grid_code, p.community, p.subdistrict
    from core.vaccination_status s
    join core.person p using (person_key)
),
final as (
    select
        -- ids
        access.person_ref(k.inner_pad, k.outer_pad, 'health', person_key) as person_ref,
        vaccine_code,
        access.mask_id_number(id_number)        as id_number_masked,
        access.mask_phone(phone_primary)        as phone_masked,
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
    cross join access.pseudonym_key k
)
select * from final;
select count(*) from published.health__vaccination_status;
