"""Outreach lists over a small core: the rules pick the right people, items stay unique and close on data."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.outreach.lists import build_outreach_lists
from community_dw.outreach.rules import RULES_FILE, RuleError

AS_OF = date(2026, 11, 2)


@pytest.fixture
def core(small_core):
    c = small_core
    # 76, one COVID dose in January: dose 2 fell due 21 days later; no flu this season, no PPSV23
    c.person(1, date(1950, 3, 1))
    c.dose(1, "COVID-INACT", date(2026, 1, 1))
    # 86, alone in the household, flu last season only; everything else done
    c.person(2, date(1940, 5, 5))
    c.dose(2, "FLU", date(2025, 10, 1))
    # 86 living with a 40-year-old: not alone, so the 60+ flu rule (not the 80+ alone one)
    c.person(3, date(1940, 6, 6), household="H34")
    c.person(4, date(1986, 1, 1), household="H34", phone="13700000004")
    # a child with MMR dose 1 at 8 months; dose 2 due 300 days later, long past; parent in the household
    c.person(5, date(2024, 1, 15), household="H56", grid="G002", phone="13500000005")
    c.person(6, date(1996, 2, 2), household="H56", grid="G002", phone="13600000006")
    c.dose(5, "MMR", date(2024, 9, 20))
    # a child whose dose 2 is not due yet: not listed
    c.person(7, date(2025, 10, 1), household="H7")
    c.dose(7, "MMR", date(2026, 6, 1))
    # a 17-month-old with no MMR at all: dose 1 fell due at 8 months
    c.person(8, date(2025, 6, 1), household="H8")
    # moved out: not a resident, never listed
    c.person(9, date(1956, 1, 1), status="moved_out")
    # 82 sharing a household but a 高龄独居 service recipient: living alone per civil affairs
    c.person(10, date(1944, 1, 1), household="H1011")
    c.person(11, date(1976, 1, 1), household="H1011")
    c.recipients.append((10, "高龄独居"))
    for key in (2, 3, 10):
        c.dose(key, "COVID-INACT", date(2021, 5, 1))
        c.dose(key, "COVID-INACT", date(2021, 6, 1))
        c.dose(key, "PPSV23", date(2020, 1, 1))
    c.build()
    return c


EXPECTED = {
    (1, "covid_60_not_complete"), (1, "flu_60_this_season"), (1, "ppsv23_60_none"),
    (2, "flu_80_alone_this_season"),
    (3, "flu_60_this_season"),
    (5, "mmr_child_dose_2"),
    (8, "mmr_child_dose_1"),
    (10, "flu_80_alone_this_season"),
}


def test_rules_list_the_right_people_with_due_dates(core, fresh_warehouse, items) -> None:
    summary = build_outreach_lists(fresh_warehouse)
    assert summary["as_of_date"] == AS_OF
    opened = items("open")
    assert {(i["person_key"], i["rule_id"]) for i in opened} == EXPECTED
    assert summary["items_opened"] == len(EXPECTED) == summary["items_open_after"]
    by = {(i["person_key"], i["rule_id"]): i for i in opened}

    covid = by[(1, "covid_60_not_complete")]
    assert (covid["dose_number_due"], covid["doses_counted"]) == (2, 1)
    assert covid["due_date"] == date(2026, 1, 22)  # catalogue: dose 2 at least 21 days after dose 1
    assert covid["days_overdue"] == (AS_OF - date(2026, 1, 22)).days
    assert covid["priority"] == 1 and "新冠" in covid["reason"]
    assert covid["grid_worker_name"] == "张网格" and covid["building_address"] == "悦来路1号"

    assert by[(1, "flu_60_this_season")]["due_date"] == date(2026, 9, 1)  # the season's start
    assert by[(1, "ppsv23_60_none")]["due_date"] == date(2010, 3, 1)  # eligibility began at 60

    mmr2 = by[(5, "mmr_child_dose_2")]
    assert mmr2["due_date"] == date(2024, 9, 20) + timedelta(days=300)
    assert mmr2["grid_code"] == "G002" and mmr2["grid_worker_name"] == "李网格"
    # the child's own number, then the parent's
    assert mmr2["phones"] == ["13500000005", "13600000006"]
    assert by[(8, "mmr_child_dose_1")]["due_date"] == date(2026, 2, 1)  # 8 months of age
    assert by[(3, "flu_60_this_season")]["phones"] == ["13800000003", "13700000004"]


def test_second_run_lists_nobody_twice(core, fresh_warehouse, items, output_dir) -> None:
    from community_dw.quality.gate import run_gate

    first = build_outreach_lists(fresh_warehouse)
    ids = [i["item_id"] for i in items("open")]
    second = build_outreach_lists(fresh_warehouse)
    assert (second["items_opened"], second["items_closed"]) == (0, 0)
    assert second["items_refreshed"] == 0  # same date, same data: nothing is rewritten
    assert [i["item_id"] for i in items("open")] == ids
    assert {i["last_seen_run_id"] for i in items("open")} == {first["run_id"]}
    # a day later every open item's days overdue moves on
    from datetime import timedelta

    third = build_outreach_lists(fresh_warehouse, AS_OF + timedelta(days=1))
    assert (third["items_refreshed"], third["items_opened"]) == (first["items_opened"], 0)
    assert {i["last_seen_run_id"] for i in items("open")} == {third["run_id"]}
    gate = run_gate(fresh_warehouse, "outreach.list_item")
    assert gate.passed and not gate.warnings, gate.summary()
    # the database itself refuses a second open item for the same person and rule
    with pytest.raises(sa.exc.IntegrityError), fresh_warehouse.begin() as conn:
        conn.execute(sa.text(
            "insert into outreach.list_item (person_key, rule_id, vaccine_code, dose_number_due, priority, reason, "
            "doses_counted, due_date, days_overdue, opened_run_id, last_seen_run_id, opened_as_of) "
            "select person_key, rule_id, vaccine_code, dose_number_due, priority, reason, doses_counted, due_date, "
            "days_overdue, opened_run_id, last_seen_run_id, opened_as_of from outreach.list_item limit 1"))


def test_a_dose_arriving_closes_the_item(core, fresh_warehouse, items) -> None:
    from community_dw.warehouse.sql_runner import run_sql

    build_outreach_lists(fresh_warehouse)
    with fresh_warehouse.begin() as conn:
        conn.execute(sa.text("insert into core.vaccination_dose (person_key, vaccine_code, vaccinated_date) values "
                             "(1, 'COVID-INACT', '2026-10-20'), (3, 'FLU', '2026-10-25')"))
        run_sql(conn, "core/vaccination_status")
    summary = build_outreach_lists(fresh_warehouse)
    assert summary["items_closed"] == 2 and summary["items_opened"] == 0
    closed = {(i["person_key"], i["rule_id"]): i for i in items("closed")}
    assert closed.keys() == {(1, "covid_60_not_complete"), (3, "flu_60_this_season")}
    assert {i["closed_reason"] for i in closed.values()} == {"need_met"}
    assert all(i["closed_run_id"] == summary["run_id"] for i in closed.values())
    assert (1, "covid_60_not_complete") not in {(i["person_key"], i["rule_id"]) for i in items("open")}


def test_next_dose_due_closes_the_old_item_and_opens_one_for_the_next(small_core, fresh_warehouse, items,
                                                                      tmp_path: Path) -> None:
    from community_dw.warehouse.sql_runner import run_sql

    small_core.person(1, date(2010, 1, 1))  # 16, no HEPB: dose 1 due since birth
    small_core.build()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_FILE.read_text(encoding="utf-8").replace(
        "rules:\n", "rules:\n  - {id: hepb_all, reason: 乙肝疫苗未完成全程, priority: 5, vaccine: HEPB, "
        "status: not_complete}\n", 1), encoding="utf-8")
    build_outreach_lists(fresh_warehouse, rules_path=rules)
    with fresh_warehouse.begin() as conn:
        # dose 1 reported long ago (a backfilled record): dose 2 is due at once, 28 days after it
        conn.execute(sa.text("insert into core.vaccination_dose (person_key, vaccine_code, vaccinated_date) "
                             "values (1, 'HEPB', '2026-01-01')"))
        run_sql(conn, "core/vaccination_status")
    build_outreach_lists(fresh_warehouse, rules_path=rules)
    rows = [(i["dose_number_due"], i["status"], i["closed_reason"], i["due_date"]) for i in items()]
    assert rows == [(1, "closed", "need_met", date(2010, 1, 1)), (2, "open", None, date(2026, 1, 29))]


def test_retired_rules_and_people_leaving_close_items(core, fresh_warehouse, items, tmp_path: Path) -> None:
    build_outreach_lists(fresh_warehouse)
    # the 80+ alone rule is dropped from the file; person 1 moves out
    fewer = tmp_path / "rules.yaml"
    text = RULES_FILE.read_text(encoding="utf-8")
    start = text.index("  - id: flu_80_alone_this_season")
    fewer.write_text(text[:start] + text[text.index("  - id: mmr_child_dose_2"):], encoding="utf-8")
    with fresh_warehouse.begin() as conn:
        conn.execute(sa.text("update core.person set residency_status = 'moved_out' where person_key = 1"))
        from community_dw.warehouse.sql_runner import run_sql

        run_sql(conn, "core/vaccination_status")
    build_outreach_lists(fresh_warehouse, rules_path=fewer)
    reasons = {(i["person_key"], i["rule_id"]): i["closed_reason"] for i in items("closed")}
    assert reasons[(1, "covid_60_not_complete")] == "no_longer_eligible"
    assert reasons[(2, "flu_80_alone_this_season")] == "rule_retired"
    # person 2 is still 60+ without flu: the 60+ rule takes over
    assert (2, "flu_60_this_season") in {(i["person_key"], i["rule_id"]) for i in items("open")}
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select enabled from outreach.rule "
                                    "where rule_id = 'flu_80_alone_this_season'")).scalar() is False


def test_a_rule_on_an_unknown_or_wrong_vaccine_is_refused(small_core, fresh_warehouse, tmp_path: Path) -> None:
    small_core.build()
    bad = tmp_path / "rules.yaml"
    text = RULES_FILE.read_text(encoding="utf-8")
    bad.write_text(text.replace("vaccine: PPSV23\n    status: not_complete",
                                "vaccine: PPSV23\n    status: no_dose_this_season"), encoding="utf-8")
    with pytest.raises(RuleError, match="ppsv23_60_none: no_dose_this_season needs a seasonal vaccine"):
        build_outreach_lists(fresh_warehouse, rules_path=bad)
    bad.write_text(text.replace("vaccine: PPSV23", "vaccine: PPSV99"), encoding="utf-8")
    with pytest.raises(RuleError, match="PPSV99"):
        build_outreach_lists(fresh_warehouse, rules_path=bad)
