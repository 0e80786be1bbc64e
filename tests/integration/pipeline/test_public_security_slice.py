"""Public security from delivery to mart: files -> raw -> staging/quarantine -> persons -> mart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

HEADER = ("姓名,证件类型,公民身份号码,性别,民族,出生日期,联系电话,户号,与户主关系,户籍地址,现住址,楼栋编码,"
          "人口类型,居住证号,街道,社区")
FULL_ROWS = [
    # a traditional-character name, full-width digits in the ID, a +86 phone
    "陳大文,居民身份证,４４２０００１９８５０３１２００１５,男,汉族,1985-03-12,+86 13812345678,H001,户主,,"
    "中山市石岐街道悦来路1号,B001,户籍人口,,石岐街道,悦来社区",
    # the GB 11643 reference example, lowercase x; birth date in Chinese format
    "李 小 红,居民身份证,11010519491231002x,女,汉,1949年12月31日,0760-88123456,H001,配偶,,"
    "中山市石岐街道悦来路1号,B001,户籍人口,,石岐街道,悦来社区",
    # blank name: cannot be used, must be quarantined (not dropped)
    ",居民身份证,440200199001010012,男,汉族,19900101,,H002,户主,,中山市石岐街道悦来路2号,B002,流动人口,R1,石岐街道,悦来社区",
    # a legacy 15-digit ID
    "王五,居民身份证,442000850312001,男,汉族,1985/3/12,13900001111,H003,户主,,中山市石岐街道悦来路3号,,户籍人口,,"
    "石岐街道,悦来社区",
]
DELTA_HEADER = HEADER + ",变动类型,变动日期"
DELTA_ROWS = [
    "王五,居民身份证,442000198503120013,男,汉族,19850312,13900001111,H003,户主,,中山市石岐街道悦来路3号,,户籍人口,,"
    "石岐街道,悦来社区,迁出,20261102",
    "赵六,居民身份证,440200201001010016,女,汉族,20100101,,H004,户主,,中山市石岐街道悦来路4号,B004,户籍人口,,"
    "石岐街道,悦来社区,新增,20261102",
    "孙七,居民身份证,440200201001010024,女,汉族,20100101,,H004,女,,中山市石岐街道悦来路4号,B004,户籍人口,,"
    "石岐街道,悦来社区,乱码,20261102",
]


def _id(base17: str) -> str:
    from stdnum.cn import ric

    return base17 + ric.calc_check_digit(base17 + "?")  # it ignores the last character, the check digit


def _write(path: Path, header: str, rows: list[str], encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))


@pytest.fixture
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_warehouse: sa.Engine) -> Path:
    # valid check digits computed here so the test data states its intent
    full = [row.replace("442000198503120015", _id("44200019850312001")) for row in FULL_ROWS]
    delta = [row.replace("442000198503120013", _id("44200019850312001"))
                .replace("440200201001010016", _id("44020020100101002"))
                .replace("440200201001010024", _id("44020020100101004")) for row in DELTA_ROWS]
    full[0] = full[0].replace("４４２０００１９８５０３１２００１５",
                              _id("44200019850312003").translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")))
    full[2] = full[2].replace("440200199001010012", _id("44020019900101001"))
    _write(tmp_path / "public_security" / "residents_full_20261101.csv", HEADER, full, "gb18030")
    _write(tmp_path / "public_security" / "residents_delta_20261102.csv", DELTA_HEADER, delta, "utf-8-sig")
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    return tmp_path


def _scalar(engine: sa.Engine, query: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(query)).scalar()


def test_residents_flow_to_the_mart_with_nothing_lost(drop: Path, fresh_warehouse: sa.Engine) -> None:
    from community_dw.pipeline import run_pipeline

    summary = run_pipeline(date(2026, 11, 2), only=["public_security"])
    assert summary.ingest_failures == {}

    # Every raw row is either staged or quarantined, per load, and the audit says so.
    assert _scalar(fresh_warehouse, "select count(*) from raw.public_security__resident") == 7
    assert _scalar(fresh_warehouse, "select count(*) from staging.stg_public_security__resident") == 5
    reasons = _scalar(fresh_warehouse, "select string_agg(reason_code, ',' order by reason_code) "
                                 "from quarantine.public_security__resident")
    assert reasons == "missing_name,unknown_change_type"
    assert _scalar(fresh_warehouse, "select bool_and(rows_in = rows_out + rows_quarantined) from audit.load_step")

    # 陳大文 (traditional, full-width ID) and 李小红 (lowercase x) were standardized.
    names = _scalar(fresh_warehouse, "select string_agg(name, ',' order by name) from core.person")
    assert "陈大文" in names and "李小红" in names
    assert _scalar(fresh_warehouse, "select id_number from core.person where name = '李小红'") == "11010519491231002X"

    # 王五's legacy 15-digit ID and his 18-digit one resolve to one person, by ID number, who then moved out.
    assert _scalar(fresh_warehouse, "select count(distinct person_key) from core.person where name = '王五'") == 1
    assert _scalar(fresh_warehouse, "select count(*) from core.person_link where method = 'id_number'") == 5
    assert _scalar(fresh_warehouse, "select residency_status from core.person where name = '王五'") == "moved_out"
    assert _scalar(fresh_warehouse, "select residency_status from core.person where name = '赵六'") == "resident"

    # The mart counts residents only: 陈大文, 李小红, 赵六.
    assert _scalar(fresh_warehouse, "select sum(residents) from mart.resident_population") == 3
    assert _scalar(fresh_warehouse, "select residents from mart.resident_population where age_band = '0-17'") == 1


def test_a_second_run_changes_nothing(drop: Path, fresh_warehouse: sa.Engine) -> None:
    from community_dw.pipeline import run_pipeline

    run_pipeline(date(2026, 11, 2), only=["public_security"])
    before = _scalar(fresh_warehouse, "select md5(string_agg(p::text, '|' order by person_key)) from core.person p")
    run_pipeline(date(2026, 11, 2), only=["public_security"])
    after = _scalar(fresh_warehouse, "select md5(string_agg(p::text, '|' order by person_key)) from core.person p")
    assert before == after
    assert _scalar(fresh_warehouse, "select count(*) from raw.public_security__resident") == 7
