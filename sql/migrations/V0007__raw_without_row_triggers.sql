-- Raw tables are written only by the loader, in the same transaction that records their load in
-- audit.load_run, so the foreign key adds nothing but a per-row trigger: it halved COPY speed
-- (bench/bench_ingest.py). The load_id stays indexed by the primary key.
alter table raw.public_security__resident drop constraint if exists public_security__resident_load_id_fkey;
alter table raw.health__vaccination_record drop constraint if exists health__vaccination_record_load_id_fkey;
alter table raw.civil_affairs__facility drop constraint if exists civil_affairs__facility_load_id_fkey;
alter table raw.civil_affairs__service_recipient drop constraint if exists civil_affairs__service_recipient_load_id_fkey;
alter table raw.grid__grid drop constraint if exists grid__grid_load_id_fkey;
alter table raw.grid__building drop constraint if exists grid__building_load_id_fkey;
