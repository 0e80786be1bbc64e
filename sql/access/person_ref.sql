-- access.person_ref(inner_pad, outer_pad, domain, person_key): the pseudonym as one inlinable
-- expression, for the refresh files, which join access.pseudonym_key once per statement.
-- HMAC-SHA256(secret, domain || ':' || person_key), first 16 hex digits (docs/access.md). Plain SQL,
-- immutable, no SET clause: PostgreSQL inlines it, ~1 us per row where a function reading the key
-- table itself (access.pseudonym) costs ~40 us, which at a million persons and four departments is minutes.
create or replace function access.person_ref(p_inner_pad bytea, p_outer_pad bytea, p_domain text,
                                             p_person_key bigint) returns text
language sql immutable parallel safe strict
as $$
    select substr(encode(sha256(p_outer_pad || sha256(p_inner_pad || convert_to(p_domain || ':' || p_person_key, 'UTF8'))), 'hex'), 1, 16)
$$;
alter function access.person_ref(bytea, bytea, text, bigint) owner to cdw_loader;
revoke all on function access.person_ref(bytea, bytea, text, bigint) from public;
comment on function access.person_ref(bytea, bytea, text, bigint) is
    'person_ref from the HMAC pads of access.pseudonym_key: join the key table once, call this per row';
