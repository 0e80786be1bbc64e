-- staging.public_security_snapshot: the register's full snapshots, one row per snapshot load.
-- core.resident and core.person_history ask it which snapshot is the latest and which came before; a
-- scoped core build (core_build.py) runs those files over only some persons' staged rows, and the
-- register's snapshots must still be all of them.
create view staging.public_security_snapshot as
select delivery_date, load_id, count(*) as rows_staged
from staging.stg_public_security__resident
where delivery_kind = 'full'
group by delivery_date, load_id;
comment on view staging.public_security_snapshot is
    '公安全量快照 — one row per full snapshot load of the resident register: its delivery date, load and staged rows';
comment on column staging.public_security_snapshot.delivery_date is '交付日期 — the day the snapshot is for (its file name''s date)';
comment on column staging.public_security_snapshot.load_id is '加载批次 — audit.load_run of the snapshot';
comment on column staging.public_security_snapshot.rows_staged is '入库行数 — the snapshot''s rows in staging (quarantined rows not counted)';
