-- The conformed model's tables that are rebuilt set-based by sql/core/*.sql each run.

create table core.as_of (
    singleton     boolean primary key default true check (singleton),
    as_of_date    date not null
);
comment on table core.as_of is '统计日期 — the logical date the core and marts were last built for (ages are computed at it)';

create table core.vaccine_catalogue (
    vaccine_code          text primary key,
    vaccine_name          text not null,
    name_spellings        text[] not null default '{}',
    doses_for_complete    integer not null,
    doses_for_complete_if_started_before_15 integer,
    seasonal              boolean not null default false,
    min_age_months        integer,
    max_age_years         integer,
    sex                   text check (sex in ('M', 'F')),
    dose_intervals_days   integer[] not null default '{}',
    note                  text
);
comment on table core.vaccine_catalogue is '疫苗目录 — reference: what a complete series is per vaccine (SOURCES.md); edit rows, not code';
comment on column core.vaccine_catalogue.dose_intervals_days is 'minimum days from dose n to dose n+1 (index 1 = dose 1 -> 2)';

insert into core.vaccine_catalogue values
    ('COVID-INACT', '新冠病毒灭活疫苗', '{新冠疫苗,新冠灭活疫苗,新型冠状病毒灭活疫苗,新冠病毒疫苗(Vero细胞)}', 2, null, false, 36, null, null, '{21,182}', 'dose 3 is a booster 6 months after dose 2'),
    ('FLU', '流感疫苗', '{流感,流感病毒裂解疫苗,四价流感疫苗,三价流感疫苗}', 1, null, true, 6, null, null, '{}', 'one dose per season, 1 Sep - 31 Aug'),
    ('PPSV23', '23价肺炎球菌多糖疫苗', '{23价肺炎疫苗,肺炎疫苗,23价肺炎球菌疫苗}', 1, null, false, 720, null, null, '{}', 'for aged 60+'),
    ('HEPB', '乙肝疫苗', '{乙型肝炎疫苗,重组乙型肝炎疫苗}', 3, null, false, 0, null, null, '{28,60}', 'from birth'),
    ('MMR', '麻腮风疫苗', '{麻腮风联合减毒活疫苗,麻疹腮腺炎风疹联合疫苗}', 2, null, false, 8, null, null, '{300}', 'dose 1 at 8 months, dose 2 at 18 months'),
    ('HPV', 'HPV疫苗', '{人乳头瘤病毒疫苗,宫颈癌疫苗,二价HPV疫苗,四价HPV疫苗,九价HPV疫苗}', 3, 2, false, 108, 45, 'F', '{30,90}', '2 doses if started before 15, else 3');
