-- published.grid__resident: what 综治/网格办 sees of residents, by building and grid, masked.
-- Grain: one row per person with residency_status = 'resident'. Refreshed after every core build.
-- No names or ID numbers: grid planning needs counts and households per building; the people to
-- visit reach grid workers through the outreach lists, read by community staff.
insert into published.grid__resident
with residents as (
    select * from core.person where residency_status = 'resident'
),
final as (
    select
        -- ids
        access.person_ref(k.inner_pad, k.outer_pad, 'grid', person_key) as person_ref,
        access.mask_phone(phone_primary)      as phone_masked,
        -- place
        building_code,
        grid_code,
        community,
        subdistrict,
        household_no,
        -- attributes
        sex,
        age_years,
        population_type
    from residents
    cross join access.pseudonym_key k
)
select * from final;
select count(*) from published.grid__resident;
