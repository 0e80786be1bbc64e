-- core.resident: where each person stands in the resident register as of the latest delivery.
-- Grain: one row per person who appears in the latest full snapshot or any delta after it.
-- The latest event wins: a snapshot row, 新增/迁入/信息变更 keep the person resident; 迁出 and 死亡
-- end residency (the row stays, with its status, so moves and deaths are visible, not dropped).
-- Memory for the sorts and hashes of a million people (for the rest of the transaction).
set local work_mem = '256MB';
drop table if exists core.resident;
create table core.resident as
with unique_addresses as (
    -- a building address that names exactly one building can place a resident without a code
    select address_key, min(building_code) as building_code
    from core.building
    where address_key is not null
    group by address_key
    having count(*) = 1
),
linked as (
    -- placed before the latest record is picked: joining every row keeps the planner on a hash join
    -- (after the recency filter it estimates a handful of rows and loops over the building register)
    select s.*, l.person_key, unique_addresses.building_code as address_building_code
    from staging.stg_public_security__resident s
    join core.person_link l
      on l.source = 'public_security.residents' and l.record_ref = s.load_id || ':' || s.source_row
    -- 现住址 names the flat (…号1栋604房); the register names the building (…号1栋): drop the room.
    -- Only a blank code is placed by address, so only those rows pay for the regular expression.
    left join unique_addresses
      on unique_addresses.address_key
         = case when s.building_code is null then regexp_replace(s.address_key, '[0-9]+(房|室)$', '') end
),
latest_snapshot as (
    -- the register's own latest snapshot, not the latest among the rows read here: a scoped build
    -- (core_build.py) reads only the staged rows of the persons it rebuilds
    select max(delivery_date) as snapshot_date from staging.public_security_snapshot
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
        coalesce(events.building_code, events.address_building_code) as building_code,
        case when events.building_code is not null then 'building_code'
             when events.address_building_code is not null then 'address'
        end                                      as placed_by,
        current_address,
        events.address_key,
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
-- column comments: Chinese label — meaning
comment on column core.resident.person_key is '人员键 — core.person key; key';
comment on column core.resident.record_ref is '记录引用 — load_id:source_row of the public-security record that set this status';
comment on column core.resident.residency_status is '居住状态 — resident | moved_out (迁出) | deceased (死亡)';
comment on column core.resident.status_date is '状态日期 — 变动日期 of the record, else its delivery date';
comment on column core.resident.household_no is '户号 — household register number';
comment on column core.resident.relation_to_head is '与户主关系 — relation to the head of household (户主, 配偶, 子 …)';
comment on column core.resident.building_code is '楼栋编码 — building: the delivered code, else the building whose address matches 现住址';
comment on column core.resident.placed_by is '定位方式 — how the building was found: building_code (楼栋编码) or address (现住址 matched to 楼栋地址); null = not placed';
comment on column core.resident.current_address is '现住址 — current address as delivered (personal data)';
comment on column core.resident.address_key is '地址键 — 现住址 normalized for matching (province/city prefix and spacing removed)';
comment on column core.resident.population_type is '人口类型 — 户籍人口 | 流动人口 | 境外人员';
comment on column core.resident.residence_permit_no is '居住证号 — residence permit number (floating population only; personal data)';
comment on column core.resident.community is '社区 — community';
comment on column core.resident.subdistrict is '街道 — subdistrict';
comment on column core.resident.delivery_kind is '交付类型 — full (monthly snapshot) | delta (daily changes) that carried the record';
comment on column core.resident.delivery_date is '交付日期 — date of the delivery that carried the record';
