"""The one catalogue of issue and reason codes the standardizers set and quarantine records.

Every ``*_issue`` column written by a standardizer holds one of these codes (or NA when the value
was clean), and ``quarantine.*`` rows carry one as their reason. Keeping them in a single module
means a code can be looked up, translated for community staff and checked in tests (a test asserts
that every code a standardizer can emit is listed here), instead of drifting between files.

Codes are short snake_case English; each has a Chinese and an English one-line description and the
columns it can appear in. A code names what was wrong with the *input*; whether the row is then
rejected (quarantined) or kept with the flag is the staging step's decision, suggested in
``action``: ``reject`` (the value is unusable and was set to NA), ``flag`` (the value is kept, or
repaired, and the row usable), ``absent`` (nothing was delivered).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One issue code: what it means in both languages and where it can appear."""

    code: str
    zh: str
    en: str
    columns: tuple[str, ...]
    action: str  # 'reject' | 'flag' | 'absent'


# --- codes shared by several standardizers -------------------------------------------------------
BLANK = "blank"
UNKNOWN_VALUE = "unknown_value"

# --- ID numbers (公民身份号码) ---------------------------------------------------------------------
NON_DIGIT = "non_digit"
BAD_LENGTH = "bad_length"
BAD_DATE = "bad_date"
BAD_REGION = "bad_region"
BAD_CHECK_DIGIT = "bad_check_digit"

# --- dates and timestamps --------------------------------------------------------------------------
UNPARSEABLE = "unparseable"
OUT_OF_RANGE = "out_of_range"

# --- phones --------------------------------------------------------------------------------------
NO_VALID_NUMBER = "no_valid_number"
SOME_INVALID = "some_invalid"
LANDLINE_NO_AREA_CODE = "landline_no_area_code"

# --- names ---------------------------------------------------------------------------------------
NO_LETTERS = "no_letters"

# --- coordinates ---------------------------------------------------------------------------------
MISSING = "missing"
NOT_A_NUMBER = "not_a_number"
ZERO = "zero"
SWAPPED_FIXED = "swapped_fixed"
OUT_OF_AREA = "out_of_area"

# --- row-level quarantine reasons (set by staging, listed here so there is one catalogue) ---------
NO_IDENTITY = "no_identity"
DUPLICATE_RECORD = "duplicate_record"
DUPLICATE_KEY = "duplicate_key"
MISSING_KEY = "missing_key"
MISSING_NAME = "missing_name"
MISSING_REQUIRED = "missing_required"
MISSING_GEOMETRY = "missing_geometry"
MISSING_VACCINE_CODE = "missing_vaccine_code"
BAD_TIMESTAMP = "bad_timestamp"
UNKNOWN_CHANGE_TYPE = "unknown_change_type"
SOURCE_DELETED = "source_deleted"

_ID = ("id_issue",)

REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(BLANK, "空值：未提供", "blank: nothing was delivered",
               ("id_issue", "name_issue", "phone_issue", "date_issue", "timestamp_issue",
                "ethnicity_issue", "id_type_issue", "population_type_issue",
                "change_type_issue", "sex_issue"), "absent"),
        Reason(UNKNOWN_VALUE, "无法识别的代码值", "a code value outside the known set",
               ("ethnicity_issue", "id_type_issue", "population_type_issue", "change_type_issue",
                "sex_issue"), "reject"),
        Reason(NON_DIGIT, "身份号码含非数字字符（末位X除外）",
               "ID number holds characters other than digits (and a final X)", _ID, "reject"),
        Reason(BAD_LENGTH, "身份号码长度不是18位或15位", "ID number is neither 18 nor 15 characters",
               _ID, "reject"),
        Reason(BAD_DATE, "身份号码中的出生日期不存在或不合理",
               "the birth date inside the ID number (or a delivered date) is impossible or implausible",
               (*_ID, "date_issue", "birth_date_issue"), "flag"),
        Reason(BAD_REGION, "身份号码的行政区划代码（省级）不存在",
               "the region code of the ID number names no province", _ID, "flag"),
        Reason(BAD_CHECK_DIGIT, "身份号码校验码错误（GB 11643）",
               "the ID number's check digit is wrong (GB 11643); kept for probabilistic matching",
               _ID, "flag"),
        Reason(UNPARSEABLE, "日期/时间格式无法识别", "date or timestamp in no recognised format",
               ("date_issue", "timestamp_issue", "birth_date_issue"), "reject"),
        Reason(OUT_OF_RANGE, "日期超出合理范围（如未来出生日期）",
               "date outside the plausible range (e.g. a birth date in the future)",
               ("date_issue", "birth_date_issue"), "reject"),
        Reason(NO_VALID_NUMBER, "电话字段中没有可用号码", "the phone field holds no usable number",
               ("phone_issue",), "reject"),
        Reason(SOME_INVALID, "多个号码中有无效号码（已舍弃）",
               "some of several numbers were unusable and dropped; the rest are kept",
               ("phone_issue",), "flag"),
        Reason(LANDLINE_NO_AREA_CODE, "固定电话缺区号", "landline without an area code (kept as delivered)",
               ("phone_issue",), "flag"),
        Reason(NO_LETTERS, "姓名不含任何文字", "the name holds no letters or characters at all",
               ("name_issue",), "reject"),
        Reason(MISSING, "经纬度缺失", "longitude or latitude missing", ("coord_issue",), "absent"),
        Reason(NOT_A_NUMBER, "经纬度不是数字", "longitude or latitude is not a number",
               ("coord_issue",), "reject"),
        Reason(ZERO, "经纬度为0", "longitude or latitude is 0 (a placeholder, not a place)",
               ("coord_issue",), "reject"),
        Reason(SWAPPED_FIXED, "经纬度颠倒，已互换修正", "longitude and latitude were swapped; swapped back",
               ("coord_issue",), "flag"),
        Reason(OUT_OF_AREA, "坐标不在服务区域范围内", "the point lies outside the area's bounding box",
               ("coord_issue",), "reject"),
        Reason(NO_IDENTITY, "既无有效证件号码也无姓名，无法识别人员",
               "neither a usable ID number nor a name: the person cannot be identified",
               ("quarantine.reason",), "reject"),
        Reason(DUPLICATE_RECORD, "同一批次中的重复记录", "the same record twice in one delivery",
               ("quarantine.reason",), "reject"),
        Reason(DUPLICATE_KEY, "源主键重复（保留第一条）", "the source key occurs twice; the first row is kept",
               ("quarantine.reason",), "reject"),
        Reason(MISSING_KEY, "源主键为空", "the source's own key (record/facility/building id) is blank",
               ("quarantine.reason",), "reject"),
        Reason(MISSING_NAME, "姓名为空", "the person's name is blank", ("quarantine.reason",), "reject"),
        Reason(MISSING_REQUIRED, "必填字段缺失", "a required field is blank", ("quarantine.reason",),
               "reject"),
        Reason(MISSING_GEOMETRY, "网格几何为空或无效", "the grid has no usable geometry", ("quarantine.reason",),
               "reject"),
        Reason(MISSING_VACCINE_CODE, "疫苗编码为空", "the vaccine code is blank", ("quarantine.reason",),
               "reject"),
        Reason(BAD_TIMESTAMP, "时间戳缺失或无法解析", "a required timestamp is blank or unparseable",
               ("quarantine.reason",), "reject"),
        Reason(UNKNOWN_CHANGE_TYPE, "变动类型无法识别", "a delta row with an unknown change type",
               ("quarantine.reason",), "reject"),
        Reason(SOURCE_DELETED, "源系统已撤销的记录", "a record revoked at the source (is_deleted)",
               ("quarantine.reason",), "reject"),
    )
}


def describe(code: str, lang: str = "zh") -> str:
    """One-line description of a code, for reports and quarantine exports read by staff."""
    reason = REASONS[code]
    return reason.zh if lang == "zh" else reason.en


def catalogue_markdown() -> str:
    """The catalogue as a markdown table, so documentation is generated rather than copied."""
    lines = ["| code | 说明 | meaning | columns | action |", "|---|---|---|---|---|"]
    for r in REASONS.values():
        lines.append(f"| `{r.code}` | {r.zh} | {r.en} | {', '.join(r.columns)} | {r.action} |")
    return "\n".join(lines)
