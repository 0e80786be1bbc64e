-- Row-level security and the logged staff read function access.read_outreach_list(grid_code) on
-- outreach.list_item: staff see the items of their own communities only, and only through the function
-- (the ID number comes back masked). list_item is stateful (merged, never dropped), so this is applied
-- once per build only to stay right when its columns change; it is a no-op where the table does not exist.
do $protect$
begin
    if to_regclass('outreach.list_item') is not null then
        perform access.protect_community_table('outreach.list_item', 'read_outreach_list');
    end if;
end
$protect$;
select count(*) from pg_proc where pronamespace = 'access'::regnamespace and proname = 'read_outreach_list';
