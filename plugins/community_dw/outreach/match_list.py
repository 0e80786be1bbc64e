"""Match a list staff hand in (CSV/XLSX, any headers) to the residents it names, and annotate it."""

from __future__ import annotations

import csv
import difflib
import io
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from community_dw.outreach.export import mask_id_number
from community_dw.resolve.linker import LinkSettings, link_lists, load_settings, splink_settings
from community_dw.sources.delivery import DeliveryError
from community_dw.sources.mapping import Mapping, load_mapping

log = logging.getLogger(__name__)

MAPPING = "staff_list"
#: Pseudonym domain of the person references staff receive (access.pseudonym): their own, so a
#: returned list cannot be joined to a department's published tables.
REF_DOMAIN = "outreach"
HEADER_SCAN_ROWS = 20
#: Extra blocking for lists: a list may carry only a name and a phone, or a misspelt name and a birth
#: date, which the resolution blocks (built for department records) never pair. A list and one
#: community are small, so single-column blocks cost little and only widen who is scored.
LIST_BLOCKING = [["name"], ["name_pinyin"], ["phone"], ["birth_date"], ["household_no"], ["id_body"]]
#: Below this similarity an exact ID number with a different name is shown for checking, not matched.
NAME_AGREES = 0.5

STATUS_MATCHED, STATUS_VERIFY, STATUS_NONE = "已匹配", "待核实", "未匹配"
METHOD_LABELS = {"id_number": "证件号码一致", "probabilistic": "概率匹配", "none": "无"}
RESIDENCY_LABELS = {"resident": "在住", "moved_out": "已迁出", "deceased": "已故", "not_in_register": "未登记"}
SEX_LABELS = {"M": "男", "F": "女"}

#: Columns appended to the list (header, key); the vaccine columns follow them.
MATCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("匹配状态", "status"),
    ("匹配方式", "method_label"),
    ("匹配置信度", "probability"),
    ("人员代号", "person_ref"),
    ("匹配姓名", "person_name"),
    ("匹配证件号码", "id_number_masked"),
    ("性别", "sex_label"),
    ("年龄", "age_years"),
    ("居住状态", "residency_label"),
    ("社区", "community"),
    ("网格", "grid_code"),
    ("网格员", "grid_worker_name"),
    ("网格员电话", "grid_worker_phone"),
    ("匹配说明", "note"),
)
COMPLEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("人员代号", "person_ref"),
    ("姓名", "person_name"),
    ("证件号码", "id_number_masked"),
    ("性别", "sex_label"),
    ("年龄", "age_years"),
    ("户号", "household_no"),
    ("楼栋", "building_code"),
    ("社区", "community"),
    ("网格", "grid_code"),
    ("网格员", "grid_worker_name"),
    ("网格员电话", "grid_worker_phone"),
    ("名单中疑似行", "candidate_rows"),
)


class MatchListError(RuntimeError):
    """The list cannot be matched at all (unreadable, no name or ID column); nothing was written."""


@dataclass
class StaffList:
    """A staff list as handed in: its header row, its rows (cell texts) and where the known columns are."""

    name: str
    kind: str  # "xlsx" | "csv"
    headers: list[str]
    rows: list[tuple[int, list[str | None]]]  # (Excel row / CSV line, cells)
    positions: dict[str, int]  # canonical column -> position of the first header naming it
    encoding: str | None = None

    def column(self, canonical: str) -> pd.Series:
        position = self.positions.get(canonical)
        values = [cells[position] if position is not None and position < len(cells) else None
                  for _, cells in self.rows]
        return pd.Series(values, dtype="str")


@dataclass
class MatchListResult:
    xlsx: Path
    csv: list[Path]
    rows: pd.DataFrame  # one row per list row: source_row, status, method, person_key, probability, note
    complement: pd.DataFrame  # one row per resident of the communities not matched by any row
    communities: list[str]
    model: str  # "trained <version>" or "priors <version>"
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Reading the list


def read_staff_list(path: str | Path, mapping: Mapping | None = None) -> StaffList:
    """Read an XLSX (first sheet) or CSV (UTF-8, UTF-8 BOM or GB18030; comma, tab or semicolon) list.

    The header row is the row, among the first 20 non-blank ones, naming the most known columns and at
    least a name or ID column: title rows ("某某社区老年人名单") and notes above it are skipped. A header
    the mapping does not know stays an ordinary column; of two headers naming the same field (手机 and
    联系电话) the first is used.
    """
    path = Path(path)
    mapping = mapping or load_mapping(MAPPING)
    if not path.is_file():
        raise MatchListError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            rows, merges = _xlsx_rows(path)
            kind, encoding = "xlsx", None
        elif suffix in {".csv", ".txt"}:
            rows, encoding = _csv_rows(path, mapping)
            kind, merges = "csv", []
        elif suffix in {".xls", ".et", ".wps"}:
            raise MatchListError(f"{path.name}: legacy spreadsheet ({suffix}); save it as .xlsx (Excel/WPS: 另存为 → "
                                 "Excel 工作簿) and try again")
        else:
            raise MatchListError(f"{path.name}: cannot read files of type {suffix or '(none)'}; "
                                 "hand in an .xlsx workbook or a .csv file")
    except DeliveryError as error:
        raise MatchListError(f"unreadable list: {error}") from None
    header_index = _find_header(rows, mapping, path.name)
    header_row, header_cells = rows[header_index]
    data = [(number, cells) for number, cells in rows[header_index + 1:] if not _blank(cells)]
    if merges:
        from community_dw.sources.xlsx import _fill_merged

        _fill_merged(data, merges, header_row)
    width = max([len(header_cells)] + [len(cells) for _, cells in data])
    headers = [(header_cells[i] if i < len(header_cells) else None) or f"列{i + 1}" for i in range(width)]
    positions: dict[str, int] = {}
    for position, header in enumerate(headers):
        spec = mapping.spec_for(header)
        if spec is not None and spec.column not in positions:
            positions[spec.column] = position
    data = [(number, cells + [None] * (width - len(cells))) for number, cells in data]
    return StaffList(path.name, kind, [str(h).strip() for h in headers], data, positions, encoding)


def _xlsx_rows(path: Path) -> tuple[list[tuple[int, list[str | None]]], list[tuple[int, int, int, int]]]:
    """Cells as text, the way the delivery reader sees them (same parser, same merged-cell handling)."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    from community_dw.sources.xlsx import _check_container, _read_sheet

    _check_container(path, path.name)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise DeliveryError(path.name, f"corrupt workbook: {exc}") from None
    try:
        if not workbook.worksheets:
            raise DeliveryError(path.name, "workbook has no worksheet")
        rows, merges = _read_sheet(workbook, workbook.worksheets[0], path.name)
    finally:
        workbook.close()
    return [(number, [None if cell is None else cell.strip() or None for cell in cells]) for number, cells in rows], \
        merges


def _csv_rows(path: Path, mapping: Mapping) -> tuple[list[tuple[int, list[str | None]]], str]:
    """Rows of a CSV; the delimiter (comma, tab or semicolon) is the one under which a header row names
    the most known columns (csv.Sniffer guesses wrong when a title line sits above the header)."""
    from community_dw.sources.delimited import _to_utf8

    data = path.read_bytes()
    if not data.strip():
        raise DeliveryError(path.name, "empty file")
    encoding, utf8 = _to_utf8(data, path.name)
    text = utf8.decode("utf-8")
    best: tuple[int, list[tuple[int, list[str | None]]]] | None = None
    for delimiter in (",", "\t", ";"):
        try:
            rows = _split_csv(text, delimiter, path.name)
        except DeliveryError:
            if delimiter == ",":
                raise
            continue
        score = _header_score(rows, mapping)
        if best is None or score > best[0]:
            best = (score, rows)
    assert best is not None
    return best[1], encoding


def _split_csv(text: str, delimiter: str, name: str) -> list[tuple[int, list[str | None]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str | None]]] = []
    line = 1
    try:
        for fields in reader:
            rows.append((line, [value.strip() or None for value in fields]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DeliveryError(name, f"malformed CSV ({exc})", row=line) from None
    return rows


def _blank(cells: list[str | None]) -> bool:
    return all(cell is None or not str(cell).strip() for cell in cells)


def _header_candidates(rows: list[tuple[int, list[str | None]]], mapping: Mapping):
    """(index, number of known columns) of the first 20 non-blank rows naming a name or ID column."""
    seen = 0
    for index, (_, cells) in enumerate(rows):
        if _blank(cells):
            continue
        seen += 1
        if seen > HEADER_SCAN_ROWS:
            break
        found = {spec.column for cell in cells if (spec := mapping.spec_for(cell)) is not None}
        if {"name", "id_number"} & found:
            yield index, len(found)


def _header_score(rows: list[tuple[int, list[str | None]]], mapping: Mapping) -> int:
    return max((score for _, score in _header_candidates(rows, mapping)), default=0)


def _find_header(rows: list[tuple[int, list[str | None]]], mapping: Mapping, name: str) -> int:
    best, best_score = -1, 0
    for index, score in _header_candidates(rows, mapping):
        if score > best_score:
            best, best_score = index, score
    if best < 0:
        if not any(not _blank(cells) for _, cells in rows):
            raise MatchListError(f"{name}: the list is empty")
        names = next(spec for spec in mapping.columns if spec.column == "name")
        ids = next(spec for spec in mapping.columns if spec.column == "id_number")
        raise MatchListError(
            f"{name}: no name column and no ID number column in the first {HEADER_SCAN_ROWS} rows; a list needs "
            f"one of them, headed e.g. {' / '.join((names.header, *names.aliases[:2]))} or "
            f"{' / '.join((ids.header, *ids.aliases[:3]))}")
    return best


# ---------------------------------------------------------------------------------------------------
# Standardizing both sides into the linker's columns


def _text(values: pd.Series) -> pd.Series:
    values = values.astype("string").str.strip()
    return values.where(values != "")


def list_records(staff: StaffList, as_of: Any = None) -> pd.DataFrame:
    """The list's rows in the linker's columns (uid = "r<row number>"), standardized like staging."""
    from community_dw.standardize import (
        parse_dates,
        standardize_id_numbers,
        standardize_names,
        standardize_phones,
        standardize_sex,
    )

    names = standardize_names(staff.column("name"))
    ids = standardize_id_numbers(staff.column("id_number"), as_of=as_of)
    stated_birth = parse_dates(staff.column("birth_date"))["date"]
    birth = stated_birth.where(stated_birth.notna(), ids["id_birth_date"])
    sex = standardize_sex(staff.column("sex"))
    sex = sex.where(sex.notna(), ids["id_sex"])
    frame = pd.DataFrame({
        "uid": [f"r{number}" for number, _ in staff.rows],
        "source_row": [number for number, _ in staff.rows],
        "name": names["name"],
        "name_pinyin": names["name_pinyin"],
        "id_number": ids["id_number"],
        "id_body": ids["id_number"].str.slice(0, 17),
        "birth_date": pd.to_datetime(birth, errors="coerce").dt.date,
        "sex": sex,
        "phone": standardize_phones(staff.column("phone"))["phone_primary"],
        "household_no": _text(staff.column("household_no")),
        "building_code": _text(staff.column("building_code")),
        "address_key": None,
    })
    frame["birth_year"] = pd.to_datetime(frame["birth_date"], errors="coerce").dt.year.astype("Int64").astype("string")
    return frame


def _candidate_frame(conn: Connection, communities: list[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(persons of the communities, or of the city; their record profiles in the linker's columns).

    Every record a person was resolved from is a profile (a vaccination record may hold the phone the
    list has, the resident register another): the best-scoring profile speaks for the person.
    """
    persons = pd.DataFrame(conn.execute(sa.text(
        "select p.person_key, p.name, p.id_number, p.birth_date, p.sex, p.phone_primary, p.age_years, "
        "p.residency_status, p.household_no, p.building_code, p.grid_code, p.community, "
        "g.grid_worker_name, g.grid_worker_phone "
        "from core.person p left join core.grid g using (grid_code) "
        "where cast(:all as boolean) or p.community = any(:communities)"),
        {"all": communities is None, "communities": communities or []}).mappings().all())
    if persons.empty:
        persons = pd.DataFrame(columns=["person_key", "name", "id_number", "birth_date", "sex", "phone_primary",
                                        "age_years", "residency_status", "household_no", "building_code",
                                        "grid_code", "community", "grid_worker_name", "grid_worker_phone"])
    golden = persons.rename(columns={"phone_primary": "phone"})[
        ["person_key", "name", "id_number", "birth_date", "sex", "phone", "household_no", "building_code"]]
    profiles = [golden.assign(address_key=None)]
    if conn.execute(sa.text("select to_regclass('core.person_resolve_record') is not null "
                            "and to_regclass('core.person_link') is not null")).scalar():
        records = pd.DataFrame(conn.execute(sa.text(
            "select distinct l.person_key, r.name, r.id_number, r.birth_date, r.sex, r.phone, r.household_no, "
            "r.building_code, r.address_key "
            "from core.person_resolve_record r join core.person_link l using (source, record_ref) "
            "join core.person p using (person_key) "
            "where cast(:all as boolean) or p.community = any(:communities)"),
            {"all": communities is None, "communities": communities or []}).mappings().all())
        if not records.empty:
            profiles.append(records)
    profiles_frame = pd.concat(profiles, ignore_index=True)
    return persons, _standardize_profiles(profiles_frame)


def _standardize_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    from community_dw.standardize import standardize_names

    frame = frame.copy()
    names = standardize_names(frame["name"].astype("string"))
    frame["name"] = names["name"]
    frame["name_pinyin"] = names["name_pinyin"]
    for column in ("id_number", "sex", "phone", "household_no", "building_code", "address_key"):
        frame[column] = _text(frame[column].astype("string"))
    frame["id_body"] = frame["id_number"].str.slice(0, 17)
    frame["birth_date"] = pd.to_datetime(frame["birth_date"], errors="coerce").dt.date
    frame["birth_year"] = pd.to_datetime(frame["birth_date"], errors="coerce").dt.year.astype("Int64").astype("string")
    frame["person_key"] = frame["person_key"].astype("int64")
    keys = ["person_key", "name", "name_pinyin", "id_number", "birth_date", "sex", "phone", "household_no",
            "building_code", "address_key"]
    frame = frame.drop_duplicates(subset=keys).reset_index(drop=True)
    frame["uid"] = [f"p{i}" for i in range(len(frame))]
    return frame


def _model(conn: Connection, settings: LinkSettings, candidates: int) -> tuple[dict[str, Any], str]:
    """The stored resolution model (else the settings' priors), blocked for lists, prior set for this set.

    The prior that a list row and a random candidate are the same person is about 1/candidates (most
    rows name someone of the community): resolution's city-wide prior would leave a name matched
    exactly in a community of 3,000 "to check" when nothing contradicts it.
    """
    from community_dw.resolve.model_store import load_model

    stored = None
    if conn.execute(sa.text("select to_regclass('core.person_match_model')")).scalar() is not None:
        stored = load_model(conn, settings)
    model = dict(stored or splink_settings(settings))
    rules = [list(rule) for rule in settings.blocking] + [r for r in LIST_BLOCKING if r not in settings.blocking]
    model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": " AND ".join(f'l."{c}" = r."{c}"' for c in rule), "sql_dialect": "duckdb"}
        for rule in rules]
    model["probability_two_random_records_match"] = min(
        0.5, max(settings.probability_two_random_records_match, 1.0 / max(candidates, 1)))
    return model, f"{'trained' if stored else 'priors'} {settings.version}"


# ---------------------------------------------------------------------------------------------------
# Deciding who each row is


def _names_agree(left: Any, right: Any) -> bool:
    if not isinstance(left, str) or not isinstance(right, str):
        return True  # nothing to contradict the ID number
    return left == right or difflib.SequenceMatcher(None, left, right).ratio() >= NAME_AGREES


def _posterior(weights: Any) -> float:
    """Probability that the best candidate is the row's person, the candidates being exclusive.

    Each pair's match weight is log2 of its odds; a row is at most one person, so the odds of the
    best are weighed against every other candidate's as well as against "none of them":
    p = 2^w1 / (1 + sum 2^wi). Two residents of the same name, neither favoured, come out near 0.5.
    """
    import numpy as np

    weights = np.asarray(weights, dtype=float)
    shift = max(float(weights.max()), 0.0)  # factor 2^shift out so nothing overflows
    odds = np.exp2(weights - shift)
    return float(odds[0] / (np.exp2(-shift) + odds.sum()))


def decide(records: pd.DataFrame, profiles: pd.DataFrame, pairs: pd.DataFrame,
           settings: LinkSettings) -> pd.DataFrame:
    """One decision per list row: status, method, person_key, probability, note.

    1. exact ID number (as normalized; a wrong check digit is still exact) owned by one candidate
       person whose name does not contradict the list's -> matched, 'id_number', probability 1;
    2. else the best-scoring person (pairs come at or above the lower threshold): matched,
       'probabilistic', when the chance that it is this person rather than another candidate or
       nobody (_posterior) reaches the upper threshold; else 待核实 with that candidate;
    3. else unmatched.
    """
    owners = profiles.dropna(subset=["id_number"]).groupby("id_number")["person_key"].unique()
    person_name = profiles.drop_duplicates("person_key").set_index("person_key")["name"]
    best: dict[str, pd.DataFrame] = {}
    if not pairs.empty:
        scored = pairs.assign(person_key=pairs["uid_r"].map(profiles.set_index("uid")["person_key"]))
        scored = scored.sort_values(["uid_l", "match_weight"], ascending=[True, False])
        scored = scored.drop_duplicates(["uid_l", "person_key"])
        best = {uid: group for uid, group in scored.groupby("uid_l", sort=False)}
    decisions = []
    for row in records.itertuples(index=False):
        decision = {"source_row": row.source_row, "status": STATUS_NONE, "method": "none", "person_key": None,
                    "probability": None, "note": None}
        if not isinstance(row.name, str) and not isinstance(row.id_number, str):
            decision["note"] = "本行没有姓名和证件号码"
            decisions.append(decision)
            continue
        keys = owners.get(row.id_number) if isinstance(row.id_number, str) else None
        if keys is not None and len(keys) == 1:
            key = int(keys[0])
            if _names_agree(row.name, person_name.get(key)):
                decision.update(status=STATUS_MATCHED, method="id_number", person_key=key, probability=1.0)
            else:
                decision.update(status=STATUS_VERIFY, method="id_number", person_key=key, probability=None,
                                note="证件号码一致，但姓名不同")
            decisions.append(decision)
            continue
        group = best.get(row.uid)
        if group is not None and len(group):
            top = group.iloc[0]
            confidence = _posterior(group["match_weight"].to_numpy())
            decision.update(person_key=int(top.person_key), probability=round(confidence, 4), method="probabilistic")
            if confidence >= settings.upper:
                decision["status"] = STATUS_MATCHED
            else:
                decision["status"] = STATUS_VERIFY
                decision["note"] = (f"另有{len(group) - 1}个相近的候选人，请核实" if len(group) > 1
                                    and confidence < float(top.match_probability) - 0.01
                                    else "相似度介于阈值之间，请核实是否为同一人")
        else:
            decision["note"] = "在候选居民中未找到"
        decisions.append(decision)
    frame = pd.DataFrame(decisions)
    frame["person_key"] = frame["person_key"].astype("Int64")
    # a person named on two rows: say so on both
    matched = frame[frame.status == STATUS_MATCHED]
    repeated = matched[matched.person_key.duplicated(keep=False)]
    for _key, group in repeated.groupby("person_key"):
        rows = group.source_row.tolist()
        for index in group.index:
            others = "、".join(str(r) for r in rows if r != frame.at[index, "source_row"])
            note = frame.at[index, "note"]
            frame.at[index, "note"] = "；".join(([note] if isinstance(note, str) else []) + [f"与第{others}行为同一人"])
    return frame


# ---------------------------------------------------------------------------------------------------
# Annotations


def _person_refs(conn: Connection, keys: list[int], person_keys: bool) -> dict[int, str]:
    if person_keys or not keys:
        return {key: str(key) for key in keys}
    try:
        with conn.begin_nested():
            rows = conn.execute(sa.text(
                "select k, access.pseudonym(k, :domain) from unnest(cast(:keys as bigint[])) k"),
                {"keys": keys, "domain": REF_DOMAIN}).all()
    except sa.exc.DBAPIError as error:
        raise MatchListError("person references need access.pseudonym (the access layer, run as the pipeline's "
                             f"login); an engineer may pass --keys to show person keys instead ({error.orig})") from None
    return {int(key): ref for key, ref in rows}


def _vaccination(conn: Connection, keys: list[int]) -> tuple[list[tuple[str, str]], dict[int, dict[str, str]]]:
    """([(vaccine_code, header)] in catalogue order, {person_key: {vaccine_code: "2/2 完成"}})."""
    if not keys or conn.execute(sa.text("select to_regclass('core.vaccination_status')")).scalar() is None:
        return [], {}
    rows = conn.execute(sa.text(
        "select s.person_key, s.vaccine_code, coalesce(c.vaccine_name, s.vaccine_code) as vaccine_name, "
        "s.doses_counted, s.doses_required, s.is_complete "
        "from core.vaccination_status s left join core.vaccine_catalogue c using (vaccine_code) "
        "where s.person_key = any(:keys)"), {"keys": keys}).mappings().all()
    catalogue = [code for (code,) in conn.execute(sa.text("select vaccine_code from core.vaccine_catalogue"))]
    order = {code: i for i, code in enumerate(catalogue)}
    status: dict[int, dict[str, str]] = {}
    names: dict[str, str] = {}
    for row in rows:
        counted, required = int(row["doses_counted"] or 0), int(row["doses_required"] or 0)
        label = "完成" if row["is_complete"] else ("未接种" if counted == 0 else "未完成")
        status.setdefault(int(row["person_key"]), {})[row["vaccine_code"]] = f"{counted}/{required} {label}"
        names[row["vaccine_code"]] = row["vaccine_name"]
    vaccines = sorted(names, key=lambda code: (order.get(code, len(order)), code))
    return [(code, f"{names[code]}({code})") for code in vaccines], status


def _person_view(persons: pd.DataFrame, refs: dict[int, str], vaccination: dict[int, dict[str, str]],
                 vaccines: list[tuple[str, str]]) -> dict[int, dict[str, Any]]:
    view: dict[int, dict[str, Any]] = {}
    for person in persons.to_dict("records"):
        key = int(person["person_key"])
        shots = vaccination.get(key, {})
        view[key] = {
            "person_ref": refs.get(key),
            "person_name": person["name"],
            "id_number_masked": mask_id_number(person["id_number"]),
            "sex_label": SEX_LABELS.get(person["sex"] or "", ""),
            "age_years": None if pd.isna(person["age_years"]) else int(person["age_years"]),
            "residency_label": RESIDENCY_LABELS.get(person["residency_status"], person["residency_status"]),
            "household_no": person["household_no"],
            "building_code": person["building_code"],
            "community": person["community"],
            "grid_code": person["grid_code"],
            "grid_worker_name": person["grid_worker_name"],
            "grid_worker_phone": person["grid_worker_phone"],
            **{f"vaccine:{code}": shots.get(code) for code, _ in vaccines},
        }
    return view


# ---------------------------------------------------------------------------------------------------
# Writing


def _none(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return value


def _write_xlsx(path: Path, sheets: list[tuple[str, list[str], list[list[Any]]]], notes: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=False)
    workbook.remove(workbook.active)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    added_fill = PatternFill("solid", fgColor="E2EFDA")
    for title, headers, rows, *rest in sheets:
        first_added = rest[0] if rest else 0
        sheet = workbook.create_sheet(title)
        sheet.append(headers)
        for index, header in enumerate(headers, start=1):
            cell = sheet.cell(row=1, column=index)
            cell.font = Font(bold=True)
            cell.fill = added_fill if index > first_added else header_fill
            cell.alignment = Alignment(horizontal="center", vertical="center")
            sheet.column_dimensions[get_column_letter(index)].width = max(8, min(28, 2 * len(str(header)) + 4))
        for row in rows:
            sheet.append([_none(value) for value in row])
        if headers:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(len(rows), 1) + 1}"
        sheet.freeze_panes = "A2"
    guide = workbook.create_sheet("说明")
    for line in notes:
        guide.append([line])
    guide.column_dimensions["A"].width = 100
    workbook.save(path)


def _write_csv(path: Path, headers: list[str], rows: list[list[Any]]) -> None:
    # utf-8-sig: Excel on Chinese Windows opens a BOM-marked CSV as UTF-8 instead of GBK
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if _none(value) is None else value for value in row])


_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\s]+')


# ---------------------------------------------------------------------------------------------------
# The command


def match_list(engine: Engine, path: str | Path, *, community: str | None = None, out_dir: Path | None = None,
               person_keys: bool = False, settings: LinkSettings | str = "person") -> MatchListResult:
    """Annotate a staff list with the residents it names, and list the residents it leaves out.

    Candidates are the persons of `community` (every person of the city without it). Writes
    `<stem>_匹配结果.xlsx` (sheets 名单匹配, 名单外居民, 说明; the list's ID numbers masked) and, for a CSV
    list, the two sheets as CSV too. The complement covers `community`, or without it the communities
    of the persons the list matched. `person_keys` shows person keys instead of pseudonyms (engineers).
    """
    from community_dw.config import output_dir

    started = time.perf_counter()
    settings = load_settings(settings) if isinstance(settings, str) else settings
    staff = read_staff_list(path)
    with engine.connect() as conn:
        as_of = conn.execute(sa.text("select max(as_of_date) from core.as_of")).scalar()
        records = list_records(staff, as_of=as_of)
        persons, profiles = _candidate_frame(conn, [community] if community else None)
        if community and persons.empty:
            known = [c for (c,) in conn.execute(sa.text(
                "select distinct community from core.person where community is not null order by 1 limit 20"))]
            raise MatchListError(f"no persons in community {community!r}; communities: {'、'.join(known)}")
        model, model_label = _model(conn, settings, int(persons["person_key"].nunique()))
        pairs = link_lists(records, profiles, settings, model) if len(profiles) else pd.DataFrame()
        decisions = decide(records, profiles, pairs, settings)

        matched_keys = set(decisions.loc[decisions.status == STATUS_MATCHED, "person_key"].dropna().astype(int))
        communities = ([community] if community else
                       sorted({c for c in persons.loc[persons.person_key.isin(matched_keys), "community"].dropna()}))
        in_scope = persons[persons.community.isin(communities) & (persons.residency_status == "resident")]
        complement = in_scope[~in_scope.person_key.isin(matched_keys)].sort_values(
            ["grid_code", "household_no", "person_key"], na_position="last")
        shown = sorted(set(decisions.person_key.dropna().astype(int)) | set(complement.person_key.astype(int)))
        refs = _person_refs(conn, shown, person_keys)
        vaccines, vaccination = _vaccination(conn, shown)
    view = _person_view(persons[persons.person_key.isin(shown)], refs, vaccination, vaccines)

    candidate_rows: dict[int, list[int]] = {}
    for row in decisions[decisions.status == STATUS_VERIFY].itertuples():
        candidate_rows.setdefault(int(row.person_key), []).append(int(row.source_row))

    vaccine_headers = [header for _, header in vaccines]
    vaccine_keys = [f"vaccine:{code}" for code, _ in vaccines]
    id_position = staff.positions.get("id_number")
    list_rows = []
    for (_number, cells), decision in zip(staff.rows, decisions.to_dict("records"), strict=True):
        original = [mask_id_number(cell) if i == id_position else cell for i, cell in enumerate(cells)]
        key = _none(decision["person_key"])
        person = view.get(int(key)) if key is not None else None
        annotation = {**(person or {}), **decision, "method_label": METHOD_LABELS[decision["method"]]}
        list_rows.append(original + [annotation.get(key) for _, key in MATCH_COLUMNS]
                         + [annotation.get(key) for key in vaccine_keys])
    list_headers = staff.headers + [header for header, _ in MATCH_COLUMNS] + vaccine_headers
    complement_rows = []
    for key in complement.person_key.astype(int):
        person = {**view[key], "candidate_rows": "、".join(str(r) for r in candidate_rows.get(key, [])) or None}
        complement_rows.append([person.get(k) for _, k in COMPLEMENT_COLUMNS] + [person.get(k) for k in vaccine_keys])
    complement_headers = [header for header, _ in COMPLEMENT_COLUMNS] + vaccine_headers

    counts = {"rows": len(decisions), "matched": int((decisions.status == STATUS_MATCHED).sum()),
              "to_verify": int((decisions.status == STATUS_VERIFY).sum()),
              "unmatched": int((decisions.status == STATUS_NONE).sum()),
              "by_id_number": int(((decisions.status == STATUS_MATCHED) & (decisions.method == "id_number")).sum()),
              "probabilistic": int(((decisions.status == STATUS_MATCHED)
                                    & (decisions.method == "probabilistic")).sum()),
              "candidates": int(persons["person_key"].nunique()), "complement": len(complement_rows)}
    out_dir = Path(out_dir) if out_dir else output_dir() / "match_list"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _UNSAFE_IN_NAME.sub("_", Path(staff.name).stem)
    xlsx_path = out_dir / f"{stem}_匹配结果.xlsx"
    notes = [
        f"名单：{staff.name}（{staff.kind.upper()}{'，' + staff.encoding if staff.encoding else ''}），共 {counts['rows']} 行",
        f"候选居民：{community or '全市'}，{counts['candidates']} 人；名单外居民按社区：{'、'.join(communities) or '无'}",
        f"已匹配 {counts['matched']}（证件号码 {counts['by_id_number']}，概率匹配 {counts['probabilistic']}），"
        f"待核实 {counts['to_verify']}，未匹配 {counts['unmatched']}；名单外居民 {counts['complement']} 人",
        f"匹配阈值：≥{settings.upper} 为已匹配，{settings.lower}–{settings.upper} 为待核实；模型：{model_label}",
        "证件号码均已脱敏（保留前6位和后4位）。人员代号为假名编号，同一人在各名单中相同。",
        "「待核实」行的匹配姓名是最可能的候选人，请核实后使用；该候选人同时列在「名单外居民」中。",
    ]
    _write_xlsx(xlsx_path, [("名单匹配", list_headers, list_rows, len(staff.headers)),
                            ("名单外居民", complement_headers, complement_rows, 0)], notes)
    csv_paths: list[Path] = []
    if staff.kind == "csv":
        csv_paths = [out_dir / f"{stem}_匹配结果.csv", out_dir / f"{stem}_名单外居民.csv"]
        _write_csv(csv_paths[0], list_headers, list_rows)
        _write_csv(csv_paths[1], complement_headers, complement_rows)
    seconds = round(time.perf_counter() - started, 2)
    log.info("%s: %s in %.1fs", staff.name, counts, seconds)
    return MatchListResult(xlsx_path, csv_paths, decisions, complement.reset_index(drop=True), communities,
                           model_label, seconds, counts)
