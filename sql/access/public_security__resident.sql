-- published.public_security__resident: what 公安 sees of every resolved person, masked.
-- Grain: one row per person_key. Refreshed after every core build, in the build's transaction (access.py
-- empties it, or deletes the rebuilt persons' rows, then this inserts), so grants on the table survive and
-- readers see the old rows or the new, never none.
-- No names, no phones: public security holds them already; what it needs from the warehouse is how the
-- person was resolved (residency, placement) and which other departments know them.
insert into published.public_security__resident
with persons as (
    select * from core.person
),
final as (
    select
        -- ids
        access.person_ref(k.inner_pad, k.outer_pad, 'public_security', person_key) as person_ref,
        access.mask_id_number(id_number)                 as id_number_masked,
        id_valid,
        -- attributes
        sex,
        age_years,
        -- residency and place
        residency_status,
        household_no,
        building_code,
        grid_code,
        community,
        subdistrict,
        population_type,
        -- lineage
        known_to
    from persons
    cross join access.pseudonym_key k
)
select * from final;
select count(*) from published.public_security__resident;
