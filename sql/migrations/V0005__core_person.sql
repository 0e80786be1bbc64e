-- Person resolution bookkeeping: stable person keys and the auditable link of every record to one.

create sequence core.person_key_seq;

create table core.person_id_number (
    id_number     text primary key,
    person_key    bigint not null,
    first_seen_at timestamptz not null default now()
);
comment on table core.person_id_number is '身份证号登记 — one row per valid ID number ever linked; the anchor that keeps person keys stable';

create table core.person_link (
    source        text not null,
    record_ref    text not null,
    person_key    bigint not null,
    method        text not null,
    score         double precision,
    rule_version  text not null,
    linked_at     timestamptz not null default now(),
    primary key (source, record_ref)
);
comment on table core.person_link is '人员关联 — one row per person-bearing source record: which person it is, and what decided it';
comment on column core.person_link.record_ref is 'load_id:source_row for file deliveries, the source record id for database and API sources';
comment on column core.person_link.method is 'id_number | name_birth_date | probabilistic | new_person | review_decision';
create index person_link_person_idx on core.person_link (person_key);

create table core.person_link_history (
    source        text not null,
    record_ref    text not null,
    old_person_key bigint,
    new_person_key bigint,
    method        text not null,
    reason        text,
    changed_at    timestamptz not null default now()
);
comment on table core.person_link_history is '关联变更 — every merge, split or relink of a record, never silent';

create table review.person_match (
    match_id      bigserial primary key,
    source        text not null,
    record_ref    text not null,
    candidate_person_key bigint not null,
    match_probability double precision not null,
    evidence      jsonb,
    created_at    timestamptz not null default now(),
    decision      text check (decision in ('same_person', 'different_person')),
    decided_by    text,
    decided_at    timestamptz,
    applied_at    timestamptz,
    unique (source, record_ref, candidate_person_key)
);
comment on table review.person_match is '待复核匹配 — candidate pairs between the thresholds, waiting for a reviewer; decisions apply on the next run';
