"""Outreach lists scored against the simulator's ground truth (`_truth/`), never against the warehouse.

Which true persons each rule of rules.yaml should list is recomputed here in pandas from the truth,
with the rule keys' meanings as rules.yaml documents them (written out again, not the compiled SQL):

- residents, ages, eligibility, doses and doses counted are the marts' truth test's
  (tests/integration/marts/truth_figures.py: `Truth`, `vaccination_status`, `doses`);
- not_complete: doses counted < doses required; no_dose_this_season: no dose since 1 September;
  missing_dose n: exactly n - 1 doses counted;
- min_age / max_age: whole years at the as-of date; sex; population_type; community;
- living_alone: the only present resident of the household (户号), or a current 高龄独居 recipient;
- service_recipient_category: a current recipient (valid_from <= as-of <= valid_to) of one of them;
- when the missing dose fell due: a first dose when eligibility began (the catalogue's minimum age and
  the rule's min_age), a seasonal dose at the season's start (or eligibility, if later), dose n + 1
  the catalogue's minimum interval after dose n (SOURCES.md: COVID dose 2 21 days after dose 1,
  booster 182 days after dose 2; HEPB 28, 60; MMR dose 1 at 8 months, dose 2 at 18 months = 300
  days after dose 1; HPV 30, 90); listed when it fell due at least min_days_overdue days ago;
- one need per person and vaccine: where several rules select a person for the same vaccine, the
  most urgent (priority, then rule id) keeps them.

`simulate_and_build` simulates a city and runs the real pipeline (once, or every simulated day) to
the outreach lists; the bench (bench/bench_outreach.py --truth) and test_outreach_truth.py use it.

The bridge to the warehouse is the marts' `person_map`: each list item's person_key stands for the
truth person behind its public-security records. Every item the truth does not expect and every
expected need not listed is explained (`explain`): a resolution merge or split, a dose record linked
to someone else or to no one, a different birth date / age, residency, household, or due date.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from community_dw.outreach.rules import Rule, RuleSet, load_rules
from tests.city_env import city_environment
from tests.integration.marts import truth_figures as tf

#: SOURCES.md's minimum interval from dose n to dose n + 1 (index 0 = dose 1 -> 2), in days.
INTERVALS = {"COVID-INACT": (21, 182), "HEPB": (28, 60), "MMR": (300,), "HPV": (30, 90), "FLU": (), "PPSV23": ()}
LIVING_ALONE_CATEGORY = "高龄独居"


def _add_months(days: pd.Series, months: int) -> pd.Series:
    return (pd.to_datetime(days) + pd.DateOffset(months=months)).dt.date


def current_recipients(truth: tf.Truth) -> pd.DataFrame:
    rec = truth.recipients
    as_of = pd.Timestamp(truth.as_of)
    valid_from, valid_to = pd.to_datetime(rec.valid_from), pd.to_datetime(rec.valid_to)
    return rec[(valid_from.isna() | (valid_from <= as_of)) & (valid_to.isna() | (valid_to >= as_of))]


def living_alone(truth: tf.Truth) -> set[int]:
    r = truth.residents
    members = r.groupby("household_no").person_id.size()
    alone = set(r.person_id[r.household_no.map(members) == 1])
    rec = current_recipients(truth)
    return alone | set(rec.person_id[rec.category == LIVING_ALONE_CATEGORY])


@dataclass
class Expected:
    """The truth's lists: one row per (person_id, rule_id) need, and the facts behind them."""

    needs: pd.DataFrame  # person_id, rule_id, vaccine_code, priority, doses_counted, due_date
    status: pd.DataFrame  # tf.vaccination_status + last_dose_date
    alone: set[int]
    before_precedence: pd.DataFrame = field(repr=False)  # every rule's selection, before one-need-per-vaccine


def expected_needs(truth: tf.Truth, rules: RuleSet | None = None) -> Expected:
    rules = rules or load_rules()
    status = tf.vaccination_status(truth)
    last = tf.doses(truth).groupby(["person_id", "vaccine_code"]).vaccinated_date.max().rename("last_dose_date")
    status = status.merge(last.reset_index(), on=["person_id", "vaccine_code"], how="left")
    r = truth.residents.set_index("person_id")
    status = status.join(r[["age_years", "sex_code", "population_type"]], on="person_id")
    alone = living_alone(truth)
    recipients = current_recipients(truth)
    season_start = date(truth.as_of.year - (truth.as_of.month < 9), 9, 1)
    catalogue = tf.CATALOGUE.set_index("vaccine_code")
    frames = []
    for rule in rules.active:
        s = status[status.vaccine_code == rule.vaccine]
        s = s[_selects(rule, s, alone, recipients)]
        eligible_from = np.maximum(_add_months(s.birth_date, int(catalogue.loc[rule.vaccine, "min_age_months"] or 0)),
                                   _add_months(s.birth_date, 12 * (rule.min_age or 0)))
        intervals = INTERVALS[rule.vaccine]
        after_last = [last + pd.Timedelta(days=intervals[n - 1] if n - 1 < len(intervals) else 0)
                      if n > 0 else None for last, n in zip(s.last_dose_date, s.doses_counted, strict=True)]
        if bool(catalogue.loc[rule.vaccine, "seasonal"]):
            due = np.maximum(eligible_from, season_start)
        else:
            due = pd.Series(np.where(s.doses_counted == 0, eligible_from, after_last), index=s.index)
        s = s.assign(rule_id=rule.rule_id, priority=rule.priority, due_date=due)
        overdue = s.due_date.map(lambda d: (truth.as_of - d).days)
        frames.append(s[overdue >= rule.min_days_overdue])
    selected = pd.concat(frames, ignore_index=True)[
        ["person_id", "rule_id", "vaccine_code", "priority", "doses_counted", "last_dose_date", "due_date"]]
    needs = (selected.sort_values(["person_id", "vaccine_code", "priority", "rule_id"])
             .drop_duplicates(["person_id", "vaccine_code"]).reset_index(drop=True))
    return Expected(needs, status, alone, selected)


def _selects(rule: Rule, s: pd.DataFrame, alone: set[int], recipients: pd.DataFrame) -> pd.Series:
    if rule.status == "not_complete":
        ok = ~s.is_complete
    elif rule.status == "no_dose_this_season":
        ok = s.doses_counted == 0
    else:
        ok = s.doses_counted == rule.dose - 1
    if rule.min_age is not None:
        ok &= s.age_years >= rule.min_age
    if rule.max_age is not None:
        ok &= s.age_years <= rule.max_age
    if rule.sex is not None:
        ok &= s.sex_code == rule.sex
    if rule.living_alone is not None:
        ok &= s.person_id.isin(alone) == rule.living_alone
    if rule.population_type:
        ok &= s.population_type.isin(rule.population_type)
    if rule.community:
        ok &= s.community.isin(rule.community)
    if rule.service_recipient_category:
        ok &= s.person_id.isin(recipients.person_id[recipients.category.isin(rule.service_recipient_category)])
    return ok


# ----------------------------------------------------------------------------------------------
# the city, through the real pipeline

def simulate_and_build(landing: Path, url: str, health_url: str, residents: int, days: int, seed: int,
                       daily: bool, progress=print) -> dict[str, float]:
    """Simulate a city into `landing` and run the real pipeline to outreach lists; seconds per phase.

    Once for the last day (every delivery up to it), or with `daily` once per simulated day, the
    health replica and the civil-affairs API advanced to each day as the demo does.
    """
    from community_dw.pipeline import run_pipeline
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig
    from community_dw.simulate.health import apply_health_day

    config = SimConfig(residents=residents, days=days, seed=seed)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    generate_city(landing, config, health_url, through_day=1 if daily else None)
    seconds["simulate"] = time.perf_counter() - started
    started = time.perf_counter()
    with city_environment(landing, health_url, url, extra={"CDW_OUTPUT_DIR": str(landing / "_out")}) as api:
        for day in range(1, days + 1) if daily else [days]:
            if daily:
                if day > 1:
                    apply_health_day(health_url, landing, day)
                api.state.set_as_of(datetime.combine(config.day_date(day), clock(23, 59, 59),
                                                     ZoneInfo("Asia/Shanghai")))
            summary = run_pipeline(config.day_date(day), progress=lambda message: None)
            if summary.ingest_failures:
                raise SystemExit(f"day {day}: ingest failed: {summary.ingest_failures}")
            outreach = summary.details.get("outreach lists") or {}
            progress(f"  pipeline for {config.day_date(day)}: {sum(summary.seconds.values()):.0f}s; outreach "
                     + ", ".join(f"{k} {outreach.get(k)}" for k in
                                 ("items_opened", "items_refreshed", "items_closed", "items_open_after")))
    seconds["pipeline"] = time.perf_counter() - started
    return seconds


# ----------------------------------------------------------------------------------------------
# the warehouse side


@dataclass
class Listed:
    """The open items with the truth person behind each, and the warehouse facts to explain them."""

    items: pd.DataFrame  # item_id, person_key, rule_id, vaccine_code, doses_counted, due_date, person_id
    links: pd.DataFrame  # tf.person_map
    owner: pd.Series  # person_key -> person_id
    merged_keys: set[int]
    split_persons: set[int]
    person: pd.DataFrame  # core.person by person_key
    status: pd.DataFrame  # core.vaccination_status by (person_key, vaccine_code)
    alone_keys: set[int]
    candidates: pd.DataFrame  # outreach.candidate of the last run: person_key, rule_id, due_date


def _read(engine: sa.Engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


def owners(links: pd.DataFrame, person: pd.DataFrame, truth: tf.Truth) -> pd.Series:
    """person_key -> the truth person it stands for: among the persons behind its public-security
    records (the register is who the key is; else behind any of its records), the one whose birth
    date the golden record carries, then the most frequent."""
    ps = links[links.source == "public_security.residents"]
    rest = links[~links.person_key.isin(ps.person_key)]
    pick = pd.concat([ps, rest]).dropna(subset=["person_id"])
    counts = pick.groupby(["person_key", "person_id"]).size().rename("n").reset_index()
    born = truth.persons.set_index("person_id").birth_date
    counts["same_birth"] = (pd.to_datetime(counts.person_id.map(born)).to_numpy()
                            == pd.to_datetime(counts.person_key.map(person.birth_date)).to_numpy())
    counts = counts.sort_values(["person_key", "same_birth", "n", "person_id"], ascending=[True, False, False, True])
    return counts.drop_duplicates("person_key").set_index("person_key").person_id.astype(int)


def listed(engine: sa.Engine, truth: tf.Truth) -> Listed:
    links = tf.person_map(engine, truth)
    merged_keys, split_persons = tf.resolution_errors(links)
    person = _read(engine, "select person_key, birth_date, age_years, residency_status, household_no, sex "
                           "from core.person").set_index("person_key")
    owner = owners(links, person, truth)
    items = _read(engine, "select item_id, person_key, rule_id, vaccine_code, doses_counted, due_date "
                          "from outreach.list_item where status = 'open'")
    items["person_id"] = items.person_key.map(owner)
    status = _read(engine, "select person_key, vaccine_code, doses_counted, last_dose_date "
                           "from core.vaccination_status").set_index(["person_key", "vaccine_code"])
    alone = _read(engine, "select person_key from core.person p1 join (select household_no from core.person "
                          "where residency_status = 'resident' and household_no is not null group by household_no "
                          "having count(*) = 1) s using (household_no) where p1.residency_status = 'resident' "
                          "union select person_key from core.service_recipient "
                          f"where is_current and category = '{LIVING_ALONE_CATEGORY}'")
    candidates = _read(engine, "select person_key, rule_id, due_date from outreach.candidate")
    return Listed(items, links, owner, {int(k) for k in merged_keys}, {int(p) for p in split_persons},
                  person, status, set(alone.person_key), candidates)


# ----------------------------------------------------------------------------------------------
# scoring


@dataclass
class Score:
    per_rule: pd.DataFrame  # rule_id, listed, expected, true_positive, precision, recall
    false_positives: pd.DataFrame  # the items the truth does not expect, with a cause
    false_negatives: pd.DataFrame  # the needs not listed, with a cause

    @property
    def overall(self) -> dict[str, float]:
        t = self.per_rule[["listed", "expected", "true_positive"]].sum()
        return {"listed": int(t.listed), "expected": int(t.expected), "true_positive": int(t.true_positive),
                "precision": t.true_positive / t.listed if t.listed else 1.0,
                "recall": t.true_positive / t.expected if t.expected else 1.0}

    def causes(self) -> Counter:
        return Counter([("listed, not expected", c) for c in self.false_positives.cause]
                       + [("expected, not listed", c) for c in self.false_negatives.cause])

    def report(self) -> str:
        lines = [f"{'rule':<28}{'listed':>9}{'expected':>10}{'both':>9}{'precision':>11}{'recall':>9}"]
        for row in self.per_rule.itertuples():
            lines.append(f"{row.rule_id:<28}{row.listed:>9,}{row.expected:>10,}{row.true_positive:>9,}"
                         f"{row.precision:>11.4f}{row.recall:>9.4f}")
        o = self.overall
        lines.append(f"{'overall':<28}{o['listed']:>9,}{o['expected']:>10,}{o['true_positive']:>9,}"
                     f"{o['precision']:>11.4f}{o['recall']:>9.4f}")
        causes = self.causes()
        if causes:
            lines.append("misses by cause:")
            for (side, cause), n in sorted(causes.items(), key=lambda kv: (kv[0][0], -kv[1])):
                lines.append(f"  {side:<22} {n:>6,}  {cause}")
        return "\n".join(lines)


def score(expected: Expected, got: Listed, truth: tf.Truth) -> Score:
    need = expected.needs.assign(key=lambda d: list(zip(d.person_id, d.rule_id, strict=True)))
    items = got.items.copy()
    items["key"] = list(zip(items.person_id, items.rule_id, strict=True))
    # an expected need is met by the first item for it; a second item for the same person (a split) is not
    items["first"] = ~items.duplicated("key")
    items["hit"] = items.key.isin(set(need.key)) & items["first"]
    found = set(items.key[items.hit])
    need["hit"] = need.key.isin(found)
    rows = []
    for rule_id in sorted(set(need.rule_id) | set(items.rule_id)):
        i, n = items[items.rule_id == rule_id], need[need.rule_id == rule_id]
        tp = int(i.hit.sum())
        rows.append({"rule_id": rule_id, "listed": len(i), "expected": len(n), "true_positive": tp,
                     "precision": tp / len(i) if len(i) else 1.0, "recall": int(n.hit.sum()) / len(n) if len(n) else 1.0})
    fp = items[~items.hit].copy()
    fp["cause"] = [explain(expected, got, truth, row.person_key, row.person_id, row.rule_id, row.vaccine_code,
                           listed=True, duplicate=not row.first) for row in fp.itertuples()]
    fn = need[~need.hit].copy()
    fn["cause"] = [explain(expected, got, truth, None, row.person_id, row.rule_id, row.vaccine_code, listed=False)
                   for row in fn.itertuples()]
    return Score(pd.DataFrame(rows), fp.drop(columns=["key"]), fn.drop(columns=["key"]))


def explain(expected: Expected, got: Listed, truth: tf.Truth, person_key: int | None, person_id: float | None,
            rule_id: str, vaccine: str, *, listed: bool, duplicate: bool = False) -> str:
    """Why the list and the truth disagree about one person and rule: the first difference found."""
    if person_id is None or pd.isna(person_id):
        return "resolution: a person key with no truth person behind it"
    person_id = int(person_id)
    keys = sorted(set(got.links.person_key[got.links.person_id == person_id]))
    if duplicate:
        return "resolution split: the same person listed under two keys"
    if person_key is None:
        on_register = [k for k in keys if got.owner.get(k) == person_id]
        if not on_register:
            return "resolution: no person key stands for this person (merged into another or unlinked)"
        listed_keys = set(got.items.person_key[got.items.rule_id == rule_id])
        person_key = next((k for k in on_register if k in listed_keys), on_register[0])
    if person_key in got.merged_keys:
        return "resolution merge: the key holds records of several persons"
    if person_id in got.split_persons:
        health = got.links[(got.links.source == "health.vaccination_record") & (got.links.person_id == person_id)]
        records = set(truth.health.record_id[(truth.health.person_id == person_id)
                                             & (truth.health.vaccine_code == vaccine)].astype(str))
        if (health[health.record_ref.isin(records)].person_key != person_key).any():
            return f"resolution split: a {vaccine} dose record of the person linked to another key"
        return "resolution split: the person's records are spread over several keys"
    truth_row = truth.residents.set_index("person_id")
    if person_id not in truth_row.index:
        return "residency: not a resident in truth at the as-of date (moved out / died)"
    if person_key not in got.person.index or got.person.loc[person_key, "residency_status"] != "resident":
        return "residency: a resident in truth, not in core.person"
    wp, tp = got.person.loc[person_key], truth_row.loc[person_id]
    if pd.Timestamp(wp.birth_date) != pd.Timestamp(tp.birth_date):
        return "age: birth date differs from the truth"
    if int(wp.age_years) != int(tp.age_years):
        return "age: age at the as-of date differs"
    exp_rules = set(expected.needs.rule_id[(expected.needs.person_id == person_id)
                                           & (expected.needs.vaccine_code == vaccine)])
    listed_rules = set(got.items.rule_id[(got.items.person_key == person_key) & (got.items.vaccine_code == vaccine)])
    if listed and exp_rules:
        return f"precedence: truth expects {', '.join(sorted(exp_rules))} for this vaccine"
    if not listed and listed_rules:
        return f"precedence: listed under {', '.join(sorted(listed_rules))} instead"
    ts = expected.status.set_index(["person_id", "vaccine_code"])
    t_doses = int(ts.loc[(person_id, vaccine), "doses_counted"]) if (person_id, vaccine) in ts.index else None
    w_doses = (int(got.status.loc[(person_key, vaccine), "doses_counted"])
               if (person_key, vaccine) in got.status.index else None)
    if t_doses is None or w_doses is None:
        return f"eligibility: {vaccine} eligible in {'warehouse' if t_doses is None else 'truth'} only"
    if w_doses != t_doses:
        return _dose_cause(got, truth, person_key, person_id, vaccine, w_doses, t_doses)
    if (person_id in expected.alone) != (person_key in got.alone_keys):
        return "living alone: household of one / 高龄独居 differs"
    cand = got.candidates[(got.candidates.person_key == person_key) & (got.candidates.rule_id == rule_id)]
    if listed is False and not cand.empty:
        return "list merge: a candidate that no open item carries (suppressed, signalled, or not opened)"
    if listed is True and cand.empty:
        return "list merge: an open item no candidate of the last run supports"
    sel = expected.before_precedence
    if listed and sel[(sel.person_id == person_id) & (sel.rule_id == rule_id)].empty:
        return "due date / status: the rule selects the person in the warehouse only"
    return "unexplained"


def _dose_cause(got: Listed, truth: tf.Truth, person_key: int, person_id: int, vaccine: str,
                w_doses: int, t_doses: int) -> str:
    health = got.links[got.links.source == "health.vaccination_record"]
    truth_doses = truth.health[(truth.health.person_id == person_id) & (truth.health.vaccine_code == vaccine)]
    refs = health.set_index("record_ref").person_key
    elsewhere = [r for r in truth_doses.record_id.astype(str) if r in refs.index and refs[r] != person_key]
    unlinked = [r for r in truth_doses.record_id.astype(str) if r not in refs.index]
    if w_doses < t_doses and elsewhere:
        return "missing dose link: a dose record linked to another person key"
    if w_doses < t_doses and unlinked:
        return "missing dose link: a dose record linked to no one"
    if w_doses > t_doses:
        return "extra dose: the warehouse counts more doses than the truth"
    return "dose count differs (same records: dating / season / revocation)"
