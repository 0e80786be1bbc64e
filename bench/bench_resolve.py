"""Benchmark person resolution: pairwise precision/recall/F1 (overall, per planted defect), review share, time, memory.

Writes a synthetic city straight into the staging tables of a throwaway warehouse (residents, their
vaccination records, service recipients), each record tagged with the true person and the defect
planted in it, runs resolve_all once (model training included) and once more on a daily delta, and
compares links with the truth. The department simulator (plugins/community_dw/simulate) is not used
yet: it needs the whole ingest chain; this bench plants the defects that reach resolution.

    .venv/bin/python bench/bench_resolve.py --residents 100000
Targets (issue 7): F1 >= 0.995, review < 0.5% of records, 1,000,000 residents in <= 3 min and 4 GB.
Peak memory is this process's (pandas, DuckDB/Splink); PostgreSQL's own memory is not counted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import uuid

import numpy as np
import pandas as pd
import sqlalchemy as sa

from community_dw.standardize.id_number import check_digits
from community_dw.warehouse.copy import copy_frame

SURNAMES = list("陈李黄张梁林刘吴罗何郑杨谢周王邓冯叶曾苏卢钟朱蔡潘余许赖彭胡郭邱廖方莫徐孙赵马唐")
GIVEN = list("国建华伟军明强志文平荣福贵庆发德成金海秀英桂兰芳凤珍玉丽梅娟俊杰浩斌涛鹏辉勇波磊峰健"
             "子轩宇梓睿博泽铭辰皓煜嘉航乐晨涵欣怡诺雨萱可馨思语佳琪悦彤晴钰婷敏静燕艳颖洁慧琳雪倩")


def city(n: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pid = np.arange(n)
    surname = rng.choice(SURNAMES, n)
    given = np.where(rng.random(n) < 0.7, rng.choice(GIVEN, n).astype(object) + rng.choice(GIVEN, n).astype(object),
                     rng.choice(GIVEN, n).astype(object))
    name = surname.astype(object) + given
    birth = pd.Timestamp("1935-01-01") + pd.to_timedelta(rng.integers(0, 90 * 365, n), "D")
    sex = rng.choice(["M", "F"], n)
    seq = rng.integers(0, 99, n) * 10 + np.where(sex == "M", 1, 2) + rng.integers(0, 4, n) * 2
    body = pd.Series(["442000" + b.strftime("%Y%m%d") + f"{s % 1000:03d}" for b, s in zip(birth, seq, strict=True)])
    ids = body + check_digits(body)
    ids = ids.where(~ids.duplicated(), None)
    household = pid // 3
    phone = pd.Series([f"13{x:09d}" for x in rng.integers(0, 10**9, n)])
    people = pd.DataFrame({"pid": pid, "name": name, "birth_date": birth.date, "sex": sex, "id_number": ids,
                           "phone": phone, "household_no": [f"H{h}" for h in household]})
    people.loc[rng.random(n) < 0.02, "id_number"] = None   # passport holders

    res = people.copy()
    res["defect"] = "clean"
    wrong = (rng.random(n) < 0.002) & res.id_number.notna()
    res.loc[wrong, "id_number"] = res.loc[wrong, "id_number"].str[:17] + "0"
    res.loc[wrong, "defect"] = "id_wrong_check"
    res.loc[res.id_number.isna() & (res.defect == "clean"), "defect"] = "id_blank"
    nophone = rng.random(n) < 0.02
    res.loc[nophone, "phone"] = None

    # vaccinations: ~1.3 per person; children under 7 often without ID; some day-month swaps
    k = int(n * 1.3)
    who = rng.integers(0, n, k)
    vac = people.iloc[who].reset_index(drop=True)
    vac["defect"] = "clean"
    child = pd.to_datetime(vac.birth_date) > pd.Timestamp("2019-11-01")
    blank = child & (rng.random(k) < 0.3)
    vac.loc[blank, "id_number"] = None
    vac.loc[blank, "defect"] = "child_id_blank"
    vac.loc[vac.id_number.isna() & (vac.defect == "clean"), "defect"] = "id_blank"
    bd = pd.to_datetime(vac.birth_date)
    swap = (rng.random(k) < 0.003) & (bd.dt.day <= 12) & (bd.dt.day != bd.dt.month) & vac.id_number.notna()
    vac.loc[swap, "birth_date"] = pd.to_datetime(
        bd[swap].dt.year.astype(str) + "-" + bd[swap].dt.day.astype(str) + "-" + bd[swap].dt.month.astype(str)).dt.date
    vac.loc[swap, "defect"] = "birth_date_swapped"
    typo = (rng.random(k) < 0.002) & vac.id_number.notna() & ~swap
    vac.loc[typo, "id_number"] = vac.loc[typo, "id_number"].str[:17] + "0"
    vac.loc[typo, "defect"] = "id_wrong_check"

    m = int(n * 0.03)
    rec = people.iloc[rng.choice(n, m, replace=False)].reset_index(drop=True)
    rec["defect"] = "clean"
    typo = (rng.random(m) < 0.01) & rec.id_number.notna()
    rec.loc[typo, "id_number"] = rec.loc[typo, "id_number"].str[:17] + "0"
    rec.loc[typo, "defect"] = "id_wrong_check"
    rec.loc[rec.id_number.isna() & (rec.defect == "clean"), "defect"] = "id_blank"
    return res, vac, rec


def valid(ids: pd.Series) -> pd.Series:
    ok = ids.notna()
    out = pd.Series(False, index=ids.index)
    out[ok] = ids[ok].str[17] == pd.Series(check_digits(ids[ok].str[:17]), index=ids[ok].index)
    return out


def load(engine: sa.Engine, res: pd.DataFrame, vac: pd.DataFrame, rec: pd.DataFrame, load_id: int, offset: int) -> pd.DataFrame:
    """COPY the records into staging; returns the truth (source, record_ref, pid, defect)."""
    res = res.assign(load_id=load_id, source_row=np.arange(len(res)) + 1, delivery_kind="full",
                     delivery_date="2026-11-01", id_valid=valid(res.id_number), phone_primary=res.phone)
    vac = vac.assign(record_id=np.arange(len(vac)) + offset, load_id=load_id, source_row=np.arange(len(vac)) + 1,
                     recipient_name=vac.name, id_valid=valid(vac.id_number), phone_primary=vac.phone,
                     vaccine_code="FLU", dose_number=1, vaccinated_at="2026-10-01", updated_at="2026-10-01")
    rec = rec.assign(recipient_id=[f"R{i + offset}" for i in range(len(rec))], load_id=load_id, source_row=1,
                     id_valid=valid(rec.id_number), category="低保", updated_at="2026-10-01")
    with engine.begin() as conn:
        copy_frame(conn.connection, "staging.stg_public_security__resident", res,
                   ["load_id", "source_row", "delivery_kind", "delivery_date", "name", "id_number", "id_valid",
                    "birth_date", "sex", "phone_primary", "household_no"])
        copy_frame(conn.connection, "staging.stg_health__vaccination_record", vac,
                   ["record_id", "load_id", "source_row", "recipient_name", "id_number", "id_valid", "birth_date",
                    "sex", "phone_primary", "vaccine_code", "dose_number", "vaccinated_at", "updated_at"])
        copy_frame(conn.connection, "staging.stg_civil_affairs__service_recipient", rec,
                   ["recipient_id", "load_id", "source_row", "name", "id_number", "id_valid", "category", "updated_at"])
    return pd.concat([
        pd.DataFrame({"source": "public_security.residents", "record_ref": res.load_id.astype(str) + ":" + res.source_row.astype(str),
                      "pid": res.pid, "defect": res.defect}),
        pd.DataFrame({"source": "health.vaccination_record", "record_ref": vac.record_id.astype(str), "pid": vac.pid,
                      "defect": vac.defect}),
        pd.DataFrame({"source": "civil_affairs.service_recipients", "record_ref": rec.recipient_id, "pid": rec.pid,
                      "defect": rec.defect})])


def pairwise(frame: pd.DataFrame) -> pd.DataFrame:
    """Ordered-pair precision/recall/F1 anchored at each record, summed overall and per defect type."""
    cell = frame.groupby(["pid", "person_key"]).pid.transform("size") - 1
    pred = frame.groupby("person_key").pid.transform("size") - 1
    true = frame.groupby("pid").pid.transform("size") - 1
    parts = pd.DataFrame({"defect": frame.defect, "tp": cell, "pred": pred, "true": true})
    rows = {"overall": parts[["tp", "pred", "true"]].sum(), **{d: g[["tp", "pred", "true"]].sum()
                                                              for d, g in parts.groupby("defect")}}
    out = pd.DataFrame(rows).T
    out["records"] = [len(parts)] + [int((parts.defect == d).sum()) for d in out.index[1:]]
    out["precision"] = out.tp / out.pred.where(out.pred > 0)
    out["recall"] = out.tp / out.true.where(out.true > 0)
    out["f1"] = 2 * out.precision * out.recall / (out.precision + out.recall)
    return out[["records", "precision", "recall", "f1"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    args = parser.parse_args()

    sys.path.insert(0, "tests")
    from conftest import _server_url, create_database, drop_database

    from community_dw.resolve.run import resolve_all
    from community_dw.warehouse.migrate import discover

    server = _server_url()
    url = create_database(server, f"cdw_bench_{uuid.uuid4().hex[:6]}")
    engine = sa.create_engine(url)
    try:
        # The migration files run raw (no bookkeeping needed in a throwaway database, and a file with
        # a literal % is not mistaken for parameters); only those resolution depends on.
        with engine.begin() as conn, conn.connection.cursor() as cur:
            for migration in discover():
                if migration.version > 10:  # resolution needs nothing later (V0010__resolve)
                    break
                cur.execute(migration.path.read_text(encoding="utf-8"))
        res, vac, rec = city(args.residents)
        truth = load(engine, res, vac, rec, 1, 1)
        t0 = time.perf_counter()
        counts = resolve_all(engine)
        seconds = time.perf_counter() - t0
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

        # daily delta: 0.3% of the people again (new vaccination records), linked against the city
        d_res, d_vac, d_rec = city(args.residents)
        sample = d_vac.sample(frac=0.003, random_state=3)
        delta_truth = load(engine, d_res.iloc[:0], sample, d_rec.iloc[:0], 2, 10**8)
        t1 = time.perf_counter()
        delta_counts = resolve_all(engine)
        delta_seconds = time.perf_counter() - t1

        with engine.connect() as conn:
            links = pd.read_sql("select source, record_ref, person_key from core.person_link", conn)
            review_records = conn.execute(sa.text(
                "select count(distinct (source, record_ref)) from review.person_match")).scalar()
        joined = pd.concat([truth, delta_truth]).merge(links, on=["source", "record_ref"], how="left")
        assert joined.person_key.notna().all(), "every record must be linked"
        metrics = pairwise(joined)
        print(f"residents {args.residents:,}; records {len(truth):,} (+{len(delta_truth):,} in the delta)")
        print(f"resolve (first run, incl. training): {seconds:.1f} s, peak RSS of this process {peak_gb:.2f} GB")
        print(f"daily delta: {delta_seconds:.1f} s; counts {delta_counts}")
        print(f"first-run counts: {counts}")
        print(f"review queue: {review_records:,} records = {review_records / len(joined):.3%} of records")
        print(metrics.to_string(float_format=lambda v: f"{v:.5f}"))
    finally:
        engine.dispose()
        drop_database(server, url)


if __name__ == "__main__":
    main()
