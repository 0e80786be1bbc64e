"""A settings-file-driven Fellegi–Sunter linker (Splink 5 on DuckDB): train once, link any two lists.

The settings file (YAML, see settings/person.yaml) names the columns, comparisons, blocking rules,
thresholds and EM training; this module turns it into a Splink settings dict, trains a model (EM),
and scores pairs. Nothing here knows about the warehouse: resolution (probabilistic.py) and staff
list matching both hand it pandas frames.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SETTINGS_DIR = Path(__file__).resolve().parent / "settings"

#: Comparison kinds the settings file may name (see _levels).
KINDS = ("exact", "jaro_winkler", "levenshtein", "date", "any_exact", "cascade")


@dataclass(frozen=True)
class LinkSettings:
    """A parsed settings file, with a version (file name + content hash) stamped on every link."""

    name: str
    unique_id: str
    columns: list[str]
    comparisons: list[dict[str, Any]]
    blocking: list[list[str]]
    upper: float
    lower: float
    probability_two_random_records_match: float
    training: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    #: how many bits (log2 odds) the best candidate must be ahead of the next one to be linked
    margin_bits: float = 10.0

    def no_link_gammas(self) -> dict[str, set[int]]:
        """Per output column, the gamma values (Splink numbers levels else = 0 upwards) of the levels
        the settings file names under `no_link_levels`: a pair at one of them is never linked
        automatically, however much else agrees (twins share birth date, phone and household; a
        father and son may share a name and household)."""
        out: dict[str, set[int]] = {}
        for comp in self.comparisons:
            names = comp.get("no_link_levels")
            if not names:
                continue
            labels = [lvl["label_for_charts"] for lvl in _levels(comp) if not lvl.get("is_null_level")]
            unknown = set(names) - set(labels)
            if unknown:
                raise ValueError(f"comparison {comp.get('output') or comp['column']}: no_link_levels "
                                 f"{sorted(unknown)} not among its levels {labels}")
            out[comp.get("output") or comp["column"]] = {len(labels) - 1 - labels.index(n) for n in names}
        return out

    @property
    def m_floors(self) -> dict[str, float]:
        """Comparisons with an m floor of their own (settings `m_floor`), by output column."""
        return {comp.get("output") or comp["column"]: float(comp["m_floor"])
                for comp in self.comparisons if "m_floor" in comp}

    @property
    def compared_columns(self) -> list[str]:
        cols: list[str] = []
        for comp in self.comparisons:
            cols.extend(c for c in comp.get("columns") or [comp["column"]] if c not in cols)
        return cols


def load_settings(name_or_path: str | Path = "person") -> LinkSettings:
    """Read `settings/<name>.yaml` (or a path) and validate what the engine relies on."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = SETTINGS_DIR / f"{name_or_path}.yaml"
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    settings = LinkSettings(
        name=raw["name"],
        unique_id=raw.get("unique_id", "uid"),
        columns=list(raw["columns"]),
        comparisons=list(raw["comparisons"]),
        blocking=[list(rule) for rule in raw["blocking"]],
        upper=float(raw["thresholds"]["upper"]),
        lower=float(raw["thresholds"]["lower"]),
        probability_two_random_records_match=float(raw.get("probability_two_random_records_match", 1e-4)),
        training=dict(raw.get("training") or {}),
        margin_bits=float(raw["thresholds"].get("margin_bits", 10.0)),
        # The version names the exact file content, so a link can be traced to the rules that made it.
        version=f"{path.stem}@{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}",
    )
    for comp in settings.comparisons:
        if comp["kind"] not in KINDS:
            raise ValueError(f"{path.name}: unknown comparison kind {comp['kind']!r} (one of {KINDS})")
    unknown = {c for c in settings.compared_columns + [c for r in settings.blocking for c in r]} - set(settings.columns)
    if unknown:
        raise ValueError(f"{path.name}: columns used but not declared: {sorted(unknown)}")
    if not 0 < settings.lower <= settings.upper < 1:
        raise ValueError(f"{path.name}: thresholds must satisfy 0 < lower <= upper < 1")
    return settings


def _q(column: str, side: str) -> str:
    return f'"{column}_{side}"'


def _null(column: str) -> str:
    return f"{_q(column, 'l')} IS NULL OR {_q(column, 'r')} IS NULL"


def _levels(comp: dict[str, Any]) -> list[dict[str, Any]]:
    """Comparison levels (DuckDB SQL) for one comparison of the settings file, most alike first."""
    kind = comp["kind"]
    if kind == "cascade":
        # One comparison over several columns that say the same thing (a name and its pinyin):
        # counted once, at the first level that holds, so correlated evidence is not added twice.
        first = comp["columns"][0]
        levels = [{"sql_condition": _null(first), "label_for_charts": "null", "is_null_level": True}]
        for column, how, *arg in comp["levels"]:
            left, right = _q(column, "l"), _q(column, "r")
            if how == "exact":
                levels.append({"sql_condition": f"{left} = {right}", "label_for_charts": f"{column} exact"})
            elif how == "jaro_winkler":
                levels.append({"sql_condition": f"jaro_winkler_similarity({left}, {right}) >= {arg[0]}",
                               "label_for_charts": f"{column} jw >= {arg[0]}"})
            elif how == "levenshtein":
                levels.append({"sql_condition": f"levenshtein({left}, {right}) <= {arg[0]}",
                               "label_for_charts": f"{column} lev <= {arg[0]}"})
            else:
                raise ValueError(f"cascade level {how!r}: one of exact, jaro_winkler, levenshtein")
        return levels + [{"sql_condition": "ELSE", "label_for_charts": "else"}]
    if kind == "any_exact":
        cols = comp["columns"]
        side_null = " OR ".join(
            "(" + " AND ".join(f"{_q(c, s)} IS NULL" for c in cols) + ")" for s in ("l", "r"))
        levels = [{"sql_condition": side_null, "label_for_charts": "null", "is_null_level": True}]
        levels += [{"sql_condition": f"{_q(c, 'l')} = {_q(c, 'r')}", "label_for_charts": f"{c} exact"}
                   for c in cols]
        return levels + [{"sql_condition": "ELSE", "label_for_charts": "else"}]

    col = comp["column"]
    left, right = _q(col, "l"), _q(col, "r")
    levels = [{"sql_condition": _null(col), "label_for_charts": "null", "is_null_level": True},
              {"sql_condition": f"{left} = {right}", "label_for_charts": "exact"}]
    if kind == "jaro_winkler":
        levels += [{"sql_condition": f"jaro_winkler_similarity({left}, {right}) >= {t}", "label_for_charts": f"jw >= {t}"}
                   for t in sorted(comp["thresholds"], reverse=True)]
    elif kind == "levenshtein":
        levels += [{"sql_condition": f"levenshtein({left}, {right}) <= {t}", "label_for_charts": f"lev <= {t}"}
                   for t in sorted(comp["thresholds"])]
    elif kind == "date":
        # A day and month typed the wrong way round is a classic entry error, worth its own level.
        levels += [
            {"sql_condition": f"year({left}) = year({right}) AND month({left}) = day({right}) AND day({left}) = month({right})",
             "label_for_charts": "day-month swapped"},
            {"sql_condition": f"abs(date_diff('day', {left}, {right})) <= {int(comp.get('within_days', 366))}",
             "label_for_charts": f"within {comp.get('within_days', 366)} days"},
        ]
    return levels + [{"sql_condition": "ELSE", "label_for_charts": "else"}]


def _with_priors(levels: list[dict[str, Any]], comp: dict[str, Any]) -> list[dict[str, Any]]:
    """Attach the settings file's m/u priors (one per non-null level) to the levels."""
    scored = [lvl for lvl in levels if not lvl.get("is_null_level")]
    for key in ("m", "u"):
        if key in comp:
            if len(comp[key]) != len(scored):
                raise ValueError(f"comparison {comp.get('output') or comp['column']}: {key} needs "
                                 f"{len(scored)} values, one per non-null level")
            for lvl, value in zip(scored, comp[key], strict=True):
                lvl[f"{key}_probability"] = float(value)
    return levels


def splink_settings(settings: LinkSettings, link_type: str = "dedupe_only") -> dict[str, Any]:
    """The Splink settings dict (untrained) the settings file describes."""
    return {
        "link_type": link_type,
        "unique_id_column_name": settings.unique_id,
        "probability_two_random_records_match": settings.probability_two_random_records_match,
        "comparisons": [
            {"output_column_name": comp.get("output") or comp["column"],
             "comparison_levels": _with_priors(_levels(comp), comp)}
            for comp in settings.comparisons
        ],
        "blocking_rules_to_generate_predictions": [_blocking_sql(rule) for rule in settings.blocking],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
        "max_iterations": int(settings.training.get("max_iterations", 25)),
        "em_convergence": float(settings.training.get("em_convergence", 0.0001)),
    }


def _blocking_sql(rule: list[str]) -> dict[str, str]:
    return {"blocking_rule": " AND ".join(f"l.\"{c}\" = r.\"{c}\"" for c in rule), "sql_dialect": "duckdb"}


def prepare(frame: pd.DataFrame, settings: LinkSettings) -> pd.DataFrame:
    """The declared columns only, blanks as nulls, dates as dates; a missing column is all-null."""
    out = pd.DataFrame({settings.unique_id: frame[settings.unique_id].astype(str)})
    for col in settings.columns:
        values = frame[col] if col in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        if col.endswith("_date"):
            out[col] = pd.to_datetime(values, errors="coerce").dt.date
        else:
            values = values.astype("string").str.strip()
            out[col] = values.where(values != "").astype(object).where(values.notna(), None)
    return out


def _db_api():
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:")
    # Two cores on the target machine; let DuckDB use them but keep memory bounded.
    con.execute("SET preserve_insertion_order = false")
    return DuckDBAPI(connection=con)


def train(frame: pd.DataFrame, settings: LinkSettings) -> dict[str, Any]:
    """Estimate u by random sampling and m by EM on a sample of `frame`; returns the model (JSON-able).

    Training is done once (or when the settings file changes): the model is stored and daily runs
    only score pairs with it.
    """
    from splink import Linker

    cfg = settings.training
    data = prepare(frame, settings).drop_duplicates(subset=settings.columns)
    if len(data) > int(cfg.get("max_sample_records", 300_000)):
        data = data.sample(int(cfg["max_sample_records"]), random_state=int(cfg.get("seed", 7)))
    db_api = _db_api()
    linker = Linker(db_api.register(data, table_name="train_records"), splink_settings(settings), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=float(cfg.get("u_max_pairs", 5e6)),
                                                     seed=int(cfg.get("seed", 7)))
    from splink.internals.exceptions import EMTrainingException

    for rule in cfg.get("em_blocks", []):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                _blocking_sql(rule)["blocking_rule"], estimate_without_term_frequencies=True)
        except EMTrainingException as error:
            # A small or young warehouse may have no pairs for a block; the other blocks still train.
            log.warning("EM block %s skipped: %s", rule, str(error).splitlines()[0])
    model = smooth(linker.misc.save_model_to_json(), float(cfg.get("m_floor", 0.001)),
                   float(cfg.get("u_floor", 1e-7)), settings.m_floors)
    # EM estimates the match prior per block; the file's prior is the deliberate one for the whole set.
    model["probability_two_random_records_match"] = settings.probability_two_random_records_match
    return model


def smooth(model: dict[str, Any], m_floor: float, u_floor: float,
           m_floors: dict[str, float] | None = None) -> dict[str, Any]:
    """Floor m and u of every non-null level, renormalized per comparison.

    A level never seen in training gets m (or u) 0, i.e. an infinite weight: one typo in a name would
    forbid a link forever, and one day-month swap absent from the random sample would force one.
    `m_floors` sets a comparison's own floor (by output column): a totally different name or birth
    date among true matches is far rarer than the default floor says, and must outweigh the family
    evidence (household, phone) that relatives share.
    """
    for comp in model["comparisons"]:
        levels = [lvl for lvl in comp["comparison_levels"] if not lvl.get("is_null_level")]
        own_m_floor = (m_floors or {}).get(comp.get("output_column_name"), m_floor)
        for key, floor in (("m_probability", own_m_floor), ("u_probability", u_floor)):
            values = [lvl.get(key) if isinstance(lvl.get(key), (int, float)) else 0.0 for lvl in levels]
            values = [max(v, floor) for v in values]
            total = sum(values)
            for lvl, v in zip(levels, values, strict=True):
                lvl[key] = v / total
    return model


def link_lists(left: pd.DataFrame, right: pd.DataFrame, settings: LinkSettings,
               model: dict[str, Any] | None = None, *, threshold: float | None = None) -> pd.DataFrame:
    """Score every blocked pair between `left` and `right` (never within one of them).

    Returns one row per pair: uid_l (from left), uid_r (from right), match_probability, match_weight
    and the compared columns of both sides. Pairs under `threshold` (default: the settings' lower
    threshold) are dropped. Without a trained `model` the settings' priors are used, which is only
    good for tests.
    """
    if left.empty or right.empty:
        return _empty_pairs(settings)
    from splink import Linker

    db_api = _db_api()
    left_df = db_api.register(prepare(left, settings), table_name="left_records")
    right_df = db_api.register(prepare(right, settings), table_name="right_records")
    linker = Linker(left_df, model or splink_settings(settings), log_level=logging.WARNING)
    predictions = linker.inference.predict_between(
        left_df, right_df, link_type="dedupe_only",
        threshold_match_probability=settings.lower if threshold is None else threshold,
        warning_mode="never")
    return _pairs(predictions, settings)


def dedupe_list(frame: pd.DataFrame, settings: LinkSettings, model: dict[str, Any] | None = None,
                *, threshold: float | None = None) -> pd.DataFrame:
    """Score blocked pairs within one list (same columns as link_lists; uid_l < uid_r)."""
    if len(frame) < 2:
        return _empty_pairs(settings)
    from splink import Linker

    db_api = _db_api()
    records = db_api.register(prepare(frame, settings), table_name="records")
    linker = Linker(records, model or splink_settings(settings), log_level=logging.WARNING)
    predictions = linker.inference.predict_within(
        records, threshold_match_probability=settings.lower if threshold is None else threshold,
        warning_mode="never")
    return _pairs(predictions, settings)


def _pairs(predictions, settings: LinkSettings) -> pd.DataFrame:
    uid = settings.unique_id
    frame = predictions.as_pandas_dataframe()
    predictions.drop_table_from_database_and_remove_from_cache()
    frame = frame.rename(columns={f"{uid}_l": "uid_l", f"{uid}_r": "uid_r"})
    vetoed = pd.Series(False, index=frame.index)
    for output, gammas in settings.no_link_gammas().items():
        if f"gamma_{output}" in frame.columns:
            vetoed |= frame[f"gamma_{output}"].isin(gammas)
    if vetoed.any():
        # at most a review pair: just under the upper threshold
        frame.loc[vetoed, "match_probability"] = frame.loc[vetoed, "match_probability"].clip(
            upper=float(np.nextafter(settings.upper, 0)))
    keep = ["uid_l", "uid_r", "match_probability", "match_weight"]
    keep += [c for c in frame.columns if c.startswith("gamma_")]
    keep += [c for col in settings.compared_columns for c in (f"{col}_l", f"{col}_r") if c in frame.columns]
    return frame[keep].reset_index(drop=True)


def _empty_pairs(settings: LinkSettings) -> pd.DataFrame:
    return pd.DataFrame({"uid_l": pd.Series(dtype=str), "uid_r": pd.Series(dtype=str),
                         "match_probability": pd.Series(dtype=float), "match_weight": pd.Series(dtype=float)})


def model_json(model: dict[str, Any]) -> str:
    return json.dumps(model, ensure_ascii=False, sort_keys=True)
