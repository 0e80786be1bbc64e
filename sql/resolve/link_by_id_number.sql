-- Deterministic resolution: a record whose ID number is valid and agrees with its stated birth date
-- and sex links to the person that owns that ID number; an ID number seen for the first time gets a
-- new person key. Records already linked keep their link (stable keys).
-- On a first load the caller drops the indexes of core.person_link and core.person_id_number around
-- this statement and builds them again once (resolve/deterministic.py).
with unlinked as (
    select r.source, r.record_ref, r.id_number
    from core.person_record r
    where r.id_valid and not r.id_conflict and r.id_number is not null
      and not exists (select 1 from core.person_link l where l.source = r.source and l.record_ref = r.record_ref)
),
new_numbers as (
    insert into core.person_id_number (id_number, person_key)
    select id_number, nextval('core.person_key_seq')
    from (select distinct id_number from unlinked) numbers
    where not exists (select 1 from core.person_id_number p where p.id_number = numbers.id_number)
    returning id_number, person_key
),
owners as (
    select id_number, person_key from core.person_id_number
    where id_number in (select id_number from unlinked)
    union all
    select id_number, person_key from new_numbers
),
final as (
    insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
    select u.source, u.record_ref, o.person_key, 'id_number', 1.0, 'deterministic-v1'
    from unlinked u
    join owners o using (id_number)
    returning 1
)
select count(*) from final;
