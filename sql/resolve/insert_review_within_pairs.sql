-- After the new-person pass: doubtful pairs between two records that were both unlinked become
-- review pairs once the second record has a person to point to (resolve_pair_pending is filled by
-- the probabilistic pass in the same transaction). Pairs that ended up in one person need no review.
with pairs as (
    select p.source, p.record_ref, lo.person_key as candidate_person_key, p.match_probability, p.evidence
    from resolve_pair_pending p
    join core.person_link l on l.source = p.source and l.record_ref = p.record_ref
    join core.person_link lo on lo.source = p.other_source and lo.record_ref = p.other_record_ref
    where l.person_key <> lo.person_key
),
final as (
    insert into review.person_match (source, record_ref, candidate_person_key, match_probability, evidence)
    select distinct on (source, record_ref, candidate_person_key) *
    from pairs
    order by source, record_ref, candidate_person_key, match_probability desc
    on conflict (source, record_ref, candidate_person_key) do nothing
    returning 1
)
select count(*) from final;
