-- The masks were declared STRICT. A CASE expression cannot be proven to return null on null input,
-- so PostgreSQL would not inline them and ran each as a SQL function call per row: about 5 times the
-- cost of the expression itself, and tens of seconds per refresh of the published tables at a million
-- residents. Without STRICT they are inlined; a null still gives null (every branch of each body is
-- null on null input), which tests/integration/access checks.
alter function access.mask_id_number(text) called on null input;
alter function access.mask_phone(text) called on null input;
