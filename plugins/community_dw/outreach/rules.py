"""Outreach rules: read rules.yaml, check it against a small vocabulary, compile each rule to SQL."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("rules.yaml")

STATUSES = ("not_complete", "no_dose_this_season", "missing_dose")
LIST_KEYS = ("population_type", "service_recipient_category", "community")
KNOWN_KEYS = {"id", "reason", "priority", "vaccine", "status", "dose", "min_age", "max_age", "sex",
              "living_alone", "min_days_overdue", "enabled", *LIST_KEYS}
OUTCOME_ACTIONS = ("close", "keep_open")
SIGNALS = ("moved_away", "deceased")
#: closed_reason values outreach.list_item accepts for an item staff closed (a new one needs a migration).
CLOSE_CODES = ("vaccinated_reported", "refused", "moved_away", "deceased")
RULE_ID = re.compile(r"^[a-z0-9_]+$")
#: The civil-affairs category that says "aged 80+ living alone" outright.
LIVING_ALONE_CATEGORY = "高龄独居"


class RuleError(ValueError):
    """rules.yaml says something the vocabulary does not allow; names the rule and the key."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    reason: str
    priority: int
    vaccine: str
    status: str
    dose: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    sex: str | None = None
    living_alone: bool | None = None
    population_type: tuple[str, ...] = ()
    service_recipient_category: tuple[str, ...] = ()
    community: tuple[str, ...] = ()
    min_days_overdue: int = 0
    enabled: bool = True
    definition: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Outcome:
    label: str  # what staff pick in the drop-down, e.g. 已接种
    code: str  # what the warehouse records, e.g. vaccinated_reported
    action: str  # close | keep_open
    suppress_days: int = 0
    signal: str | None = None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    outcomes: tuple[Outcome, ...]
    digest: str  # sha-256 of the file's meaning, recorded per run so a list can be traced to its rules

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def outcome(self, label: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.label == label), None)


def _int(rule_id: str, key: str, value: Any, low: int, high: int) -> int:
    # bool is an int in Python; `priority: true` is a typo, not 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(f"rule {rule_id}: {key} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _texts(rule_id: str, key: str, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise RuleError(f"rule {rule_id}: {key} must be a text or a non-empty list of texts, got {value!r}")
    return tuple(v.strip() for v in values)


def parse_rule(entry: Any, position: int) -> Rule:
    """One YAML entry as a Rule; every mistake is reported with the rule's id (or position) and key."""
    if not isinstance(entry, dict):
        raise RuleError(f"rule #{position}: expected a mapping of keys, got {entry!r}")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        raise RuleError(f"rule #{position}: id must be lowercase letters, digits and _, got {rule_id!r}")
    unknown = sorted(set(entry) - KNOWN_KEYS)
    if unknown:
        raise RuleError(f"rule {rule_id}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
    for key in ("reason", "priority", "vaccine", "status"):
        if entry.get(key) in (None, ""):
            raise RuleError(f"rule {rule_id}: {key} is required")
    status = entry["status"]
    if status not in STATUSES:
        raise RuleError(f"rule {rule_id}: status must be one of {', '.join(STATUSES)}, got {status!r}")
    dose = entry.get("dose")
    if status == "missing_dose":
        dose = _int(rule_id, "dose", dose, 1, 10)
    elif dose is not None:
        raise RuleError(f"rule {rule_id}: dose only goes with status missing_dose")
    min_age = _int(rule_id, "min_age", entry["min_age"], 0, 130) if "min_age" in entry else None
    max_age = _int(rule_id, "max_age", entry["max_age"], 0, 130) if "max_age" in entry else None
    if min_age is not None and max_age is not None and min_age > max_age:
        raise RuleError(f"rule {rule_id}: min_age {min_age} is above max_age {max_age}")
    sex = entry.get("sex")
    if sex is not None and sex not in ("M", "F"):
        raise RuleError(f"rule {rule_id}: sex must be M or F, got {sex!r}")
    for key in ("living_alone", "enabled"):
        if key in entry and not isinstance(entry[key], bool):
            raise RuleError(f"rule {rule_id}: {key} must be true or false, got {entry[key]!r}")
    return Rule(
        rule_id=rule_id,
        reason=str(entry["reason"]).strip(),
        priority=_int(rule_id, "priority", entry["priority"], 1, 9),
        vaccine=str(entry["vaccine"]).strip(),
        status=status,
        dose=dose,
        min_age=min_age,
        max_age=max_age,
        sex=sex,
        living_alone=entry.get("living_alone"),
        min_days_overdue=_int(rule_id, "min_days_overdue", entry.get("min_days_overdue", 0), 0, 36_500),
        enabled=entry.get("enabled", True),
        definition=dict(entry),
        **{key: _texts(rule_id, key, entry[key]) for key in LIST_KEYS if key in entry},
    )


def parse_outcome(entry: Any, position: int) -> Outcome:
    if not isinstance(entry, dict) or not entry.get("label") or not entry.get("code"):
        raise RuleError(f"outcome #{position}: needs a label and a code, got {entry!r}")
    label = str(entry["label"])
    action = entry.get("action")
    if action not in OUTCOME_ACTIONS:
        raise RuleError(f"outcome {label}: action must be one of {', '.join(OUTCOME_ACTIONS)}, got {action!r}")
    signal = entry.get("signal")
    if signal is not None and signal not in SIGNALS:
        raise RuleError(f"outcome {label}: signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
    if action == "close" and entry["code"] not in CLOSE_CODES:
        raise RuleError(f"outcome {label}: a closing outcome's code must be one of {', '.join(CLOSE_CODES)} "
                        f"(outreach.list_item.closed_reason), got {entry['code']!r}")
    if signal and action != "close":
        raise RuleError(f"outcome {label}: a signal takes the person off every list, so its action must be close")
    return Outcome(label, str(entry["code"]), action,
                   _int(f"outcome {label}", "suppress_days", entry.get("suppress_days", 0), 0, 36_500), signal)


def load_rules(path: Path | None = None) -> RuleSet:
    """The rule set in rules.yaml (or `path`), fully checked; RuleError names the first problem."""
    path = path or RULES_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RuleError(f"{path.name}: not valid YAML: {exc}") from None
    rules = tuple(parse_rule(entry, i) for i, entry in enumerate(document.get("rules") or [], start=1))
    ids = [rule.rule_id for rule in rules]
    if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
        raise RuleError(f"{path.name}: rule id(s) used twice: {', '.join(duplicated)}")
    outcomes = tuple(parse_outcome(entry, i) for i, entry in enumerate(document.get("outcomes") or [], start=1))
    if not outcomes:
        raise RuleError(f"{path.name}: no outcomes defined; staff need a drop-down to report back")
    labels = [o.label for o in outcomes]
    if len(set(labels)) != len(labels):
        raise RuleError(f"{path.name}: an outcome label is used twice")
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
    return RuleSet(rules, outcomes, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


# --- compiling -----------------------------------------------------------------------------------
# Every rule becomes one INSERT … SELECT over core.vaccination_status (resident x eligible vaccine)
# joined to core.person and the catalogue. Values are bound parameters, never pasted into the SQL,
# so a rule file cannot inject SQL; only the shape (which predicates) varies by rule.

_CANDIDATE_SQL = """
insert into outreach.candidate (run_id, rule_id, priority, reason, person_key, vaccine_code,
                                dose_number_due, doses_counted, last_dose_date, due_date)
with as_of as (
    select
        cast(:as_of as date) as as_of_date,
        make_date(extract(year from cast(:as_of as date))::int
                  - case when extract(month from cast(:as_of as date)) < 9 then 1 else 0 end, 9, 1) as season_start
),{ctes}
selected as (
    select s.person_key, s.vaccine_code, s.doses_counted, s.last_dose_date, p.birth_date,
           c.seasonal, c.min_age_months, c.dose_intervals_days
    from core.vaccination_status s
    join core.person p using (person_key)
    join core.vaccine_catalogue c using (vaccine_code)
    where s.vaccine_code = :vaccine
      and {predicate}
),
due as (
    select
        selected.*,
        -- eligibility began: the catalogue's minimum age, and the rule's own minimum age
        greatest((birth_date + make_interval(months => coalesce(min_age_months, 0)))::date,
                 (birth_date + make_interval(years => :rule_min_age))::date) as eligible_from
    from selected
),
final as (
    select
        due.*,
        case
            when seasonal then greatest(as_of.season_start, eligible_from)
            when doses_counted = 0 then eligible_from
            -- dose n+1 falls due the catalogue's minimum interval after dose n (none listed: at once)
            else last_dose_date + coalesce(dose_intervals_days[doses_counted], 0)
        end as due_date
    from due
    cross join as_of
)
select :run_id, :rule_id, :priority, :reason, person_key, vaccine_code,
       doses_counted + 1, doses_counted, last_dose_date, due_date
from final
cross join as_of
where due_date <= as_of.as_of_date - :min_days_overdue
"""

_STATUS_SQL = {
    "not_complete": "not s.is_complete",
    "no_dose_this_season": "s.doses_counted = 0",  # seasonal vaccines count this season's doses only
    "missing_dose": "s.doses_counted = :dose - 1",
}

# Living alone as a set computed once (households with one resident, plus 高龄独居 recipients): a
# per-person "no other resident in the household OR a recipient" test defeats the planner's
# anti-join and turns quadratic (12 s for 50,000 persons, against 0.1 s this way).
_LIVING_ALONE_CTE = """
living_alone as (
    select p1.person_key
    from core.person p1
    join (select household_no from core.person
          where residency_status = 'resident' and household_no is not null
          group by household_no having count(*) = 1) single using (household_no)
    where p1.residency_status = 'resident'
    union
    select person_key from core.service_recipient where is_current and category = :living_alone_category
),"""


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    predicate: str  # the WHERE clause over s (vaccination_status) and p (person)
    params: dict[str, Any]

    ctes: str = ""  # named sets the predicate refers to

    def statement(self) -> str:
        return _CANDIDATE_SQL.format(predicate=self.predicate, ctes=self.ctes)


def compile_rule(rule: Rule) -> CompiledRule:
    """The rule's predicate over s = core.vaccination_status and p = core.person, with its parameters."""
    clauses = [_STATUS_SQL[rule.status]]
    params: dict[str, Any] = {"vaccine": rule.vaccine, "rule_id": rule.rule_id, "priority": rule.priority,
                              "reason": rule.reason, "min_days_overdue": rule.min_days_overdue,
                              "rule_min_age": rule.min_age or 0}
    if rule.dose is not None:
        params["dose"] = rule.dose
    if rule.min_age is not None:
        clauses.append("p.age_years >= :min_age")
        params["min_age"] = rule.min_age
    if rule.max_age is not None:
        clauses.append("p.age_years <= :max_age")
        params["max_age"] = rule.max_age
    if rule.sex is not None:
        clauses.append("p.sex = :sex")
        params["sex"] = rule.sex
    if rule.living_alone is not None:
        negate = "" if rule.living_alone else "not "
        clauses.append(f"s.person_key {negate}in (select person_key from living_alone)")
        params["living_alone_category"] = LIVING_ALONE_CATEGORY
    if rule.population_type:
        clauses.append("p.population_type = any(:population_type)")
        params["population_type"] = list(rule.population_type)
    if rule.community:
        clauses.append("p.community = any(:community)")
        params["community"] = list(rule.community)
    if rule.service_recipient_category:
        clauses.append("exists (select 1 from core.service_recipient r where r.person_key = p.person_key "
                       "and r.is_current and r.category = any(:service_recipient_category))")
        params["service_recipient_category"] = list(rule.service_recipient_category)
    ctes = _LIVING_ALONE_CTE if rule.living_alone is not None else ""
    return CompiledRule(rule, "\n      and ".join(clauses), params, ctes)
