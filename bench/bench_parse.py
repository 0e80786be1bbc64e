"""Time read_delimited on a generated GB18030 resident CSV (default 1,000,000 rows x 18 columns).

Prints rows/s and peak memory for the project's parser and, side by side, for pandas' C engine
reading the same file (the alternative considered). Each parse runs in a fresh process so the peak
resident memory belongs to that parse alone. Figures are printed, never asserted.

    .venv/bin/python bench/bench_parse.py [--rows N] [--keep PATH]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["姓名", "证件类型", "公民身份号码", "性别", "民族", "出生日期", "联系电话", "户号", "与户主关系",
          "户籍地址", "现住址", "楼栋编码", "人口类型", "居住证号", "街道", "社区", "变动类型", "变动日期"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉建国志强海燕"
ROADS = ["中山路", "兴中道", "孙文东路", "博爱路", "康华路", "悦来南路", "岐关西路", "长江北路"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write a resident CSV in GB18030 with CRLF, quoting only where needed, like the usual export."""
    rnd = random.Random(seed)
    # A pool of distinct rows reused with varying ID and household numbers keeps generation quick.
    pool = []
    for _ in range(5000):
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2)))
        birth = f"{rnd.randint(1930, 2024)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
        addr = f"广东省中山市石岐街道{rnd.choice(ROADS)}{rnd.randint(1, 300)}号{rnd.randint(1, 30)}栋{rnd.randint(101, 2802)}房"
        pool.append([name, "居民身份证", None, rnd.choice("男女"), "汉族", birth,
                     f"13{rnd.randint(100000000, 999999999)}", None, rnd.choice(["户主", "配偶", "子", "女"]),
                     addr, addr, f"LD{rnd.randint(1, 9999):06d}", rnd.choice(["户籍人口", "流动人口"]), "",
                     "石岐街道", f"第{rnd.randint(1, 20)}社区", "", ""])
    with path.open("w", encoding="gb18030", newline="") as handle:
        handle.write(",".join(HEADER) + "\r\n")
        lines = []
        for i in range(rows):
            row = list(pool[i % len(pool)])
            row[2] = f"442000{row[5]}{i % 1000:03d}{rnd.choice('0123456789X')}"
            row[7] = f"H{i // 3:09d}"
            lines.append(",".join(row))
            if len(lines) == 50_000:
                handle.write("\r\n".join(lines) + "\r\n")
                lines.clear()
        if lines:
            handle.write("\r\n".join(lines) + "\r\n")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(kind: str, path: Path) -> None:
    """In a child process: parse once and print seconds, rows and peak RSS."""
    baseline = _peak_mb()
    started = time.perf_counter()
    if kind == "read_delimited":
        from community_dw.sources.delimited import read_delimited
        from community_dw.sources.mapping import load_mapping

        rows = read_delimited(path, load_mapping("public_security_residents")).rows_read
    else:
        import pandas as pd

        rows = len(pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False, engine="c"))
    seconds = time.perf_counter() - started
    print(f"{seconds:.3f} {rows} {_peak_mb():.0f} {baseline:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "residents_full_20261101.csv"
        started = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows x {len(HEADER)} columns, GB18030, CRLF: {size_mb:.0f} MB "
              f"in {time.perf_counter() - started:.1f} s")
        for kind in ("read_delimited", "pandas_c_engine"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                                 check=True, capture_output=True, text=True).stdout.split()
            seconds, rows, peak, base = float(out[0]), int(out[1]), float(out[2]), float(out[3])
            print(f"{kind:16s} {seconds:6.2f} s  {rows / seconds:>12,.0f} rows/s  {size_mb / seconds:6.0f} MB/s  "
                  f"peak RSS {peak:,.0f} MB (interpreter and imports before parsing: {base:,.0f} MB)")


if __name__ == "__main__":
    main()
