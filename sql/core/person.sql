-- core.person: the golden record of every resolved person, whichever department knows them.
-- Grain: one row per person_key.
-- Survivorship (documented in README): name and ID number from public security when it knows the
-- person, else the most recent record with a valid ID; birth date and sex from the valid ID number,
-- else the most recent stated value; phone: the most recently seen valid mobile, else any phone.
-- Built in one pass: every record of a person goes through one aggregation, and each survivorship
-- rule picks its record with max() over an array that starts with the rule's sort key and ends with
-- the values to keep (array comparison is element by element, a null above any value, exactly as
-- ORDER BY … DESC NULLS FIRST ranks it): flags as '0'/'1', dates as YYYYMMDD, then record_ref.
-- Memory for the aggregation; the transaction's later files keep it too (core is built in one).
set local work_mem = '256MB';
-- The computed record_ref join has no statistics, so the planner expects a few hundred people and
-- would probe core.resident and core.building by index a million times: hash joins instead.
set local enable_nestloop = off;
drop table if exists core.person;
create table core.person as
with records as (
    select l.person_key, r.*
    from core.person_link l
    join core.person_record r using (source, record_ref)
),
picked as (
    select
        person_key,
        -- identity: public security first, then a valid ID, then the most recent record
        max(array[(source = 'public_security.residents')::int::text, id_valid::int::text,
                  to_char(seen_date, 'YYYYMMDD'), record_ref,
                  name, name_pinyin, id_number, id_valid::text])                        as identity,
        -- birth date and sex: a valid ID first, then a stated birth date, then the most recent
        max(array[id_valid::int::text, (birth_date is not null)::int::text, to_char(seen_date, 'YYYYMMDD'), record_ref,
                  (case when id_valid then to_date(substr(id_number, 7, 8), 'YYYYMMDD') else birth_date end)::text,
                  case when id_valid then case when substr(id_number, 17, 1)::int % 2 = 1 then 'M' else 'F' end
                       else sex end])                                                   as birth_and_sex,
        -- phone: a valid mobile first, then the most recent
        max(array[(phone_primary ~ '^1[3-9][0-9]{9}$')::int::text, to_char(seen_date, 'YYYYMMDD'), record_ref,
                  phone_primary]) filter (where phone_primary is not null)              as mobile,
        array_agg(distinct source order by source)                                      as known_to
    from records
    group by person_key
),
final as (
    select
        -- ids
        p.person_key,
        p.identity[7]                  as id_number,
        p.identity[8]::boolean         as id_valid,
        -- attributes
        p.identity[5]                  as name,
        p.identity[6]                  as name_pinyin,
        p.birth_and_sex[5]::date       as birth_date,
        p.birth_and_sex[6]             as sex,
        p.mobile[4]                    as phone_primary,
        -- age at the build's logical date
        extract(year from age(a.as_of_date, p.birth_and_sex[5]::date))::int as age_years,
        -- residency
        coalesce(r.residency_status, 'not_in_register') as residency_status,
        r.household_no,
        r.building_code,
        b.grid_code,
        r.community,
        r.subdistrict,
        r.population_type,
        -- lineage
        p.known_to
    from picked p
    left join core.resident r using (person_key)
    left join core.building b on b.building_code = r.building_code
    cross join core.as_of a
)
select * from final;
reset enable_nestloop;

alter table core.person add primary key (person_key);
create index on core.person (id_number);
comment on table core.person is '人员 (黄金记录) — one row per resolved person, from every department that knows them';
-- column comments: Chinese label — meaning
comment on column core.person.person_key is '人员键 — the warehouse''s stable person key (core.person_link); key';
comment on column core.person.id_number is '公民身份号码 — canonical 18-character ID number (personal data)';
comment on column core.person.id_valid is '号码有效 — the ID number passes the GB 11643 check';
comment on column core.person.name is '姓名 — standardized name (simplified characters, no stray spaces; personal data)';
comment on column core.person.name_pinyin is '姓名拼音 — name in pinyin, for matching';
comment on column core.person.birth_date is '出生日期 — from the valid ID number, else the latest stated birth date';
comment on column core.person.sex is '性别 — M | F, from the valid ID number, else the latest stated sex';
comment on column core.person.phone_primary is '联系电话 — the most recently seen valid mobile, else any phone (personal data)';
comment on column core.person.age_years is '年龄 — whole years at core.as_of (the build''s logical date)';
comment on column core.person.residency_status is '居住状态 — resident | moved_out (迁出) | deceased (死亡) | not_in_register (no current public-security record)';
comment on column core.person.household_no is '户号 — household register number (core.resident)';
comment on column core.person.building_code is '楼栋编码 — building the person lives in (core.resident; by code or address)';
comment on column core.person.grid_code is '网格编码 — grid of the building (point in polygon, core.building)';
comment on column core.person.community is '社区 — community as public security recorded it';
comment on column core.person.subdistrict is '街道 — subdistrict as public security recorded it';
comment on column core.person.population_type is '人口类型 — 户籍人口 (registered) | 流动人口 (floating) | 境外人员 (foreign)';
comment on column core.person.known_to is '来源 — the sources holding at least one record of this person';
