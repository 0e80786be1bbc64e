-- A delivered 出生日期 that cannot be read (e.g. '不详') was dropped without a trace: staging took the
-- birth date from the ID number, or left it blank, and nothing said the source had sent text. The row
-- stays usable (the person is in the register); the issue is kept beside it and the staging gate warns.
alter table staging.stg_public_security__resident add column birth_date_issue text;
comment on column staging.stg_public_security__resident.birth_date_issue is
    '出生日期问题 — why the delivered birth date was not used (unparseable, bad_date, out_of_range); birth_date then comes from a valid ID number, or is blank';
