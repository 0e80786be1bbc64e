-- The staging gate checks each new load on its own rows (where load_id = N). Vaccination records are
-- keyed by record_id, so without this index every expectation of a daily pull scanned all of them
-- (3.4 million at a city of a million) to find the day's few thousand.
create index stg_health__vaccination_record_load_id on staging.stg_health__vaccination_record (load_id);
