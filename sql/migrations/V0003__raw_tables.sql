-- Raw layer: every delivered row exactly as it arrived (all text), with its load and source row.
-- Columns are the canonical names from the delivery's mapping file (plugins/community_dw/sources/mappings/);
-- headers the mapping does not know are kept in `extra` and reported as schema drift.

create table raw.public_security__resident (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    name                 text,
    id_type              text,
    id_number            text,
    sex                  text,
    ethnicity            text,
    birth_date           text,
    phone                text,
    household_no         text,
    relation_to_head     text,
    registered_address   text,
    current_address      text,
    building_code        text,
    population_type      text,
    residence_permit_no  text,
    subdistrict          text,
    community            text,
    change_type          text,
    change_date          text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.public_security__resident is '公安 人口信息 — one row per row of a residents_full/residents_delta delivery, as delivered';
comment on column raw.public_security__resident.source_row is '源文件行号 — physical row in the delivered file (Excel row number for xlsx)';
comment on column raw.public_security__resident.name is '姓名';
comment on column raw.public_security__resident.id_type is '证件类型';
comment on column raw.public_security__resident.id_number is '公民身份号码';
comment on column raw.public_security__resident.sex is '性别';
comment on column raw.public_security__resident.ethnicity is '民族';
comment on column raw.public_security__resident.birth_date is '出生日期';
comment on column raw.public_security__resident.phone is '联系电话';
comment on column raw.public_security__resident.household_no is '户号';
comment on column raw.public_security__resident.relation_to_head is '与户主关系';
comment on column raw.public_security__resident.registered_address is '户籍地址';
comment on column raw.public_security__resident.current_address is '现住址';
comment on column raw.public_security__resident.building_code is '楼栋编码';
comment on column raw.public_security__resident.population_type is '人口类型';
comment on column raw.public_security__resident.residence_permit_no is '居住证号';
comment on column raw.public_security__resident.subdistrict is '街道';
comment on column raw.public_security__resident.community is '社区';
comment on column raw.public_security__resident.change_type is '变动类型 (delta files only)';
comment on column raw.public_security__resident.change_date is '变动日期 (delta files only)';
comment on column raw.public_security__resident.extra is '未知列 — headers the mapping does not know, {header: value}';

create table raw.health__vaccination_record (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    record_id            text not null,
    recipient_name       text,
    id_type              text,
    id_number            text,
    birth_date           text,
    sex                  text,
    phone                text,
    vaccine_code         text,
    vaccine_name         text,
    dose_number          text,
    vaccinated_at        text,
    site_name            text,
    manufacturer         text,
    batch_no             text,
    updated_at           text,
    is_deleted           text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.health__vaccination_record is '卫健 预防接种记录 — one row per vaccination_record row pulled, per incremental pull';

create table raw.civil_affairs__facility (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    facility_id          text,
    name                 text,
    category             text,
    address              text,
    longitude            text,
    latitude             text,
    capacity             text,
    status               text,
    community            text,
    subdistrict          text,
    updated_at           text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.civil_affairs__facility is '民政 服务设施 — one row per facility record received from the API, per pull';

create table raw.civil_affairs__service_recipient (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    recipient_id         text,
    name                 text,
    id_number            text,
    category             text,
    community            text,
    valid_from           text,
    valid_to             text,
    updated_at           text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.civil_affairs__service_recipient is '民政 服务对象 — one row per service-recipient record received from the API, per pull';

create table raw.grid__grid (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    grid_code            text,
    grid_name            text,
    community            text,
    subdistrict          text,
    grid_worker_name     text,
    grid_worker_phone    text,
    grid_leader_name     text,
    geometry_wkt         text,
    geometry_issue       text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.grid__grid is '综治 网格 — one row per GeoJSON feature; source_row is the feature number (1-based)';

create table raw.grid__building (
    load_id              bigint not null references audit.load_run (load_id),
    source_row           bigint not null,
    building_code        text,
    address              text,
    longitude            text,
    latitude             text,
    registered_grid_code text,
    building_head_name   text,
    building_head_phone  text,
    household_count      text,
    extra                jsonb,
    primary key (load_id, source_row)
);
comment on table raw.grid__building is '综治 楼栋 — one row per building row of the buildings workbook (Excel row number)';
