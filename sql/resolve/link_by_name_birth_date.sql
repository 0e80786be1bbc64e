-- Second deterministic pass for records without a usable ID number: the same name and birth date as
-- exactly one person already anchored by an ID number. Ambiguous pairs are left for the next pass.
with anchored as (
    select distinct l.person_key, r.name, r.birth_date
    from core.person_link l
    join core.person_record r using (source, record_ref)
    where l.method = 'id_number' and r.birth_date is not null
),
unambiguous as (
    select name, birth_date, min(person_key) as person_key
    from anchored
    group by name, birth_date
    having count(distinct person_key) = 1
),
unlinked as (
    select r.source, r.record_ref, r.name, r.birth_date
    from core.person_record r
    where r.birth_date is not null
      and not exists (select 1 from core.person_link l where l.source = r.source and l.record_ref = r.record_ref)
),
final as (
    insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
    select u.source, u.record_ref, a.person_key, 'name_birth_date', 0.9, 'deterministic-v1'
    from unlinked u
    join unambiguous a using (name, birth_date)
    returning 1
)
select count(*) from final;
