-- access.person_contact: contact details of residents for the staff of their community.
-- Grain: one row per person with residency_status = 'resident' (people who moved out or died are no
-- longer any community's to contact). Row-level security (forced) keeps each staff login to its
-- own communities; staff read it only through access.read_person_contacts(), which logs the read.
-- Refreshed after every core build (access.py empties it, or deletes the rebuilt persons' rows, then
-- this inserts); the table, its policies and grants persist.
select access.protect_community_table('access.person_contact', 'read_person_contacts');
insert into access.person_contact
with residents as (
    select p.*, r.relation_to_head, r.current_address
    from core.person p
    left join core.resident r using (person_key)
    where p.residency_status = 'resident'
),
final as (
    select
        -- ids
        person_key,
        access.mask_id_number(id_number) as id_number_masked,
        -- who
        name,
        sex,
        age_years,
        -- contact and place
        phone_primary                    as phone,
        household_no,
        relation_to_head,
        building_code,
        current_address,
        grid_code,
        community,
        subdistrict
    from residents
)
select * from final;
select count(*) from access.person_contact;
