"""The rules file: the shipped one is valid, mistakes are named, rules compile to bound-parameter SQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from community_dw.outreach.rules import RuleError, compile_rule, load_rules, parse_rule

BASE = {"id": "r1", "reason": "测试", "priority": 2, "vaccine": "FLU", "status": "no_dose_this_season"}


def test_shipped_rules_cover_the_issue_examples() -> None:
    rules = load_rules()
    by_id = {rule.rule_id: rule for rule in rules.active}
    assert by_id["covid_60_not_complete"].min_age == 60
    assert by_id["flu_80_alone_this_season"].living_alone is True
    assert (by_id["mmr_child_dose_2"].status, by_id["mmr_child_dose_2"].dose) == ("missing_dose", 2)
    assert [o.label for o in rules.outcomes] == ["已接种", "预约", "拒绝", "联系不上", "已搬离", "已故"]
    assert {o.label for o in rules.outcomes if o.signal} == {"已搬离", "已故"}
    assert {o.label for o in rules.outcomes if o.action == "keep_open"} == {"预约", "联系不上"}


@pytest.mark.parametrize(("change", "message"), [
    ({"min_ag": 60}, "rule r1: unknown key(s) min_ag"),
    ({"status": "incomplete"}, "rule r1: status must be one of"),
    ({"status": "missing_dose"}, "rule r1: dose must be a whole number"),
    ({"dose": 2}, "rule r1: dose only goes with status missing_dose"),
    ({"priority": True}, "rule r1: priority must be a whole number from 1 to 9"),
    ({"priority": 0}, "rule r1: priority must be a whole number from 1 to 9"),
    ({"min_age": 70, "max_age": 60}, "rule r1: min_age 70 is above max_age 60"),
    ({"living_alone": "yes"}, "rule r1: living_alone must be true or false"),
    ({"population_type": []}, "rule r1: population_type must be a text or a non-empty list"),
    ({"sex": "女"}, "rule r1: sex must be M or F"),
    ({"reason": ""}, "rule r1: reason is required"),
    ({"id": "Bad-Id"}, "rule #1: id must be lowercase"),
])
def test_mistakes_name_the_rule_and_the_key(change: dict, message: str) -> None:
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_rule({**BASE, **change}, 1)


def test_duplicate_ids_and_bad_outcomes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {id: a, reason: x, priority: 1, vaccine: FLU, status: no_dose_this_season}\n"
                    "  - {id: a, reason: y, priority: 1, vaccine: FLU, status: no_dose_this_season}\n"
                    "outcomes:\n  - {label: 已接种, code: vaccinated_reported, action: close}\n", encoding="utf-8")
    with pytest.raises(RuleError, match="rule id.s. used twice: a"):
        load_rules(path)
    path.write_text("rules: []\noutcomes:\n  - {label: 已故, code: dead, action: close}\n", encoding="utf-8")
    with pytest.raises(RuleError, match="closing outcome's code must be one of"):
        load_rules(path)
    path.write_text("rules: []\noutcomes:\n  - {label: 已故, code: deceased, action: keep_open, signal: deceased}\n",
                    encoding="utf-8")
    with pytest.raises(RuleError, match="its action must be close"):
        load_rules(path)


def test_a_rule_compiles_to_predicates_with_bound_values() -> None:
    rule = parse_rule({**BASE, "min_age": 80, "max_age": 120, "living_alone": True,
                       "population_type": ["户籍人口"], "service_recipient_category": "低保",
                       "community": ["悦来社区'; drop table core.person; --"]}, 1)
    compiled = compile_rule(rule)
    assert "s.doses_counted = 0" in compiled.predicate
    assert "p.age_years >= :min_age" in compiled.predicate and compiled.params["min_age"] == 80
    assert "p.community = any(:community)" in compiled.predicate
    assert compiled.params["service_recipient_category"] == ["低保"]
    # values never reach the SQL text
    assert "drop table" not in compiled.statement() and "悦来" not in compiled.statement()
    assert "{predicate}" not in compiled.statement()


def test_the_rule_set_digest_follows_the_content(tmp_path: Path) -> None:
    from community_dw.outreach.rules import RULES_FILE

    copy = tmp_path / "rules.yaml"
    copy.write_text(RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rules(copy).digest == load_rules().digest
    copy.write_text(RULES_FILE.read_text(encoding="utf-8").replace("priority: 4", "priority: 5"), encoding="utf-8")
    assert load_rules(copy).digest != load_rules().digest
