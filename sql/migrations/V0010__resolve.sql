-- Probabilistic person resolution: the trained match model, and reviewers' corrections of links.

create table core.person_match_model (
    settings_version  text primary key,
    settings_name     text not null,
    model             jsonb not null,
    trained_records   bigint not null,
    trained_at        timestamptz not null default now()
);
comment on table core.person_match_model is '匹配模型 — one row per settings file version: the Splink model (m/u parameters) trained by EM once, reused by every run';
comment on column core.person_match_model.settings_version is 'settings file name @ first 12 hex of its SHA-256, as stamped in core.person_link.rule_version';

create table review.person_link_correction (
    correction_id     bigserial primary key,
    source            text not null,
    record_ref        text not null,
    action            text not null check (action in ('break', 'revert_break')),
    reason            text,
    decided_by        text,
    decided_at        timestamptz not null default now(),
    applied_at        timestamptz,
    old_person_key    bigint,
    new_person_key    bigint
);
comment on table review.person_link_correction is '关联更正 — a reviewer breaks a wrong link (the record becomes a person of its own) or reverts a break (back to the person it had); applied on the next run';
comment on column review.person_link_correction.old_person_key is 'set when applied: the key the record had before this correction';
comment on column review.person_link_correction.new_person_key is 'set when applied: the key the record has after it';
create index person_link_correction_pending_idx on review.person_link_correction (correction_id) where applied_at is null;

-- The review queue's decided-but-not-applied rows are read by every run.
create index person_match_pending_idx on review.person_match (match_id) where decision is not null and applied_at is null;
