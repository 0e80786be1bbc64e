"""File deliveries into raw: archive by content, audit every attempt, all-or-nothing, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.ingest import ingest_all
from community_dw.sources.file_ingest import IngestError, ingest_source_files

HEADER = "姓名,证件类型,公民身份号码,性别,民族,出生日期,联系电话,户号,与户主关系,户籍地址,现住址,楼栋编码,人口类型,居住证号,街道,社区"
ROW = "张三,居民身份证,11010519491231002X,女,汉族,1949-12-31,13812345678,H1,户主,,悦来路1号,B1,户籍人口,,石岐街道,悦来社区"


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    (tmp_path / "public_security").mkdir()
    return tmp_path


def _drop(landing: Path, name: str, text: str, encoding: str = "gb18030") -> Path:
    path = landing / "public_security" / name
    path.write_bytes(text.encode(encoding))
    return path


def _runs(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "select delivery_name, status, rows_read, rows_loaded from audit.load_run order by load_id"))]


def _raw_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("select count(*) from raw.public_security__resident")).scalar_one()


def test_a_file_delivered_twice_is_loaded_once(landing: Path, fresh_warehouse: sa.Engine) -> None:
    content = "\r\n".join([HEADER, ROW, ROW.replace("张三", "李四")]) + "\r\n"
    _drop(landing, "residents_full_20261101.csv", content)
    first = ingest_source_files(fresh_warehouse, "public_security.residents")
    assert [(o.status, o.rows_loaded) for o in first] == [("succeeded", 2)]
    assert not (landing / "public_security" / "residents_full_20261101.csv").exists()  # consumed
    archived = list((landing / "_archive" / "public_security.residents").rglob("*.csv"))
    assert len(archived) == 1 and archived[0].read_bytes() == content.encode("gb18030")

    _drop(landing, "residents_full_20261101_resent.csv", content)  # same bytes, another name
    second = ingest_source_files(fresh_warehouse, "public_security.residents")
    assert [o.status for o in second] == ["skipped_duplicate"]
    assert _raw_count(fresh_warehouse) == 2
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select times_received from audit.landing_file")).scalar_one() == 2


def test_a_truncated_file_fails_whole_names_the_row_and_holds_later_files(
        landing: Path, fresh_warehouse: sa.Engine) -> None:
    rows = [ROW.replace("张三", f"人{i}") for i in range(5)]
    truncated = "\r\n".join([HEADER, *rows]) + "\r\n" + ROW[:20]  # half a row at the end
    bad = _drop(landing, "residents_full_20261101.csv", truncated)
    _drop(landing, "residents_delta_20261102.csv", "\n".join([HEADER + ",变动类型,变动日期", ROW + ",新增,20261102"]))
    with pytest.raises(IngestError) as error:
        ingest_source_files(fresh_warehouse, "public_security.residents")
    message = str(error.value)
    assert "residents_full_20261101.csv" in message and "7" in message  # physical line of the cut row
    assert _raw_count(fresh_warehouse) == 0  # nothing half-published
    assert bad.exists()  # the bad file stays where it was dropped, so the source holds
    assert (landing / "public_security" / "residents_delta_20261102.csv").exists()  # waits behind it
    status = _runs(fresh_warehouse)
    assert status[0][0] == "residents_full_20261101.csv" and status[0][1] == "failed"
    assert len(list((landing / "_archive").rglob("*.csv"))) == 1  # the bad delivery is kept as received


def test_a_missing_required_column_names_file_and_column(landing: Path, fresh_warehouse: sa.Engine) -> None:
    header = HEADER.replace("姓名,", "")
    row = ROW.split(",", 1)[1]
    _drop(landing, "residents_full_20261101.csv", f"{header}\n{row}\n")
    with pytest.raises(IngestError, match="residents_full_20261101.csv.*姓名"):
        ingest_source_files(fresh_warehouse, "public_security.residents")


def test_an_unknown_column_is_kept_and_reported_as_drift(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _drop(landing, "residents_full_20261101.csv", f"{HEADER},微信号\n{ROW},zhangsan88\n", "utf-8-sig")
    [outcome] = ingest_source_files(fresh_warehouse, "public_security.residents")
    assert outcome.drift["unknown_columns"] == ["微信号"]
    with fresh_warehouse.connect() as conn:
        extra = conn.execute(sa.text("select extra ->> '微信号' from raw.public_security__resident")).scalar_one()
        drift = conn.execute(sa.text("select schema_drift -> 'unknown_columns' ->> 0 from audit.load_run")).scalar_one()
    assert extra == "zhangsan88" and drift == "微信号"


def test_one_failing_department_does_not_stop_the_others(landing: Path, fresh_warehouse: sa.Engine,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _drop(landing, "residents_full_20261101.csv", "")  # an empty file
    (landing / "grid").mkdir()
    (landing / "grid" / "grids_20261101.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"grid_code": "G1"}, '
        '"geometry": {"type": "Polygon", "coordinates": [[[113.39, 22.52], [113.40, 22.52], [113.40, 22.53], '
        '[113.39, 22.53], [113.39, 22.52]]]}}]}', encoding="utf-8")
    monkeypatch.delenv("CDW_HEALTH_DB_URL", raising=False)
    report = ingest_all(only=["public_security", "grid"])
    assert set(report.failures) == {"public_security"}
    assert "empty" in report.failures["public_security"]
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from raw.grid__grid")).scalar_one() == 1


def _raw_rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "select source_row, name, id_number, registered_address, change_type, extra "
            "from raw.public_security__resident order by source_row"))]


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_plain_csv_is_copied_as_delivered_with_lineage(landing: Path, fresh_warehouse: sa.Engine,
                                                          monkeypatch: pytest.MonkeyPatch, newline: str) -> None:
    import community_dw.sources.file_ingest as file_ingest

    def no_parser(*args, **kwargs):
        raise AssertionError("the parser should not be needed")

    monkeypatch.setattr(file_ingest, "parse_file", no_parser)
    blank = "," * HEADER.count(",")
    rows = [ROW, "", ROW.replace("张三", "刘䶮"), blank, ROW.replace("张三", "李四").replace(",,", ",　,", 1)]
    _drop(landing, "residents_full_20261101.csv", newline.join([HEADER, *rows]) + newline * 2)
    [outcome] = ingest_source_files(fresh_warehouse, "public_security.residents")
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded) == ("succeeded", 3, 3)
    assert outcome.drift == {"unknown_columns": [], "missing_optional": []}  # a full file has no change columns
    assert _raw_rows(fresh_warehouse) == [
        (2, "张三", "11010519491231002X", None, None, None),
        (4, "刘䶮", "11010519491231002X", None, None, None),
        (6, "李四", "11010519491231002X", "　", None, None),
    ]
    assert _runs(fresh_warehouse) == [("residents_full_20261101.csv", "succeeded", 3, 3)]


def test_a_row_copy_refuses_is_named_by_the_parser_and_nothing_is_loaded(landing: Path,
                                                                           fresh_warehouse: sa.Engine) -> None:
    rows = [ROW.replace("张三", f"人{i}") for i in range(3000)]
    rows[2500] += ",多余"  # one field too many, far into the file
    bad = _drop(landing, "residents_full_20261101.csv", "\r\n".join([HEADER, *rows]) + "\r\n")
    with pytest.raises(IngestError, match=r"residents_full_20261101.csv, row 2502: row has 17 fields"):
        ingest_source_files(fresh_warehouse, "public_security.residents")
    assert _raw_count(fresh_warehouse) == 0 and bad.exists()
    assert _runs(fresh_warehouse) == [("residents_full_20261101.csv", "failed", None, None)]


def test_bytes_copy_cannot_decode_leave_the_verdict_to_the_parser(landing: Path, fresh_warehouse: sa.Engine) -> None:
    # The first 64 KiB are UTF-8, so COPY is told UTF-8; a GB18030 row comes after them. COPY refuses
    # it, the parser reads the whole file (as GB18030, since it is not UTF-8) and fails it.
    rows = [ROW.replace("张三", f"人{i}") for i in range(1000)]
    content = ("\n".join([HEADER, *rows]) + "\n").encode("utf-8") + (ROW + "\n").encode("gb18030")
    assert len(content) > 1 << 16
    _drop(landing, "residents_full_20261101.csv", content.decode("latin-1"), "latin-1")
    with pytest.raises(IngestError, match="residents_full_20261101.csv"):
        ingest_source_files(fresh_warehouse, "public_security.residents")
    assert _raw_count(fresh_warehouse) == 0
    assert _runs(fresh_warehouse)[0][1] == "failed"
