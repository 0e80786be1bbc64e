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
-- nearest-facility searches (mart.facility_access): KNN and within-a-circle over open, located facilities
create index facility_open_location on core.facility using gist (point(longitude, latitude))
    where is_open and longitude is not null and latitude is not null;
analyze core.facility;
comment on table core.facility is '服务设施 — one row per facility: category, status (运营/停业/筹建), location, capacity';
-- column comments: Chinese label — meaning
comment on column core.facility.facility_id is '设施编号 — civil-affairs facility id (e.g. MZ-442000-000123); key';
comment on column core.facility.name is '设施名称 — facility name';
comment on column core.facility.category is '类别 — 养老服务 | 儿童关爱 | 医疗卫生 | 文化体育 | 党群服务 | 便民服务';
comment on column core.facility.status is '状态 — 运营 (open) | 停业 (closed) | 筹建 (planned)';
comment on column core.facility.is_open is '是否运营 — true when status = 运营';
comment on column core.facility.capacity is '床位/座位数 — beds or seats; null when the source gave none';
comment on column core.facility.address is '地址 — address as civil affairs recorded it';
comment on column core.facility.community is '社区 — community';
comment on column core.facility.subdistrict is '街道 — subdistrict';
comment on column core.facility.longitude is '经度 — WGS-84 degrees; null where the source gave 0 or nothing';
comment on column core.facility.latitude is '纬度 — WGS-84 degrees; null where the source gave 0 or nothing';
comment on column core.facility.coord_issue is '坐标问题 — what standardize found (e.g. swapped_fixed, zero); null = none';
comment on column core.facility.updated_at is '更新时间 — the source''s updated_at of the version kept';
