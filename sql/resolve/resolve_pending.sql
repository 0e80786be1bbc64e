-- The records the passes after the ID number must link: unlinked, without a usable ID number.
-- Grain: one row per unlinked source record (source, record_ref); the columns of
-- core.person_resolve_record. A temporary table, dropped at commit: read once from staging, and
-- each later pass deletes what it links, so the next one sees only what is left.
drop table if exists resolve_pending;
create temp table resolve_pending on commit drop as
with final as (
    select r.*
    from core.person_resolve_record r
    where not (r.id_valid and not r.id_conflict and r.id_number is not null)
      and not exists (select 1 from core.person_link l where l.source = r.source and l.record_ref = r.record_ref)
)
select * from final;
create index on resolve_pending (source, record_ref);
analyze resolve_pending;
