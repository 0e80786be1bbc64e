-- Second deterministic pass for records without a usable ID number: the same name and birth date as
-- exactly one person already anchored by an ID number. Ambiguous pairs are left for the next pass.
-- Only the anchored records sharing a (name, birth date) with a pending record are read.
with unlinked as (
    select p.source, p.record_ref, p.name, p.birth_date
    from resolve_pending p
    where p.birth_date is not null and p.name is not null
),
anchored as (
    select distinct l.person_key, r.name, r.birth_date
    from core.person_record r
    join core.person_link l using (source, record_ref)
    where l.method = 'id_number'
      and (r.name, r.birth_date) in (select name, birth_date from unlinked)
),
unambiguous as (
    select name, birth_date, min(person_key) as person_key
    from anchored
    group by name, birth_date
    having count(distinct person_key) = 1
),
linked as (
    insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
    select u.source, u.record_ref, a.person_key, 'name_birth_date', 0.9, 'deterministic-v1'
    from unlinked u
    join unambiguous a using (name, birth_date)
    order by u.source, u.record_ref
    returning source, record_ref
),
final as (
    delete from resolve_pending p
    using linked l
    where p.source = l.source and p.record_ref = l.record_ref
    returning 1
)
select count(*) from final;
