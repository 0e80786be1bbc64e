"""Accuracy and time of `cdw match-list` on a staff list drawn from a simulated city's ground truth.

A city is simulated (day 1) and run through the whole pipeline (ingest → resolve → core) in a
throwaway warehouse, as the report tests do. A list is then drawn from the truth of one community:
a share of its present residents plus some people of other communities (who must come back
unmatched), written as an XLSX with a title row and shuffled headers, with planted defects: a
mistyped given-name character, names in traditional characters, ID numbers left out, ID numbers
with a wrong check digit, phones left out. Each row's truth is mapped to its warehouse person_key
through the public-security record it came from (core.person_link), and the matches are scored.

    .venv/bin/python bench/bench_match_list.py [--residents 6000] [--share 0.3] [--seed 5]

Prints precision and recall (of 已匹配 rows), the 待核实 share, accuracy per defect, complement
precision/recall, and seconds. Uses CDW_TEST_DATABASE_URL's server when set, else the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

TOKEN = "bench-match-list"
#: Defects planted per list row (a row may get several): probability each applies.
RATES = {"name_typo": 0.08, "traditional": 0.10, "id_missing": 0.30, "id_wrong_check": 0.05, "phone_missing": 0.3}
TYPO_CHARS = "国建华伟军明强志文平荣福贵庆发德成金海秀英桂兰芳凤珍玉丽梅娟俊杰浩斌涛鹏辉勇波磊峰健"


def _server_url() -> str:
    from community_dw.config import normalize_postgres_url

    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


def _database(admin: sa.Engine, server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def build_city(landing: Path, residents: int, per_community: int, seed: int, url: str, health_url: str) -> float:
    from community_dw.pipeline import run_pipeline
    from community_dw.simulate.api_server import running_api
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    config = SimConfig(residents=residents, residents_per_community=per_community, days=1, seed=seed)
    started = time.perf_counter()
    generate_city(landing, config, health_url)
    with running_api(landing, TOKEN) as api:
        os.environ.update({"CDW_WAREHOUSE_URL": url, "CDW_LANDING_DIR": str(landing),
                           "CDW_HEALTH_DB_URL": health_url, "CDW_CIVIL_AFFAIRS_URL": api.url,
                           "CDW_CIVIL_AFFAIRS_TOKEN": TOKEN})
        summary = run_pipeline(config.day_date(1), progress=lambda message: None)
    if summary.ingest_failures:
        raise SystemExit(f"ingest failed: {summary.ingest_failures}")
    return time.perf_counter() - started


def person_keys(engine: sa.Engine, landing: Path) -> pd.DataFrame:
    """truth person_id -> warehouse person_key, through the public-security row each person came from."""
    from community_dw.simulate.truth import read_truth

    records = read_truth(landing, "public_security_records")[["file", "sheet_row", "person_id"]]
    with engine.connect() as conn:
        links = pd.DataFrame(conn.execute(sa.text(
            "select r.delivery_name as file, split_part(l.record_ref, ':', 2)::int as sheet_row, l.person_key "
            "from core.person_link l join audit.load_run r on r.load_id = split_part(l.record_ref, ':', 1)::bigint "
            "where l.source = 'public_security.residents'")).mappings().all())
    joined = records.merge(links, on=["file", "sheet_row"])
    return joined.drop_duplicates("person_id").set_index("person_id")["person_key"]


def draw_list(persons: pd.DataFrame, community: str, share: float, outsiders: int,
              rng: random.Random) -> tuple[pd.DataFrame, list[list[object]]]:
    """(truth per list row: person_id, in_community, defects; the rows to write, header first)."""
    import opencc

    to_traditional = opencc.OpenCC("s2t")
    present = persons[persons.status == "present"]
    inside = present[present.community == community]
    chosen = inside.sample(frac=share, random_state=rng.randrange(10**6))
    others = present[present.community != community]
    chosen = pd.concat([chosen.assign(in_community=True),
                        others.sample(min(outsiders, len(others)), random_state=rng.randrange(10**6))
                        .assign(in_community=False)]).sample(frac=1, random_state=rng.randrange(10**6))
    header = ["备注", "手机", "姓名", "序号", "公民身份号码"]
    rows: list[list[object]] = [["某社区流感疫苗接种意向登记表"], [], header]
    truth = []
    for number, person in enumerate(chosen.itertuples(), start=1):
        defects = [name for name, rate in RATES.items() if rng.random() < rate]
        name, id_number = person.name, person.id_number or None
        phone = person.mobile or None
        if "name_typo" in defects and len(name) >= 2:
            position = rng.randrange(1, len(name))
            name = name[:position] + rng.choice([c for c in TYPO_CHARS if c != name[position]]) + name[position + 1:]
        if "traditional" in defects:
            name = to_traditional.convert(name)
        if "id_missing" in defects:
            id_number = None
        elif "id_wrong_check" in defects and id_number:
            id_number = id_number[:17] + rng.choice([c for c in "0123456789X" if c != id_number[17]])
        if "phone_missing" in defects:
            phone = None
        rows.append([None, phone, name, number, id_number])
        truth.append({"person_id": person.person_id, "in_community": person.in_community,
                      "defects": ",".join(defects) or "clean"})
    return pd.DataFrame(truth), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=6000)
    parser.add_argument("--per-community", type=int, default=3000)
    parser.add_argument("--share", type=float, default=0.3, help="share of the community's residents on the list")
    parser.add_argument("--outsiders", type=int, default=50, help="people of other communities on the list")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--show", type=int, default=0, help="print this many missed and wrong rows")
    args = parser.parse_args()

    from openpyxl import Workbook

    from community_dw.outreach.match_list import match_list
    from community_dw.simulate.truth import read_truth
    from community_dw.warehouse.migrate import migrate

    server = _server_url()
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    url, health_url = _database(admin, server, "cdw_bench_match"), _database(admin, server, "cdw_bench_match_health")
    engine = sa.create_engine(url)
    try:
        migrate(engine)
        with tempfile.TemporaryDirectory() as folder:
            landing = Path(folder) / "landing"
            built = build_city(landing, args.residents, args.per_community, args.seed, url, health_url)
            print(f"city: {args.residents:,} residents simulated and run through the pipeline in {built:.0f}s")
            persons = read_truth(landing, "persons")
            keys = person_keys(engine, landing)
            community = persons[persons.status == "present"].community.value_counts().index[0]
            rng = random.Random(args.seed)
            truth, rows = draw_list(persons, community, args.share, args.outsiders, rng)
            truth["person_key"] = truth.person_id.map(keys).astype("Int64")
            list_path = Path(folder) / "意向登记表.xlsx"
            workbook = Workbook()
            for row in rows:
                workbook.active.append(row)
            workbook.save(list_path)

            started = time.perf_counter()
            result = match_list(engine, list_path, community=community, out_dir=Path(folder) / "out",
                                person_keys=True)
            seconds = time.perf_counter() - started

        decided = result.rows.reset_index(drop=True).rename(columns={"person_key": "matched_key"}).join(truth)
        expected = decided.in_community & decided.person_key.notna()
        matched = decided.status == "已匹配"
        correct = matched & expected & (decided.matched_key == decided.person_key)
        verify = decided.status == "待核实"
        verify_right = verify & expected & (decided.matched_key == decided.person_key)
        precision = correct.sum() / max(matched.sum(), 1)
        recall = correct.sum() / max(expected.sum(), 1)
        print(f"list: {len(decided):,} rows from {community} ({int(expected.sum()):,} residents, "
              f"{int((~decided.in_community).sum())} from other communities); candidates {result.counts['candidates']:,}")
        print(f"matched {int(matched.sum()):,} (by ID {result.counts['by_id_number']:,}, probabilistic "
              f"{result.counts['probabilistic']:,}), 待核实 {int(verify.sum()):,} "
              f"({int(verify_right.sum())} with the right candidate), unmatched {int((decided.status == '未匹配').sum()):,}")
        print(f"precision {precision:.4f}  recall {recall:.4f}  (of 已匹配 rows; 待核实 counts as not matched)")
        wrong = decided[matched & ~(expected & (decided.matched_key == decided.person_key))]
        missed = decided[expected & ~correct]
        per_defect: Counter[str] = Counter()
        per_defect_ok: Counter[str] = Counter()
        for row in decided[expected].itertuples():
            for defect in row.defects.split(","):
                per_defect[defect] += 1
                per_defect_ok[defect] += int(row.status == "已匹配" and row.matched_key == row.person_key)
        print("recall per defect: " + ", ".join(f"{d} {per_defect_ok[d] / per_defect[d]:.3f} ({per_defect[d]})"
                                                 for d in sorted(per_defect)))
        print(f"wrong matches: {len(wrong)}; missed: {len(missed)} "
              f"({dict(Counter(missed.status))})")
        if args.show:
            listed_rows = {index: row for index, row in enumerate(rows[3:])}
            for label, frame in (("wrong", wrong), ("missed", missed)):
                for row in frame.head(args.show).itertuples():
                    person = persons.set_index("person_id").loc[row.person_id]
                    print(f"  {label} row {row.source_row}: list {listed_rows[row.Index][1:]} -> {row.status} "
                          f"{row.method} key {row.matched_key} p={row.probability} ({row.note}); truth key "
                          f"{row.person_key} {person['name']} {person['id_number']} {person['mobile']} "
                          f"{person['birth_date']} [{row.defects}]")

        with engine.connect() as conn:
            residents = {int(k) for (k,) in conn.execute(sa.text(
                "select person_key from core.person where community = :c and residency_status = 'resident'"),
                {"c": community})}
        listed = set(decided.loc[expected, "person_key"].astype(int))
        want = residents - listed
        got = set(result.complement.person_key.astype(int))
        print(f"complement: {len(got):,} residents not on the list; precision {len(got & want) / max(len(got), 1):.4f} "
              f"recall {len(got & want) / max(len(want), 1):.4f}")
        print(f"match-list: {seconds:.1f}s for {len(decided):,} rows against {result.counts['candidates']:,} "
              f"candidates ({result.model})")
    finally:
        engine.dispose()
        from community_dw.warehouse.connection import _engine_for

        _engine_for(url).dispose()
        with admin.connect() as conn:
            for database in (url, health_url):
                conn.exec_driver_sql(f'drop database if exists "{make_url(database).database}" with (force)')
        admin.dispose()


if __name__ == "__main__":
    main()
