-- MMR is a children's vaccine (SOURCES.md): without an upper age every adult counted in its
-- denominator (found by tests/integration/marts against the simulator's truth).
update core.vaccine_catalogue set max_age_years = 17 where vaccine_code = 'MMR';
