-- published.civil_affairs__service_recipient: what 民政 sees of its recipients, masked, with what the
-- warehouse knows of the person (a recipient who died or moved away is the finding civil affairs needs).
-- Grain: one row per recipient_id. Refreshed in full after every core build (access.py empties it, this inserts).
insert into published.civil_affairs__service_recipient
with recipients as (
    select r.*, p.id_number, p.age_years, p.residency_status, p.grid_code
    from core.service_recipient r
    left join core.person p using (person_key)
),
final as (
    select
        -- ids
        recipient_id,
        access.person_ref(k.inner_pad, k.outer_pad, 'civil_affairs', person_key) as person_ref,
        access.mask_id_number(id_number)               as id_number_masked,
        -- attributes
        category,
        community,
        valid_from,
        valid_to,
        is_current,
        -- the person as the warehouse knows them
        age_years,
        residency_status,
        grid_code
    from recipients
    cross join access.pseudonym_key k
)
select * from final;
select count(*) from published.civil_affairs__service_recipient;
