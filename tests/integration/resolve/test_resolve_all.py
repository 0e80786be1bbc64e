"""Person resolution against the real PostgreSQL: probabilistic links, stable keys, review decisions."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
import sqlalchemy as sa

_rows = itertools.count(1)


def valid_id(body17: str) -> str:
    from stdnum.cn import ric

    return body17 + ric.calc_check_digit(body17)


def wrong_check(number: str) -> str:
    """The same number with a check character that does not fit."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def add_resident(engine: sa.Engine, name: str, id_number: str | None, birth: date | None, sex: str | None,
                 phone: str | None = None, household: str | None = None, load_id: int = 1,
                 delivery_date: date = date(2026, 11, 1)) -> str:
    row = next(_rows)
    valid = id_number is not None and len(id_number) == 18 and valid_id(id_number[:17]) == id_number
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into staging.stg_public_security__resident (load_id, source_row, delivery_kind, delivery_date, "
            "name, id_number, id_valid, birth_date, sex, phone_primary, household_no) values "
            "(:load, :row, 'full', :dd, :name, :id, :valid, :birth, :sex, :phone, :hh)"),
            dict(load=load_id, row=row, dd=delivery_date, name=name, id=id_number, valid=valid, birth=birth,
                 sex=sex, phone=phone, hh=household))
    return f"{load_id}:{row}"


def add_vaccination(engine: sa.Engine, name: str, id_number: str | None, birth: date | None, sex: str | None,
                    phone: str | None = None) -> str:
    record_id = next(_rows)
    valid = id_number is not None and valid_id(id_number[:17]) == id_number
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into staging.stg_health__vaccination_record (record_id, load_id, source_row, recipient_name, "
            "id_number, id_valid, birth_date, sex, phone_primary, vaccine_code, dose_number, vaccinated_at, "
            "updated_at) values (:rid, 2, :rid, :name, :id, :valid, :birth, :sex, :phone, 'FLU', 1, now(), now())"),
            dict(rid=record_id, name=name, id=id_number, valid=valid, birth=birth, sex=sex, phone=phone))
    return str(record_id)


def add_recipient(engine: sa.Engine, name: str, id_number: str | None) -> str:
    recipient_id = f"MZR-{next(_rows)}"
    valid = id_number is not None and valid_id(id_number[:17]) == id_number
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into staging.stg_civil_affairs__service_recipient (recipient_id, load_id, source_row, name, "
            "id_number, id_valid, category, updated_at) values (:rid, 3, 1, :name, :id, :valid, '低保', now())"),
            dict(rid=recipient_id, name=name, id=id_number, valid=valid))
    return recipient_id


def link(engine: sa.Engine, source: str, record_ref: str) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("select person_key, method from core.person_link where source = :s and "
                                   "record_ref = :r"), dict(s=source, r=record_ref)).one()
    return int(row[0]), row[1]


RES, VAC, REC = "public_security.residents", "health.vaccination_record", "civil_affairs.service_recipients"


@pytest.fixture
def city(fresh_warehouse: sa.Engine) -> dict[str, str]:
    """A few residents anchored by valid ID numbers."""
    e = fresh_warehouse
    return {
        "zhang": add_resident(e, "张建国", valid_id("44200019650412003"), date(1965, 4, 12), "M", "13800000001", "H1"),
        "wang": add_resident(e, "王伟", valid_id("44200019800101001"), date(1980, 1, 1), "M", "13800000002", "H2"),
        "li_a": add_resident(e, "李娜", valid_id("44200019900505002"), date(1990, 5, 5), "F", "13800000003", "H3"),
        "li_b": add_resident(e, "李娜", valid_id("44200019900505004"), date(1990, 5, 5), "F", "13800000004", "H4"),
    }


def test_a_typo_in_the_id_links_probabilistically(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.run import resolve_all

    typo = add_recipient(fresh_warehouse, "张建国", wrong_check(valid_id("44200019650412003")))
    counts = resolve_all(fresh_warehouse)
    key, method = link(fresh_warehouse, REC, typo)
    assert method == "probabilistic"
    assert key == link(fresh_warehouse, RES, city["zhang"])[0]
    assert counts["probabilistic_linked"] == 1
    with fresh_warehouse.connect() as conn:
        version = conn.execute(sa.text("select rule_version from core.person_link where record_ref = :r"),
                               dict(r=typo)).scalar()
    assert version.startswith("person@")


def test_name_birth_date_and_phone_pick_the_right_namesake(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.run import resolve_all

    # Two 李娜 born the same day: name + birth date alone is ambiguous, the phone decides.
    rec = add_vaccination(fresh_warehouse, "李娜", None, date(1990, 5, 5), None, "13800000004")
    resolve_all(fresh_warehouse)
    key, method = link(fresh_warehouse, VAC, rec)
    assert method == "probabilistic"
    assert key == link(fresh_warehouse, RES, city["li_b"])[0]


def test_namesakes_with_different_birth_dates_stay_apart(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.run import resolve_all

    other = add_vaccination(fresh_warehouse, "王伟", None, date(1995, 6, 1), "M", "13900000009")
    resolve_all(fresh_warehouse)
    key, method = link(fresh_warehouse, VAC, other)
    assert method == "new_person"
    assert key != link(fresh_warehouse, RES, city["wang"])[0]
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from review.person_match")).scalar() == 0


def test_keys_are_stable_across_runs_with_new_data(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.run import resolve_all

    e = fresh_warehouse
    child = add_vaccination(e, "陈小明", None, date(2022, 3, 3), "M", "13800000001")
    resolve_all(e)
    with e.connect() as conn:
        before = dict(conn.execute(sa.text("select source || record_ref, person_key from core.person_link")).all())

    # Next day: the same people again in a new snapshot, the child's second dose, a newcomer.
    again = add_resident(e, "张建国", valid_id("44200019650412003"), date(1965, 4, 12), "M", "13800000001", "H1",
                         load_id=7, delivery_date=date(2026, 11, 2))
    dose2 = add_vaccination(e, "陈小明", None, date(2022, 3, 3), "M", "13800000001")
    newcomer = add_resident(e, "赵敏", valid_id("44200020000202002"), date(2000, 2, 2), "F", None, "H9", load_id=7)
    second = resolve_all(e)
    with e.connect() as conn:
        after = dict(conn.execute(sa.text("select source || record_ref, person_key from core.person_link")).all())

    assert {k: after[k] for k in before} == before
    assert after[RES + again] == before[RES + city["zhang"]]
    assert after[VAC + dose2] == before[VAC + child]
    assert after[RES + newcomer] not in before.values()
    assert second["probabilistic_unlinked_records"] == 1  # only the new dose; the city is not re-linked
    with e.connect() as conn:
        assert conn.execute(sa.text("select count(*) from core.person_match_model")).scalar() == 0  # priors only


def test_a_review_decision_applies_on_the_next_run(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.review import decide_pair
    from community_dw.resolve.run import resolve_all

    e = fresh_warehouse
    # 李娜, born 1990-05-05, nothing else: either of two persons; a reviewer must say which.
    doubt = add_vaccination(e, "李娜", None, date(1990, 5, 5), None, None)
    resolve_all(e)
    own_key, method = link(e, VAC, doubt)
    assert method == "new_person"
    with e.connect() as conn:
        pairs = conn.execute(sa.text("select match_id, candidate_person_key from review.person_match "
                                     "where record_ref = :r"), dict(r=doubt)).all()
    target = link(e, RES, city["li_a"])[0]
    assert {key for _, key in pairs} == {target, link(e, RES, city["li_b"])[0]}

    with e.begin() as conn:
        for match_id, key in pairs:
            decide_pair(conn, match_id, "same_person" if key == target else "different_person", "reviewer-1")
    counts = resolve_all(e)
    assert counts["review_decisions_relinked"] == 1
    assert link(e, VAC, doubt) == (target, "review_decision")
    with e.connect() as conn:
        history = conn.execute(sa.text("select old_person_key, new_person_key, method from core.person_link_history "
                                       "where record_ref = :r"), dict(r=doubt)).all()
        assert history == [(own_key, target, "review_decision")]
        assert conn.execute(sa.text("select count(*) from review.person_match where applied_at is null")).scalar() == 0
    # A third run changes nothing.
    resolve_all(e)
    assert link(e, VAC, doubt) == (target, "review_decision")


def test_a_broken_link_and_its_revert(city: dict[str, str], fresh_warehouse: sa.Engine) -> None:
    from community_dw.resolve.review import request_break, request_revert
    from community_dw.resolve.run import resolve_all

    e = fresh_warehouse
    rec = add_vaccination(e, "张建国", None, date(1965, 4, 12), "M", "13800000001")
    resolve_all(e)
    original = link(e, VAC, rec)[0]
    with e.begin() as conn:
        request_break(conn, VAC, rec, "reviewer-1", "another 张建国 of the same age")
    assert resolve_all(e)["review_links_broken"] == 1
    broken = link(e, VAC, rec)[0]
    assert broken != original

    with e.begin() as conn:
        request_revert(conn, VAC, rec, "reviewer-2", "same person after all")
    assert resolve_all(e)["review_breaks_reverted"] == 1
    assert link(e, VAC, rec)[0] == original
    with e.connect() as conn:
        history = conn.execute(sa.text("select old_person_key, new_person_key, method from core.person_link_history "
                                       "where record_ref = :r order by changed_at"), dict(r=rec)).all()
    assert history == [(original, broken, "review_break"), (broken, original, "review_revert")]
