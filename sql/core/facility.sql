-- core.facility: civil-affairs facilities with usable locations. Grain: one row per facility_id.
drop table if exists core.facility;
create table core.facility as
with facilities as (
    select * from staging.stg_civil_affairs__facility
),
final as (
    select
        -- ids
        facility_id,
        -- attributes
        name,
        category,
        status,
        status = '运营'               as is_open,
        capacity,
        address,
        community,
        subdistrict,
        -- location (null where the source gave none or zero)
        longitude,
        latitude,
        coord_issue,
        -- lineage
        updated_at
    from facilities
)
select * from final;
alter table core.facility add primary key (facility_id);
comment on table core.facility is '服务设施 — one row per facility: category, status (运营/停业/筹建), location, capacity';
