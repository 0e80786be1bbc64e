"""Benchmark the resident standardizers: seconds per standardizer, rows/s and peak memory.

Generates resident-like rows with realistic repetition (households share an address, names repeat,
every ID number is distinct) and every quirk SOURCES.md lists, or reads a delivered CSV, then runs
each standardizer the staging step runs for 公安 residents. Target (issue 6): 1,000,000 rows in at
most 60 s and 2 GB peak.

    .venv/bin/python bench/bench_standardize.py                 # 1,000,000 generated rows
    .venv/bin/python bench/bench_standardize.py --rows 200000
    .venv/bin/python bench/bench_standardize.py --csv landing/public_security/residents_full_20250101.csv
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from community_dw import standardize as sz
from community_dw.standardize.id_number import check_digits

HEADERS = {"姓名": "name", "证件类型": "id_type", "公民身份号码": "id_number", "性别": "sex", "民族": "ethnicity",
           "出生日期": "birth_date", "联系电话": "phone", "户籍地址": "registered_address",
           "现住址": "current_address", "人口类型": "population_type"}

SURNAMES = list("陈李黄张梁林刘吴罗何郑杨谢周王邓冯叶曾苏卢钟朱蔡潘余许赖彭胡郭邱廖方莫徐孙赵马唐") + ["欧阳", "司徒"]
GIVEN = list("国建华伟军明强志文平荣福贵庆发德成金海秀英桂兰芳凤珍玉丽梅娟俊杰浩斌涛鹏辉勇波磊峰健"
             "子轩宇梓睿博泽铭辰皓煜嘉航乐晨涵欣怡诺雨萱可馨思语佳琪悦彤晴钰婷敏静燕艳颖洁慧琳雪倩")
TRAD = str.maketrans("陈黄刘张杨吴郑罗冯邓叶苏卢钟谢赵孙许华国伟军丽凤辉涛颖洁强荣贵庆发铭乐轩诺泽钰",
                     "陳黃劉張楊吳鄭羅馮鄧葉蘇盧鍾謝趙孫許華國偉軍麗鳳輝濤穎潔強榮貴慶發銘樂軒諾澤鈺")
UYGHUR = ["艾力", "买买提", "阿不都", "热依拉", "古丽", "努尔", "吐尔逊", "玉苏甫"]
DOTS = ["·", "•", "‧", ".", "・", ""]
REGIONS = ["442000", "440620", "440103", "440106", "430102", "450102", "410102", "360102", "510104", "500103"]
ROADS = ["中山路", "孙文中路", "兴中道", "博爱路", "起湾道", "岐关西路", "康华路", "湖滨路", "悦来南路", "莲员路", "富华道"]
SUBDISTRICTS = ["石岐街道", "东区街道", "西区街道", "南区街道", "小榄镇", "古镇镇", "沙溪镇", "坦洲镇"]
MOBILE = ["134", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "189", "177", "199"]
ETHNIC = ["汉族"] * 90 + ["汉"] * 5 + ["壮族", "土家族", "瑶族", "苗族", "回族"]
FULL = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def _pick(rng: np.random.Generator, values: list[str], n: int, p: np.ndarray | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def _mutate(rng: np.random.Generator, s: pd.Series, share: float, func: Callable[[str], str]) -> pd.Series:
    mask = rng.random(len(s)) < share
    s = s.copy()
    s[mask] = [func(v) for v in s[mask]]
    return s


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    """n resident rows: ~2.8 per household, every quirk of SOURCES.md at a realistic share."""
    rng = np.random.default_rng(seed)
    households = max(1, n * 10 // 28)
    hh = np.sort(rng.integers(0, households, size=n))

    # names: surname + one or two given characters; 0.5% Uyghur names with any middle dot
    w = 1.0 / np.arange(1, len(SURNAMES) + 1)
    surname = _pick(rng, SURNAMES, n, w / w.sum())
    given1 = _pick(rng, GIVEN, n)
    given2 = np.where(rng.random(n) < 0.7, _pick(rng, GIVEN, n), "")
    name = pd.Series(surname + given1 + given2, dtype=object)
    uy = rng.random(n) < 0.005
    name[uy] = _pick(rng, UYGHUR, int(uy.sum())) + _pick(rng, DOTS, int(uy.sum())) + _pick(rng, UYGHUR, int(uy.sum()))
    name = _mutate(rng, name, 0.03, lambda v: v.translate(TRAD))
    name = _mutate(rng, name, 0.02, lambda v: v[0] + " " + v[1:])
    name = _mutate(rng, name, 0.005, lambda v: v + "\u3000")

    # ID numbers: distinct per person
    region = _pick(rng, REGIONS, n)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 365 * 94, size=n), unit="D")
    born_text = pd.Series(born.strftime("%Y%m%d"), dtype="str")
    seq = pd.Series(rng.integers(0, 1000, size=n)).map("{:03d}".format)
    body = pd.Series(region, dtype="str") + born_text + seq.astype("str")
    ids = (body + pd.Series(check_digits(body), dtype="str")).astype(object)
    legacy = rng.random(n) < 0.02
    ids[legacy] = [v[:6] + v[8:17] for v in ids[legacy]]
    ids = _mutate(rng, ids, 0.005, lambda v: v[:-1] + str((int(v[-1]) + 1) % 10 if v[-1] != "X" else 0))
    ids = _mutate(rng, ids, 0.01, lambda v: v.lower())
    ids = _mutate(rng, ids, 0.01, lambda v: v.translate(FULL))
    ids = _mutate(rng, ids, 0.01, lambda v: v[:6] + " " + v[6:14] + "-" + v[14:])
    passport = rng.random(n) < 0.01
    ids[passport] = None
    id_type = np.where(passport, "护照", "居民身份证")

    sex_digit = body.str.slice(16, 17).astype(int).to_numpy() % 2
    sex = pd.Series(np.where(sex_digit == 1, "男", "女"), dtype=object)
    sex = _mutate(rng, sex, 0.05, lambda v: "1" if v == "男" else "2")
    sex = _mutate(rng, sex, 0.02, lambda v: "M" if v in ("男", "1") else "F")
    sex[rng.random(n) < 0.02] = None

    birth = pd.Series(born.strftime("%Y-%m-%d"), dtype=object)
    fmt = rng.random(n)
    birth[fmt < 0.25] = born_text[fmt < 0.25].to_numpy()
    slash = (fmt >= 0.25) & (fmt < 0.35)
    birth[slash] = [f"{d.year}/{d.month}/{d.day}" for d in born[slash]]
    cn = (fmt >= 0.35) & (fmt < 0.4)
    birth[cn] = [f"{d.year}年{d.month}月{d.day}日" for d in born[cn]]
    birth[rng.random(n) < 0.02] = None

    mobile = pd.Series(_pick(rng, MOBILE, n), dtype="str") + pd.Series(
        rng.integers(0, 10**8, size=n)).map("{:08d}".format).astype("str")
    phone = mobile.astype(object)
    phone = _mutate(rng, phone, 0.05, lambda v: "+86 " + v[:3] + " " + v[3:7] + " " + v[7:])
    phone = _mutate(rng, phone, 0.03, lambda v: "86" + v)
    phone = _mutate(rng, phone, 0.05, lambda v: v + "；0760-88" + v[-6:])
    phone = _mutate(rng, phone, 0.02, lambda v: v + "/" + v[-11:-8] + v[-8:][::-1])
    landline = rng.random(n) < 0.04
    phone[landline] = [f"0760-8{v[-7:]}" for v in mobile[landline]]
    phone[rng.random(n) < 0.02] = None

    road = _pick(rng, ROADS, households)
    sub = _pick(rng, SUBDISTRICTS, households)
    number = rng.integers(1, 300, size=households).astype(str)
    building = rng.integers(1, 30, size=households).astype(str)
    room = rng.integers(101, 3300, size=households).astype(str)
    prefix = np.where(rng.random(households) < 0.5, "广东省中山市", "")
    addr = pd.Series(prefix + sub + road + number + "号" + building + "栋" + room + "房", dtype=object)
    addr = _mutate(rng, addr, 0.05, lambda v: v.replace("栋", "幢"))
    addr = _mutate(rng, addr, 0.03, lambda v: v.replace("号", "號").translate(FULL))
    addr = _mutate(rng, addr, 0.03, lambda v: v.replace("号", " 号 "))
    current = addr.to_numpy()[hh]
    registered = np.where(rng.random(n) < 0.7, current, _pick(rng, REGIONS, n))

    return pd.DataFrame({
        "name": name, "id_type": id_type, "id_number": ids, "sex": sex, "ethnicity": _pick(rng, ETHNIC, n),
        "birth_date": birth, "phone": phone, "registered_address": registered, "current_address": current,
        "population_type": _pick(rng, ["户籍人口"] * 7 + ["流动人口"] * 3, n),
    }).astype("str")


def peak_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def run(df: pd.DataFrame) -> dict[str, float]:
    """Each resident standardizer once, timed; returns seconds per standardizer."""
    timings: dict[str, float] = {}
    results: dict[str, object] = {}

    def timed(label: str, func: Callable[[], object]) -> None:
        start = time.perf_counter()
        results[label] = func()
        timings[label] = time.perf_counter() - start

    timed("id_numbers", lambda: sz.standardize_id_numbers(df["id_number"]))
    timed("names", lambda: sz.standardize_names(df["name"]))
    timed("birth_dates", lambda: sz.parse_dates(df["birth_date"], max_date=pd.Timestamp.now()))
    timed("sex", lambda: sz.standardize_sex(df["sex"]))
    timed("id_conflicts", lambda: sz.id_conflicts(results["id_numbers"], results["birth_dates"]["date"],
                                                  results["sex"]))
    timed("phones", lambda: sz.standardize_phones(df["phone"]))
    timed("ethnicity", lambda: sz.standardize_ethnicity(df["ethnicity"]))
    timed("id_type", lambda: sz.standardize_id_type(df["id_type"]))
    timed("population_type", lambda: sz.standardize_population_type(df["population_type"]))
    timed("registered_address", lambda: sz.standardize_addresses(df["registered_address"]))
    timed("current_address", lambda: sz.standardize_addresses(df["current_address"]))
    timed("address_key", lambda: sz.address_key(results["current_address"], strip_prefixes=SUBDISTRICTS,
                                                building_level=True))
    ids = results["id_numbers"]
    print(f"  check: {int(ids['id_valid'].sum()):,} valid IDs, {int(ids['id_upgraded_from_15'].sum()):,} upgraded, "
          f"{int((ids['id_issue'] == 'bad_check_digit').sum()):,} bad check digits; "
          f"{int(results['names']['name_had_traditional'].sum()):,} traditional names; "
          f"{results['names']['name'].nunique():,} distinct names; "
          f"{int((results['phones']['phone_primary_type'] == 'mobile').sum()):,} mobile primaries")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", help="a residents CSV delivery to read instead of generating rows")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.csv:
        raw = pd.read_csv(args.csv, dtype=str, keep_default_na=False, encoding="gb18030")
        df = raw.rename(columns=HEADERS)[list(HEADERS.values())]
        source = args.csv
    else:
        df = generate(args.rows, args.seed)
        source = f"generated (seed {args.seed})"
    print(f"{len(df):,} rows, {source}: prepared in {time.perf_counter() - start:.1f} s, "
          f"peak {peak_mb():.0f} MB so far")

    timings = run(df)
    total = sum(timings.values())
    width = max(map(len, timings))
    for label, seconds in timings.items():
        print(f"  {label:<{width}}  {seconds:7.2f} s  {len(df) / seconds:>12,.0f} rows/s")
    print(f"  {'TOTAL':<{width}}  {total:7.2f} s  {len(df) / total:>12,.0f} rows/s")
    peak = peak_mb()
    print(f"peak memory (ru_maxrss): {peak:,.0f} MB")
    ok = total <= 60 * len(df) / 1_000_000 and peak <= 2048
    print("target (1M rows <= 60 s, <= 2 GB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
