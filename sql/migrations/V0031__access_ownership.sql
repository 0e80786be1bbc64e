-- Ownership of the access layer by cdw_loader, so that whichever login runs the pipeline (a member of
-- cdw_loader in production, a superuser in development) can run the access step after every build:
-- refreshing published.* and access.person_contact, and (re)creating the row-level-security policies,
-- which only a table's owner may do. outreach.list_item is included for its policies; with FORCE ROW
-- LEVEL SECURITY its owner is subject to them too, and the loader_all policy gives cdw_loader every row.
-- The staff read functions stay owned by cdw_access_broker (sql/access/protect_community_table.sql).
-- No percent sign in this file: the migration runner hands it to the driver as a parameterised statement.
alter schema published owner to cdw_loader;
alter schema access owner to cdw_loader;

alter table access.pseudonym_key owner to cdw_loader;
alter table access.staff_community owner to cdw_loader;
alter table access.person_contact owner to cdw_loader;
alter table audit.access_log owner to cdw_loader;
alter table published.public_security__resident owner to cdw_loader;
alter table published.health__vaccination_status owner to cdw_loader;
alter table published.civil_affairs__service_recipient owner to cdw_loader;
alter table published.grid__resident owner to cdw_loader;

alter function access.pseudonym(bigint, text) owner to cdw_loader;
alter function access.mask_id_number(text) owner to cdw_loader;
alter function access.mask_phone(text) owner to cdw_loader;

do $owners$
begin
    if to_regclass('outreach.list_item') is not null then
        alter table outreach.list_item owner to cdw_loader;
    end if;
end
$owners$;
