-- Apply reviewers' decided pairs from review.person_match (set-based, once per decision).
-- same_person: the record moves to the candidate person, and with it the records the new-person
--   pass grouped with it (method new_person: they were one person only because they looked alike);
--   records anchored by their own ID number stay. Every move is written to core.person_link_history.
-- different_person: nothing moves (the record already has a key of its own); the pair is closed.
with decided as (
    select distinct on (source, record_ref)
        match_id, source, record_ref, candidate_person_key, match_probability
    from review.person_match
    where decision = 'same_person' and applied_at is null
    order by source, record_ref, decided_at desc nulls last, match_id desc
),
current_link as (
    select d.*, l.person_key as current_key
    from decided d
    join core.person_link l using (source, record_ref)
    where l.person_key <> d.candidate_person_key
),
moving as (
    select distinct on (l.source, l.record_ref)
        l.source, l.record_ref, l.person_key as old_key,
        c.candidate_person_key as new_key, c.match_id, c.match_probability
    from current_link c
    join core.person_link l on l.person_key = c.current_key
    where (l.source = c.source and l.record_ref = c.record_ref) or l.method = 'new_person'
    order by l.source, l.record_ref, c.match_id desc
),
history as (
    insert into core.person_link_history (source, record_ref, old_person_key, new_person_key, method, reason)
    select source, record_ref, old_key, new_key, 'review_decision',
           'review.person_match ' || match_id || ': same_person'
    from moving
    returning 1
),
relinked as (
    update core.person_link l
    set person_key = m.new_key, method = 'review_decision', score = m.match_probability,
        rule_version = 'review.person_match:' || m.match_id, linked_at = now()
    from moving m
    where l.source = m.source and l.record_ref = m.record_ref
    returning 1
),
closed as (
    update review.person_match
    set applied_at = now()
    where decision is not null and applied_at is null
    returning 1
),
final as (
    select (select count(*) from relinked) as relinked,
           (select count(*) from history) as history_rows,
           (select count(*) from closed) as closed
)
select relinked from final;
