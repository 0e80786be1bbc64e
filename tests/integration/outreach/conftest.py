"""A small core built straight into a fresh warehouse: the person, grid and dose tables outreach reads.

core.person, core.grid, core.building, core.service_recipient and core.vaccination_dose are created
here with the columns sql/core/*.sql give them; core.vaccination_status is then built by the real
sql/core/vaccination_status.sql, so the rules run over the status the pipeline computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

AS_OF = date(2026, 11, 2)

CORE_DDL = """
drop table if exists core.person, core.grid, core.building, core.service_recipient, core.vaccination_dose;
create table core.person (
    person_key bigint primary key, id_number text, id_valid boolean, name text, name_pinyin text,
    birth_date date, sex text, phone_primary text, age_years int, residency_status text,
    household_no text, building_code text, grid_code text, community text, subdistrict text,
    population_type text, known_to text[]);
create table core.grid (
    grid_code text primary key, grid_name text, community text, subdistrict text, grid_worker_name text,
    grid_worker_phone text, grid_leader_name text, geometry_wkt text, geometry_issue text);
create table core.building (
    building_code text primary key, address text, address_key text, longitude double precision,
    latitude double precision, coord_issue text, grid_code text, registered_grid_code text,
    grid_disagrees boolean not null default false);
create table core.service_recipient (
    recipient_id text primary key, person_key bigint, category text, community text, valid_from date,
    valid_to date, is_current boolean);
create table core.vaccination_dose (
    person_key bigint, vaccine_code text, vaccinated_date date, dose_sequence int, dose_number_recorded int,
    vaccinated_at timestamptz, site_name text, record_ids bigint[],
    primary key (person_key, vaccine_code, vaccinated_date));
"""


@dataclass
class SmallCore:
    """People, grids and doses of a test; `build()` writes them and rebuilds vaccination_status."""

    engine: sa.Engine
    as_of: date = AS_OF
    persons: list[dict] = field(default_factory=list)
    doses: list[tuple[int, str, date]] = field(default_factory=list)
    recipients: list[tuple[int, str]] = field(default_factory=list)

    def person(self, key: int, birth_date: date, *, sex: str = "F", household: str | None = None,
               grid: str = "G001", phone: str | None = None, status: str = "resident",
               id_number: str | None = None, name: str | None = None) -> int:
        self.persons.append(dict(
            person_key=key, id_number=id_number or f"4420001950010{key:04d}X"[-18:], id_valid=True,
            name=name or f"测试{key}", birth_date=birth_date, sex=sex,
            phone_primary=phone or f"138{key:08d}", residency_status=status, household_no=household or f"H{key}",
            building_code=f"B-{grid}", grid_code=grid, community="悦来社区", subdistrict="石岐街道",
            population_type="户籍人口"))
        return key

    def dose(self, key: int, vaccine: str, day: date) -> None:
        self.doses.append((key, vaccine, day))

    def build(self) -> None:
        from community_dw.warehouse.sql_runner import run_sql

        with self.engine.begin() as conn:
            conn.exec_driver_sql(CORE_DDL)
            conn.execute(sa.text(
                "insert into core.grid (grid_code, grid_name, community, grid_worker_name, grid_worker_phone) values "
                "('G001', '悦来一网格', '悦来社区', '张网格', '13900000001'), "
                "('G002', '悦来二网格', '悦来社区', '李网格', '13900000002')"))
            conn.execute(sa.text(
                "insert into core.building (building_code, address, grid_code) values "
                "('B-G001', '悦来路1号', 'G001'), ('B-G002', '悦来路2号', 'G002')"))
            conn.execute(sa.text(
                "insert into core.as_of (as_of_date) values (:d) on conflict (singleton) do update "
                "set as_of_date = excluded.as_of_date"), {"d": self.as_of})
            for p in self.persons:
                conn.execute(sa.text(
                    "insert into core.person (person_key, id_number, id_valid, name, birth_date, sex, phone_primary, "
                    "age_years, residency_status, household_no, building_code, grid_code, community, subdistrict, "
                    "population_type) values (:person_key, :id_number, :id_valid, :name, :birth_date, :sex, "
                    ":phone_primary, extract(year from age(cast(:as_of as date), :birth_date))::int, "
                    ":residency_status, :household_no, :building_code, :grid_code, :community, :subdistrict, "
                    ":population_type)"), {**p, "as_of": self.as_of})
            for key, vaccine, day in self.doses:
                conn.execute(sa.text(
                    "insert into core.vaccination_dose (person_key, vaccine_code, vaccinated_date) "
                    "values (:k, :v, :d)"), {"k": key, "v": vaccine, "d": day})
            for i, (key, category) in enumerate(self.recipients):
                conn.execute(sa.text(
                    "insert into core.service_recipient values (:id, :k, :c, '悦来社区', null, null, true)"),
                    {"id": f"R{i}", "k": key, "c": category})
            run_sql(conn, "core/vaccination_status")


@pytest.fixture
def small_core(fresh_warehouse: sa.Engine) -> SmallCore:
    return SmallCore(fresh_warehouse)


@pytest.fixture
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports and the landing archive under the test's own folder."""
    monkeypatch.setenv("CDW_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path / "landing"))
    return tmp_path / "out"


@pytest.fixture
def items(fresh_warehouse: sa.Engine):
    """items(status=None): list_item rows as dicts, by person then rule (all statuses by default)."""

    def fetch(status: str | None = None) -> list[dict]:
        with fresh_warehouse.connect() as conn:
            return [dict(row) for row in conn.execute(sa.text(
                "select * from outreach.list_item where :status is null or status = :status "
                "order by person_key, rule_id, item_id"), {"status": status}).mappings()]

    return fetch
