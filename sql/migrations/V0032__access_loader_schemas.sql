-- cdw_loader may use every layer's schema from the moment it owns tables in them (V0031).
-- Why: foreign-key checks run as the owner of the referenced table. Once cdw_loader owns
-- outreach.list_item, inserting an outreach.feedback row checks list_item as cdw_loader, which needs
-- USAGE on schema outreach. sql/access/grants.sql grants the same after every build; this covers a
-- warehouse between its migration and its first build (and tests that never build).
-- No percent sign in this file: the migration runner hands it to the driver as a parameterised statement.
grant usage, create on schema raw, staging, quarantine, core, mart, outreach, audit, review to cdw_loader;
