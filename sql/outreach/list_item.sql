-- outreach.list_item: merge this run's candidates (outreach.candidate, filled from rules.yaml) into the
-- standing list. Grain: one row per (person, rule) need; at most one open item per (person, rule).
-- Items are never deleted: they open, are refreshed while the need lasts, and close with a reason.
-- The run is the latest row of outreach.run; each step records its count on it.

-- 1. One need per person and vaccine: where several rules select the same person for the same
--    vaccine (an 80+ living alone is also 60+), the most urgent rule keeps them.
with ranked as (
    select person_key, rule_id,
           row_number() over (partition by person_key, vaccine_code order by priority, rule_id) as rank
    from outreach.candidate
)
delete from outreach.candidate c
using ranked
where ranked.person_key = c.person_key and ranked.rule_id = c.rule_id and ranked.rank > 1;

-- 2. Close open items the data no longer supports, saying why.
with run as (
    select run_id, as_of_date from outreach.run order by run_id desc limit 1
),
unsupported as (
    select i.item_id, i.person_key, i.rule_id, i.vaccine_code, i.doses_counted, i.last_dose_date
    from outreach.list_item i
    where i.status = 'open'
      and not exists (
          select 1 from outreach.candidate c
          where c.person_key = i.person_key and c.rule_id = i.rule_id
            and c.dose_number_due = i.dose_number_due
      )
),
reasons as (
    select
        u.item_id,
        case
            -- a dose arrived: more doses counted than when the item was last seen, or one dated later
            when coalesce(s.is_complete or s.doses_counted > u.doses_counted, false)
              or exists (select 1 from core.vaccination_dose d
                         where d.person_key = u.person_key and d.vaccine_code = u.vaccine_code
                           and d.vaccinated_date > coalesce(u.last_dose_date, '-infinity'::date))
                then 'need_met'
            when r.rule_id is null or not r.enabled then 'rule_retired'
            when exists (select 1 from outreach.candidate c
                         where c.person_key = u.person_key and c.vaccine_code = u.vaccine_code)
                then 'superseded'
            else 'no_longer_eligible'
        end as closed_reason
    from unsupported u
    left join core.vaccination_status s using (person_key, vaccine_code)
    left join outreach.rule r on r.rule_id = u.rule_id
),
closed as (
    update outreach.list_item i
    set status = 'closed', closed_reason = reasons.closed_reason, closed_run_id = run.run_id,
        closed_at = now(), updated_at = now()
    from reasons, run
    where i.item_id = reasons.item_id
    returning i.item_id
)
update outreach.run set items_closed = (select count(*) from closed)
where run_id = (select run_id from run);

-- 3. Who and where, for every candidate: the golden record, the household's other phones, the grid.
create temporary table outreach_candidate_detail on commit drop as
with run as (
    select run_id, as_of_date from outreach.run order by run_id desc limit 1
),
household_phones as (
    -- other residents of the household, working-age adults first: a child's entry must reach a
    -- parent, an old person's a son or daughter. Ties go by the number itself, not by person_key,
    -- whose order depends on the order deliveries were loaded in.
    select c.person_key,
           array_agg(o.phone_primary order by (o.age_years between 18 and 64) desc nulls last,
                     o.age_years desc nulls last, o.phone_primary) as phones
    from outreach.candidate c
    join core.person p on p.person_key = c.person_key
    join core.person o on o.household_no = p.household_no and o.person_key <> p.person_key
    where o.residency_status = 'resident' and o.phone_primary is not null
    group by c.person_key
),
final as (
    select
        -- ids
        c.person_key,
        c.rule_id,
        c.vaccine_code,
        c.dose_number_due,
        c.priority,
        c.reason,
        -- who and where
        p.name,
        p.id_number,
        p.sex,
        p.age_years,
        -- own phone first, then up to two more from the household, no repeats
        (select coalesce(array_agg(phone order by first_position), '{}')
         from (select phone, min(position) as first_position
               from unnest(array[p.phone_primary] || coalesce(hp.phones[1:2], '{}')) with ordinality as u(phone, position)
               where phone is not null
               group by phone) numbers)               as phones,
        p.household_no,
        p.building_code,
        b.address                                     as building_address,
        p.community,
        p.grid_code,
        g.grid_worker_name,
        g.grid_worker_phone,
        -- the need
        c.doses_counted,
        c.last_dose_date,
        c.due_date,
        (run.as_of_date - c.due_date)                 as days_overdue,
        -- lineage
        run.run_id,
        run.as_of_date
    from outreach.candidate c
    cross join run
    join core.person p on p.person_key = c.person_key
    left join household_phones hp on hp.person_key = c.person_key
    left join core.building b on b.building_code = p.building_code
    left join core.grid g on g.grid_code = p.grid_code
)
select * from final;

-- 4. Refresh the open items the run still supports (grid, phones and days overdue change). Rows
--    with nothing new are left alone: a rerun for the same date writes nothing (600,000 needless
--    row versions cost most of a rerun at a million persons).
with refreshed as (
    update outreach.list_item i
    set priority = d.priority, reason = d.reason, name = d.name, id_number = d.id_number, sex = d.sex,
        age_years = d.age_years, phones = d.phones, household_no = d.household_no,
        building_code = d.building_code, building_address = d.building_address, community = d.community,
        grid_code = d.grid_code, grid_worker_name = d.grid_worker_name, grid_worker_phone = d.grid_worker_phone,
        doses_counted = d.doses_counted, last_dose_date = d.last_dose_date, due_date = d.due_date,
        days_overdue = d.days_overdue, last_seen_run_id = d.run_id, updated_at = now()
    from outreach_candidate_detail d
    where i.status = 'open' and i.person_key = d.person_key and i.rule_id = d.rule_id
      and (i.priority, i.reason, i.name, i.id_number, i.sex, i.age_years, i.phones, i.household_no,
           i.building_code, i.building_address, i.community, i.grid_code, i.grid_worker_name,
           i.grid_worker_phone, i.doses_counted, i.last_dose_date, i.due_date, i.days_overdue)
          is distinct from
          (d.priority, d.reason, d.name, d.id_number, d.sex, d.age_years, d.phones, d.household_no,
           d.building_code, d.building_address, d.community, d.grid_code, d.grid_worker_name,
           d.grid_worker_phone, d.doses_counted, d.last_dose_date, d.due_date, d.days_overdue)
    returning i.item_id, d.run_id
)
update outreach.run set items_refreshed = (select count(*) from refreshed)
where run_id = (select run_id from outreach.run order by run_id desc limit 1);

-- 5. Open an item for every new need: not already open, not held back by a staff outcome
--    (suppress_until), and not a person staff reported gone (an active outreach.person_signal).
with opened as (
    insert into outreach.list_item (
        person_key, rule_id, vaccine_code, dose_number_due, priority, reason,
        name, id_number, sex, age_years, phones, household_no, building_code, building_address,
        community, grid_code, grid_worker_name, grid_worker_phone,
        doses_counted, last_dose_date, due_date, days_overdue,
        opened_run_id, last_seen_run_id, opened_as_of)
    select
        d.person_key, d.rule_id, d.vaccine_code, d.dose_number_due, d.priority, d.reason,
        d.name, d.id_number, d.sex, d.age_years, d.phones, d.household_no, d.building_code, d.building_address,
        d.community, d.grid_code, d.grid_worker_name, d.grid_worker_phone,
        d.doses_counted, d.last_dose_date, d.due_date, d.days_overdue,
        d.run_id, d.run_id, d.as_of_date
    from outreach_candidate_detail d
    where not exists (select 1 from outreach.list_item i
                      where i.person_key = d.person_key and i.rule_id = d.rule_id
                        and (i.status = 'open' or i.suppress_until > d.as_of_date))
      and not exists (select 1 from outreach.person_signal s
                      where s.person_key = d.person_key and s.active)
    returning item_id
)
update outreach.run
set items_opened = (select count(*) from opened),
    candidates = (select count(*) from outreach.candidate),
    items_open_after = (select count(*) from outreach.list_item where status = 'open')
                       + (select count(*) from opened),
    finished_at = clock_timestamp()
where run_id = (select run_id from outreach.run order by run_id desc limit 1);
