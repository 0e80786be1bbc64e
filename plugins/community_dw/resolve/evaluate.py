"""Score person resolution against a simulated city's ground truth (`_truth/`): who is who, and why.

The pipeline never reads the truth; the resolve benchmark and its integration test do, through this
module. Every linked record of core.person_link is matched to the truth person behind it:

- public security: (delivery file, staging source_row = the file's sheet row) in public_security_records;
- health: record_id in health_records;
- civil affairs: recipient_id in civil_affairs_recipients.

and to the identity defects the simulator planted in it (defects.parquet; columns normalized across
departments, e.g. 公民身份号码 and id_number are both `id_number`).

Metrics are pairwise, over ordered pairs anchored at each record: for a record r, true positives are
the other records with r's person_key and r's truth person, predicted pairs the other records with its
person_key, true pairs the other records of its truth person. Summed over all records this is the usual
pairwise precision / recall / F1 (each unordered pair counted twice); summed over the records carrying
one defect type it says how well records with that defect are linked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

RESIDENTS, VACCINATIONS, RECIPIENTS = ("public_security.residents", "health.vaccination_record",
                                       "civil_affairs.service_recipients")

#: Defects that reach resolution, by the truth's (source, column); the label is `<column>:<defect_type>`.
IDENTITY_COLUMNS = {
    "姓名": "name", "recipient_name": "name", "name": "name",
    "公民身份号码": "id_number", "id_number": "id_number",
    "性别": "sex",
    "出生日期": "birth_date",
    "联系电话": "phone", "phone": "phone",
    "楼栋编码": "building_code",
    "": "row",  # duplicate_row: a person registered twice in one file
}
CLEAN = "(no identity defect)"


@dataclass
class Score:
    """Pairwise metrics (overall first, then per defect type) and the queue a reviewer faces."""

    metrics: pd.DataFrame
    records: int
    review_records: int
    split_persons: int
    merged_keys: int
    unmatched_records: int

    @property
    def overall(self) -> pd.Series:
        return self.metrics.loc["overall"]

    @property
    def review_share(self) -> float:
        return self.review_records / self.records if self.records else 0.0

    def format(self) -> str:
        lines = [
            f"records {self.records:,}; truth persons split over several keys {self.split_persons:,}; "
            f"keys holding several truth persons {self.merged_keys:,}; records without truth {self.unmatched_records:,}",
            f"review queue: {self.review_records:,} records = {self.review_share:.3%} of records (target < 0.5%)",
            self.metrics.to_string(float_format=lambda v: f"{v:.5f}"),
        ]
        return "\n".join(lines)


def linked_records(engine: sa.Engine, city: Path) -> pd.DataFrame:
    """Every record of core.person_link with its truth person: source, record_ref, person_key, person_id, key."""
    from community_dw.simulate.truth import read_truth

    with engine.connect() as conn:
        links = pd.read_sql(sa.text(
            "select l.source, l.record_ref, l.person_key, r.delivery_name "
            "from core.person_link l left join audit.load_run r "
            "  on l.source = :res and r.load_id::text = split_part(l.record_ref, ':', 1)"),
            conn, params={"res": RESIDENTS})
    is_res = (links.source == RESIDENTS).to_numpy()
    # the record's truth key: file:sheet_row, record_id or recipient_id
    links["key"] = links.record_ref
    links.loc[is_res, "key"] = (links.delivery_name[is_res] + ":"
                                + links.record_ref[is_res].str.split(":").str[1])
    ps = read_truth(city, "public_security_records")
    health = read_truth(city, "health_records")
    recipients = read_truth(city, "civil_affairs_recipients")
    truth = pd.concat([
        pd.DataFrame({"source": RESIDENTS, "key": ps.file + ":" + ps.sheet_row.astype(str), "person_id": ps.person_id}),
        pd.DataFrame({"source": VACCINATIONS, "key": health.record_id.astype(str), "person_id": health.person_id}),
        pd.DataFrame({"source": RECIPIENTS, "key": recipients.recipient_id.astype(str),
                      "person_id": recipients.person_id}),
    ], ignore_index=True)
    out = links.drop(columns="delivery_name").merge(truth, on=["source", "key"], how="left")
    return out


def record_defects(city: Path) -> pd.DataFrame:
    """One row per (record, identity defect): source, key (as in linked_records), defect."""
    from community_dw.simulate.truth import read_truth

    defects = read_truth(city, "defects")
    defects = defects[defects.column.isin(IDENTITY_COLUMNS.keys())
                      & defects.source.isin(["public_security", "health", "civil_affairs"])]
    defects = defects[(defects.column != "") | (defects.defect_type == "duplicate_row")]
    label = defects.column.map(IDENTITY_COLUMNS) + ":" + defects.defect_type
    ps = read_truth(city, "public_security_records")
    sheet_row = dict(zip(ps.file + ":" + ps.row_number.astype(str), ps.sheet_row.astype(str), strict=True))
    is_ps = (defects.source == "public_security").to_numpy()
    key = defects.record_key.astype(str).copy()
    key[is_ps] = (defects.delivery[is_ps] + ":"
                  + (defects.delivery[is_ps] + ":" + defects.record_key[is_ps].astype(str)).map(sheet_row))
    source = defects.source.map({"public_security": RESIDENTS, "health": VACCINATIONS, "civil_affairs": RECIPIENTS})
    return pd.DataFrame({"source": source.to_numpy(), "key": key.to_numpy(), "defect": label.to_numpy()}).drop_duplicates()


def pairwise(records: pd.DataFrame, defects: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall, F1 of ordered pairs anchored at each record: overall, per defect, and clean."""
    cell = records.groupby(["person_id", "person_key"]).person_id.transform("size").to_numpy() - 1
    pred = records.groupby("person_key").person_key.transform("size").to_numpy() - 1
    true = records.groupby("person_id").person_id.transform("size").to_numpy() - 1
    parts = pd.DataFrame({"source": records.source.to_numpy(), "key": records.key.to_numpy(),
                          "tp": cell, "pred": pred, "true": true})
    tagged = parts.merge(defects, on=["source", "key"], how="inner")
    clean = parts[~parts.set_index(["source", "key"]).index.isin(tagged.set_index(["source", "key"]).index)]

    rows = {"overall": _sums(parts)}
    rows[CLEAN] = _sums(clean)
    for defect, group in sorted(tagged.groupby("defect"), key=lambda kv: kv[0]):
        rows[defect] = _sums(group)
    out = pd.DataFrame(rows).T
    out["precision"] = out.tp / out.pred.where(out.pred > 0)
    out["recall"] = out.tp / out.true.where(out.true > 0)
    out["f1"] = 2 * out.precision * out.recall / (out.precision + out.recall)
    out["records"] = out.records.astype(int)
    out["wrong"] = out.wrong.astype(int)
    return out[["records", "wrong", "precision", "recall", "f1"]]


def _sums(frame: pd.DataFrame) -> pd.Series:
    wrong = (frame.tp != frame.pred) | (frame.tp != frame.true)
    return pd.Series({"records": len(frame), "wrong": int(wrong.sum()), "tp": frame.tp.sum(),
                      "pred": frame.pred.sum(), "true": frame.true.sum()}, dtype=float)


def score(engine: sa.Engine, city: Path) -> Score:
    """Score core.person_link (and review.person_match's open queue) against the city's truth."""
    records = linked_records(engine, city)
    unmatched = int(records.person_id.isna().sum())
    matched = records[records.person_id.notna()]
    metrics = pairwise(matched, record_defects(city))
    keys_per_person = matched.groupby("person_id").person_key.nunique()
    persons_per_key = matched.groupby("person_key").person_id.nunique()
    with engine.connect() as conn:
        review = int(conn.execute(sa.text(
            "select count(distinct (source, record_ref)) from review.person_match where decision is null")).scalar() or 0)
    return Score(metrics, len(records), review, int((keys_per_person > 1).sum()), int((persons_per_key > 1).sum()),
                 unmatched)


def errors(engine: sa.Engine, city: Path, limit: int = 20) -> pd.DataFrame:
    """Records of split persons and merged keys, side by side with what the linker saw (for diagnosis)."""
    records = linked_records(engine, city)
    records = records[records.person_id.notna()]
    split = records.groupby("person_id").person_key.transform("nunique") > 1
    merged = records.groupby("person_key").person_id.transform("nunique") > 1
    bad = records[split | merged].copy()
    bad["problem"] = np.where(split[split | merged], "split", "") + np.where(merged[split | merged], " merged", "")
    with engine.connect() as conn:
        detail = pd.read_sql(sa.text(
            "select l.source, l.record_ref, l.method, l.score, r.name, r.id_number, r.id_valid, r.birth_date, r.sex, "
            "r.phone_primary, r.household_no, r.building_code from core.person_link l "
            "join core.person_record r using (source, record_ref)"), conn)
    bad = bad.merge(detail, on=["source", "record_ref"], how="left")
    first = bad.person_id.drop_duplicates().head(limit)
    return bad[bad.person_id.isin(first)].sort_values(["person_id", "person_key"])
