-- core.resident: where each person stands in the resident register as of the latest delivery.
-- Grain: one row per person who appears in the latest full snapshot or any delta after it.
-- The latest event wins: a snapshot row, 新增/迁入/信息变更 keep the person resident; 迁出 and 死亡
-- end residency (the row stays, with its status, so moves and deaths are visible, not dropped).
drop table if exists core.resident;
create table core.resident as
with linked as (
    select s.*, l.person_key
    from staging.stg_public_security__resident s
    join core.person_link l
      on l.source = 'public_security.residents' and l.record_ref = s.load_id || ':' || s.source_row
),
latest_snapshot as (
    select max(delivery_date) as snapshot_date from linked where delivery_kind = 'full'
),
events as (
    select
        linked.*,
        row_number() over (
            partition by person_key
            order by delivery_date desc, (delivery_kind = 'delta') desc, change_date desc nulls last,
                     load_id desc, source_row desc
        ) as recency
    from linked
    cross join latest_snapshot
    where linked.delivery_date >= latest_snapshot.snapshot_date
),
final as (
    select
        -- ids
        person_key,
        load_id || ':' || source_row            as record_ref,
        -- status
        case change_type when '迁出' then 'moved_out' when '死亡' then 'deceased' else 'resident' end
                                                 as residency_status,
        coalesce(change_date, delivery_date)     as status_date,
        -- household and place
        household_no,
        relation_to_head,
        building_code,
        current_address,
        address_key,
        population_type,
        residence_permit_no,
        community,
        subdistrict,
        -- lineage
        delivery_kind,
        delivery_date
    from events
    where recency = 1
)
select * from final;

alter table core.resident add primary key (person_key);
create index on core.resident (building_code);
create index on core.resident (household_no);
comment on table core.resident is '常住状态 — one row per person in the latest snapshot or a later delta: status, household, place';
comment on column core.resident.residency_status is 'resident | moved_out (迁出) | deceased (死亡)';
