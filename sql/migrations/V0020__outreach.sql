-- Outreach: the rules in force, each list-building run, the items staff act on, what they report back
-- (raw, quarantined, applied) and the signals it leaves on a person. list_item is stateful (items
-- open, refresh and close across runs), so it is created here and merged by sql/outreach/list_item.sql.

create table outreach.rule (
    rule_id             text primary key,
    reason              text not null,
    priority            integer not null,
    vaccine_code        text not null,
    definition          jsonb not null,
    predicate_sql       text not null,
    enabled             boolean not null default true,
    loaded_at           timestamptz not null default now()
);
comment on table outreach.rule is '走访规则 — one row per rule ever configured (plugins/community_dw/outreach/rules.yaml); disabled when removed';
comment on column outreach.rule.predicate_sql is 'the SQL the rule compiled to (parameters bound separately), for review';

create table outreach.run (
    run_id              bigserial primary key,
    as_of_date          date not null,
    rules_hash          text not null,
    started_at          timestamptz not null default clock_timestamp(),
    finished_at         timestamptz,
    candidates          bigint,
    items_opened        bigint,
    items_refreshed     bigint,
    items_closed        bigint,
    items_open_after    bigint
);
comment on table outreach.run is '名单生成 — one row per list-building run: the as-of date, the rules used and what changed';

create unlogged table outreach.candidate (
    run_id              bigint not null,
    rule_id             text not null,
    priority            integer not null,
    reason              text not null,
    person_key          bigint not null,
    vaccine_code        text not null,
    dose_number_due     integer not null,
    doses_counted       integer not null,
    last_dose_date      date,
    due_date            date not null,
    primary key (person_key, rule_id)
);
comment on table outreach.candidate is '候选 — scratch: who the rules select in the current run (rebuilt every run; unlogged)';

create table outreach.list_item (
    item_id             bigserial primary key,
    person_key          bigint not null,
    rule_id             text not null references outreach.rule (rule_id),
    vaccine_code        text not null,
    dose_number_due     integer not null,
    priority            integer not null,
    reason              text not null,
    -- who and where (refreshed every run while open)
    name                text,
    id_number           text,
    sex                 text,
    age_years           integer,
    phones              text[] not null default '{}',
    household_no        text,
    building_code       text,
    building_address    text,
    community           text,
    grid_code           text,
    grid_worker_name    text,
    grid_worker_phone   text,
    -- the need
    doses_counted       integer not null,
    last_dose_date      date,
    due_date            date not null,
    days_overdue        integer not null,
    -- status
    status              text not null default 'open' check (status in ('open', 'closed')),
    closed_reason       text check (closed_reason in ('need_met', 'no_longer_eligible', 'rule_retired', 'superseded',
                                                      'vaccinated_reported', 'refused', 'moved_away',
                                                      'deceased')),
    last_outcome        text,
    last_outcome_at     timestamptz,
    suppress_until      date,
    -- lineage
    opened_run_id       bigint not null references outreach.run (run_id),
    last_seen_run_id    bigint not null references outreach.run (run_id),
    closed_run_id       bigint references outreach.run (run_id),
    closed_load_id      bigint references audit.load_run (load_id),
    opened_as_of        date not null,
    opened_at           timestamptz not null default now(),
    closed_at           timestamptz,
    updated_at          timestamptz not null default now(),
    constraint list_item_closed_has_reason check ((status = 'closed') = (closed_reason is not null))
);
comment on table outreach.list_item is '走访名单条目 — one row per (person, rule) need, from the run that found it until the data or staff close it';
comment on column outreach.list_item.dose_number_due is 'the dose the person is missing (1 = first dose; seasonal vaccines: 1 = this season)';
comment on column outreach.list_item.due_date is 'when that dose fell due: catalogue minimum interval after the previous dose; first dose: when eligibility began; seasonal: season start';
comment on column outreach.list_item.days_overdue is 'as-of date minus due_date, at the last run that saw the item open';
comment on column outreach.list_item.phones is 'numbers to call: the person''s own, then other residents of the household';
comment on column outreach.list_item.suppress_until is 'a staff outcome (e.g. 拒绝) keeps the rule from listing the person again until this date';
-- The promise "a person already on an open item for the rule is not listed again", enforced.
create unique index list_item_one_open on outreach.list_item (person_key, rule_id) where status = 'open';
create index list_item_person_idx on outreach.list_item (person_key);
create index list_item_open_grid_idx on outreach.list_item (grid_code) where status = 'open';

create table outreach.person_signal (
    signal_id           bigserial primary key,
    person_key          bigint not null,
    signal              text not null check (signal in ('moved_away', 'deceased')),
    active              boolean not null default true,
    item_id             bigint references outreach.list_item (item_id),
    load_id             bigint references audit.load_run (load_id),
    source_row          bigint,
    reported_at         timestamptz not null default now()
);
comment on table outreach.person_signal is '人员信号 — what staff reported about a person (已搬离, 已故); an active signal keeps them off every list';
create unique index person_signal_one_active on outreach.person_signal (person_key, signal) where active;

create table raw.outreach__feedback (
    load_id             bigint not null references audit.load_run (load_id),
    source_row          bigint not null,
    item_id             text,
    priority            text,
    reason              text,
    name                text,
    id_number_masked    text,
    sex                 text,
    age                 text,
    phones              text,
    household_no        text,
    building            text,
    address             text,
    vaccine             text,
    dose_due            text,
    due_date            text,
    days_overdue        text,
    grid_code           text,
    grid_worker         text,
    outcome             text,
    contact_date        text,
    note                text,
    extra               jsonb,
    primary key (load_id, source_row)
);
comment on table raw.outreach__feedback is '走访反馈 — one row per row of a returned outreach list (XLSX/CSV), as returned';
comment on column raw.outreach__feedback.item_id is '编号';
comment on column raw.outreach__feedback.outcome is '走访结果';
comment on column raw.outreach__feedback.contact_date is '回访日期';
comment on column raw.outreach__feedback.note is '备注';

create table quarantine.outreach__feedback (
    load_id             bigint not null,
    source_row          bigint not null,
    reason_code         text not null,
    reason_detail       text,
    record              jsonb not null,
    quarantined_at      timestamptz not null default now(),
    primary key (load_id, source_row)
);
comment on table quarantine.outreach__feedback is '走访反馈 隔离 — returned rows that could not be applied (unknown outcome, unknown item id), with why';

create table outreach.feedback (
    feedback_id         bigserial primary key,
    load_id             bigint not null references audit.load_run (load_id),
    source_row          bigint not null,
    item_id             bigint not null references outreach.list_item (item_id),
    outcome             text not null,
    outcome_code        text not null,
    contact_date        date,
    note                text,
    effect              text not null check (effect in ('closed', 'kept_open', 'item_already_closed')),
    recorded_at         timestamptz not null default now(),
    unique (load_id, source_row)
);
comment on table outreach.feedback is '反馈记录 — one row per applied outcome staff reported: the history behind each item''s status';
create index feedback_item_idx on outreach.feedback (item_id);
