-- core.person_history: what public security said about each person over time (SCD type 2).
-- Grain: one row per person_key per version; a version is a maximal run of the person's resident
-- records, in delivery order, that agree on every tracked attribute: residency_status,
-- household_no, relation_to_head, building_code, address_key (现住址), community, subdistrict,
-- population_type, phone_mobile.
--
-- Rebuilt from staging each run (idempotent): the full snapshot and every delta, ordered as
-- core.resident orders them (delivery date, snapshot before delta, change date, load, row).
-- - valid_from is the change date of the record that opened the version (变动日期), else its
--   delivery date; a running maximum keeps versions in order when a delta arrives late.
--   valid_to is the next version's valid_from (exclusive), null while current.
-- - A later full snapshot that no longer lists a resident opens a version 'not_in_register'
--   (as core.resident does: the person is no longer in the register).
-- - Delivery noise does not open versions: a blank 楼栋编码 is placed by 现住址 as in core.resident,
--   and where neither places it the building of the same address is carried forward; a row with no
--   mobile keeps the last known mobile (a blank or landline-only 联系电话 is not a phone change).
-- Memory for the sorts and hashes of a million people (for the rest of the transaction).
set local work_mem = '256MB';
drop table if exists core.person_history;
create table core.person_history as
with linked as (
    select s.*, l.person_key
    from staging.stg_public_security__resident s
    join core.person_link l
      on l.source = 'public_security.residents' and l.record_ref = s.load_id || ':' || s.source_row
),
unique_addresses as (
    -- a building address that names exactly one building can place a resident without a code
    select address_key, min(building_code) as building_code
    from core.building
    where address_key is not null
    group by address_key
    having count(*) = 1
),
observations as (
    select
        linked.person_key,
        linked.load_id,
        linked.source_row,
        linked.load_id || ':' || linked.source_row                         as record_ref,
        linked.delivery_kind,
        linked.delivery_date,
        coalesce(linked.change_date, linked.delivery_date)                 as event_date,
        coalesce(linked.change_type, '快照')                                as change_type,
        case linked.change_type when '迁出' then 'moved_out' when '死亡' then 'deceased' else 'resident' end
                                                                           as residency_status,
        linked.household_no,
        linked.relation_to_head,
        coalesce(linked.building_code, unique_addresses.building_code)     as building_code,
        linked.address_key,
        linked.current_address,
        linked.community,
        linked.subdistrict,
        linked.population_type,
        case when linked.phone_primary_type = 'mobile' then linked.phone_primary end as phone_mobile
    from linked
    -- only a blank code is placed by address: only those rows pay for the regular expression
    left join unique_addresses
      on unique_addresses.address_key
         = case when linked.building_code is null then regexp_replace(linked.address_key, '[0-9]+(房|室)$', '') end
),
snapshots as (
    -- every full snapshot of the register, whoever is read here (a scoped build reads only some persons)
    select delivery_date, load_id from staging.public_security_snapshot
),
next_snapshot as (
    -- each record with the first full snapshot delivered after it, and the person's next delivery.
    -- Only records delivered before the latest snapshot can have one: the rest are left out (a record
    -- left out is later than any snapshot an earlier record is compared with, so the test below
    -- reads a missing next delivery as it would have read that one).
    select
        observations.*,
        (select min(s.delivery_date) from snapshots s where s.delivery_date > observations.delivery_date)
            as snapshot_date,
        lead(delivery_date) over (
            partition by person_key
            order by delivery_date, (delivery_kind = 'delta'), event_date, load_id, source_row
        ) as next_delivery_date
    from observations
    where delivery_date < (select max(delivery_date) from snapshots)
),
last_before_snapshot as (
    -- the person's latest record before each later snapshot
    select next_snapshot.*, snapshots.load_id as snapshot_load_id
    from next_snapshot
    join snapshots on snapshots.delivery_date = next_snapshot.snapshot_date
    where next_delivery_date is null or next_delivery_date >= next_snapshot.snapshot_date
),
absences as (
    -- listed before, residents then, missing from the snapshot: no longer in the register
    select
        b.person_key,
        b.snapshot_load_id                                   as load_id,
        0::bigint                                            as source_row,
        null::text                                           as record_ref,
        'full'::text                                         as delivery_kind,
        b.snapshot_date                                      as delivery_date,
        b.snapshot_date                                      as event_date,
        '不在快照'::text                                      as change_type,
        'not_in_register'::text                              as residency_status,
        b.household_no, b.relation_to_head, b.building_code, b.address_key, b.current_address,
        b.community, b.subdistrict, b.population_type, b.phone_mobile
    from last_before_snapshot b
    where b.residency_status = 'resident'
      and not exists (select 1 from observations o
                      where o.person_key = b.person_key and o.load_id = b.snapshot_load_id)
),
ordered as (
    -- seq, the last known mobile's run and the effective date share one window: the delivery order
    select
        all_rows.*,
        row_number() over in_order                  as seq,
        count(phone_mobile) over in_order           as mobile_run,
        max(event_date) over in_order               as effective_date
    from (select * from observations union all select * from absences) all_rows
    window in_order as (
        partition by person_key
        order by delivery_date, (delivery_kind = 'delta'), event_date, load_id, source_row
        rows between unbounded preceding and current row
    )
),
carried as (
    -- runs of rows since the last known building (per address); the mobile's run is in ordered
    select
        ordered.*,
        count(building_code) over (partition by person_key, address_key order by seq) as building_run
    from ordered
),
filled as (
    select
        carried.*,
        first_value(building_code) over (partition by person_key, address_key, building_run order by seq)
                                                                            as building_code_filled,
        first_value(phone_mobile) over (partition by person_key, mobile_run order by seq)
                                                                            as phone_mobile_filled
    from carried
),
compared as (
    select
        filled.*,
        lag(residency_status) over w     as prev_status,
        lag(household_no) over w         as prev_household_no,
        lag(relation_to_head) over w     as prev_relation_to_head,
        lag(building_code_filled) over w as prev_building_code,
        lag(address_key) over w          as prev_address_key,
        lag(community) over w            as prev_community,
        lag(subdistrict) over w          as prev_subdistrict,
        lag(population_type) over w      as prev_population_type,
        lag(phone_mobile_filled) over w  as prev_phone_mobile,
        lag(seq) over w                  as prev_seq
    from filled
    window w as (partition by person_key order by seq)
),
changes as (
    select
        compared.*,
        array_remove(array[
            case when residency_status is distinct from prev_status then 'residency_status' end,
            case when household_no is distinct from prev_household_no then 'household_no' end,
            case when relation_to_head is distinct from prev_relation_to_head then 'relation_to_head' end,
            case when building_code_filled is distinct from prev_building_code then 'building_code' end,
            case when address_key is distinct from prev_address_key then 'current_address' end,
            case when community is distinct from prev_community then 'community' end,
            case when subdistrict is distinct from prev_subdistrict then 'subdistrict' end,
            case when population_type is distinct from prev_population_type then 'population_type' end,
            case when phone_mobile_filled is distinct from prev_phone_mobile then 'phone_mobile' end
        ], null) as changed
    from compared
),
versioned as (
    select
        changes.*,
        sum(case when prev_seq is null or cardinality(changed) > 0 then 1 else 0 end)
            over (partition by person_key order by seq) as version_no
    from changes
),
versions as (
    -- the record that opened each version, and how long the version was confirmed
    select distinct on (person_key, version_no)
        versioned.*,
        max(delivery_date) over (partition by person_key, version_no) as last_seen_date,
        count(*) over (partition by person_key, version_no)            as records
    from versioned
    order by person_key, version_no, seq
),
final as (
    select
        -- ids
        person_key,
        version_no::int                                                   as version_no,
        -- validity
        effective_date                                                    as valid_from,
        lead(effective_date) over (partition by person_key order by version_no) as valid_to,
        lead(effective_date) over (partition by person_key order by version_no) is null as is_current,
        -- what changed
        change_type,
        case when version_no = 1 then '{}'::text[] else changed end       as changed_columns,
        -- tracked attributes
        residency_status,
        household_no,
        relation_to_head,
        building_code_filled                                              as building_code,
        current_address,
        address_key,
        community,
        subdistrict,
        population_type,
        phone_mobile_filled                                               as phone_mobile,
        -- lineage
        record_ref                                                        as opened_by_record_ref,
        delivery_kind,
        delivery_date                                                     as recorded_date,
        last_seen_date,
        records::int                                                      as records
    from versions
)
select * from final;

alter table core.person_history add primary key (person_key, version_no);
create index on core.person_history (person_key) where is_current;
create index on core.person_history (valid_from);
comment on table core.person_history is '人员变动历史 — one row per person per version (SCD type 2): moves, household, residency status, mobile; valid_from/valid_to';
-- column comments: Chinese label — meaning
comment on column core.person_history.person_key is '人员键 — core.person key';
comment on column core.person_history.version_no is '版本号 — 1, 2, … in the order the versions began; key with person_key';
comment on column core.person_history.valid_from is '生效日期 — 变动日期 of the record that opened the version, else its delivery date (never before the previous version''s)';
comment on column core.person_history.valid_to is '失效日期 — the next version''s valid_from (exclusive); null while current';
comment on column core.person_history.is_current is '当前版本 — true for the person''s latest version';
comment on column core.person_history.change_type is '变动类型 — of the record that opened the version: 快照 (full snapshot), 新增, 迁入, 迁出, 死亡, 信息变更, or 不在快照 (missing from a later snapshot)';
comment on column core.person_history.changed_columns is '变动字段 — tracked attributes that differ from the previous version; empty for version 1';
comment on column core.person_history.residency_status is '居住状态 — resident | moved_out (迁出) | deceased (死亡) | not_in_register (missing from a later full snapshot)';
comment on column core.person_history.household_no is '户号 — household register number';
comment on column core.person_history.relation_to_head is '与户主关系 — relation to the head of household';
comment on column core.person_history.building_code is '楼栋编码 — building (delivered code, else by 现住址, else the last known building of the same address)';
comment on column core.person_history.current_address is '现住址 — current address as delivered by the record that opened the version (personal data)';
comment on column core.person_history.address_key is '地址键 — 现住址 normalized; a change of it is a move';
comment on column core.person_history.community is '社区 — community';
comment on column core.person_history.subdistrict is '街道 — subdistrict';
comment on column core.person_history.population_type is '人口类型 — 户籍人口 | 流动人口 | 境外人员';
comment on column core.person_history.phone_mobile is '手机号 — the mobile of 联系电话; a record without a mobile keeps the last known one (personal data)';
comment on column core.person_history.opened_by_record_ref is '开启记录 — load_id:source_row of the record that opened the version; null for 不在快照';
comment on column core.person_history.delivery_kind is '交付类型 — full | delta delivery of the opening record';
comment on column core.person_history.recorded_date is '登记日期 — delivery date of the opening record (when the warehouse learned of it)';
comment on column core.person_history.last_seen_date is '最后确认 — delivery date of the version''s latest record';
comment on column core.person_history.records is '记录数 — public-security records in this version (re-registrations and repeats included)';
