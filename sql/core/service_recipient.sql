-- core.service_recipient: people civil affairs looks after, linked to persons.
-- Grain: one row per recipient_id (a person can be in several categories).
drop table if exists core.service_recipient;
create table core.service_recipient as
with recipients as (
    select r.*, l.person_key
    from staging.stg_civil_affairs__service_recipient r
    join core.person_link l on l.source = 'civil_affairs.service_recipients' and l.record_ref = r.recipient_id
),
final as (
    select
        recipient_id,
        person_key,
        category,
        community,
        valid_from,
        valid_to,
        (valid_from is null or valid_from <= a.as_of_date)
            and (valid_to is null or valid_to >= a.as_of_date) as is_current
    from recipients
    cross join core.as_of a
)
select * from final;
alter table core.service_recipient add primary key (recipient_id);
comment on table core.service_recipient is '服务对象 — one row per civil-affairs recipient record: category and validity, linked to a person';
-- column comments: Chinese label — meaning
comment on column core.service_recipient.recipient_id is '服务对象编号 — civil-affairs recipient record id; key';
comment on column core.service_recipient.person_key is '人员键 — the person the record names (core.person)';
comment on column core.service_recipient.category is '类别 — 特困人员 | 低保 | 残疾人 | 高龄独居 | 困境儿童';
comment on column core.service_recipient.community is '社区 — community as civil affairs recorded it';
comment on column core.service_recipient.valid_from is '有效期起 — first day the entitlement applies';
comment on column core.service_recipient.valid_to is '有效期止 — last day it applies; null while current';
comment on column core.service_recipient.is_current is '是否有效 — valid at core.as_of';
