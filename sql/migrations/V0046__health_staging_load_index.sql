-- The health staging suite is gated per pull (expectations/staging.stg_health__vaccination_record.json):
-- the gate reads one pull's rows (`where load_id = …`), and finds the pulls not yet gated by probing each
-- load, both through this index instead of a scan of every staged vaccination record.
create index stg_health__vaccination_record_load_idx on staging.stg_health__vaccination_record (load_id);
