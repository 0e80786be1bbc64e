-- After the probabilistic pass: a record that says nothing but a name and its community (a
-- civil-affairs recipient without an ID number: no birth date, no phone) links to the one person of
-- that community known by that name. None, or two namesakes, and it is left to the new-person pass.
with unlinked as (
    select p.source, p.record_ref, p.name, p.community
    from resolve_pending p
    where p.birth_date is null and p.phone is null and p.name is not null and p.community is not null
),
known as (
    select distinct l.person_key, r.name, r.community
    from core.person_record r
    join core.person_link l using (source, record_ref)
    where (r.name, r.community) in (select name, community from unlinked)
),
unambiguous as (
    select name, community, min(person_key) as person_key
    from known
    group by name, community
    having count(distinct person_key) = 1
),
linked as (
    insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
    select u.source, u.record_ref, k.person_key, 'name_community', 0.9, 'deterministic-v1'
    from unlinked u
    join unambiguous k using (name, community)
    returning source, record_ref
),
final as (
    delete from resolve_pending p
    using linked l
    where p.source = l.source and p.record_ref = l.record_ref
    returning 1
)
select count(*) from final;
