-- Last pass: records nothing matched become new persons; unlinked records with the same name and
-- birth date (or, without a birth date, the same name and phone) become one person together.
with unlinked as (
    select p.source, p.record_ref, p.name, p.birth_date, p.phone
    from resolve_pending p
    where not exists (select 1 from core.person_link l where l.source = p.source and l.record_ref = p.record_ref)
),
grouped as (
    select *, coalesce(name, '') as name_key, coalesce(birth_date::text, 'phone:' || phone, 'record:' || source || record_ref) as group_key
    from unlinked
),
new_keys as (
    select name_key, group_key, nextval('core.person_key_seq') as person_key
    from (select distinct name_key, group_key from grouped) groups
),
final as (
    insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
    select g.source, g.record_ref, k.person_key, 'new_person', null, 'deterministic-v1'
    from grouped g
    join new_keys k using (name_key, group_key)
    order by g.source, g.record_ref
    returning 1
)
select count(*) from final;
