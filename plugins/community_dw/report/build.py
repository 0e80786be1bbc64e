"""Build the offline HTML reports: one per community and one for the whole city, from one warehouse read."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from community_dw.config import TIMEZONE, output_dir
from community_dw.report import charts
from community_dw.report.data import AGE_BANDS, ALL_AGES, KEY_POPULATION_COLUMNS, CityData, load_city
from community_dw.report.geometry import LocalPlane, ViewBox, parse_wkt, path_data

log = logging.getLogger(__name__)

#: Counts of people below this are shown as "<5" in the city-wide report (statistical disclosure).
SUPPRESS_BELOW = 5
#: Coverage classes (complete-course rate): lower bounds, labels and colours (ColorBrewer YlGnBu).
RATE_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
RATE_COLOURS = ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494")
NO_PEOPLE, SUPPRESSED = -1, -2
#: Facility categories' colours (Tableau 10), assigned in category order.
CATEGORY_COLOURS = ("#e15759", "#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                    "#9c755f", "#bab0ac")
FACILITY_REACH_M = 1000.0
CITY_FILE = "city.html"

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("community_dw.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Masker:
    """Formats counts and rates; in the city-wide report, counts of 1-4 people become "<5".

    Zero is shown: it names no one. A rate is withheld when its numerator or denominator is, since
    rate x people would give the count back.
    """

    suppress: bool

    def hidden(self, n: Any) -> bool:
        return self.suppress and n is not None and not pd.isna(n) and 0 < int(n) < SUPPRESS_BELOW

    def count(self, n: Any) -> str:
        if n is None or pd.isna(n):
            return "–"
        return f"<{SUPPRESS_BELOW}" if self.hidden(n) else f"{int(n):,}"

    def value(self, n: Any) -> int | None:
        """The raw count for a data attribute or a chart, None where it is suppressed or missing."""
        return None if n is None or pd.isna(n) or self.hidden(n) else int(n)

    def rate(self, numerator: Any, denominator: Any) -> float | None:
        if not denominator or pd.isna(denominator) or self.hidden(numerator) or self.hidden(denominator):
            return None
        return round(int(numerator) / int(denominator), 4)


def rate_text(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def rate_class(rate: float | None, people: int, hidden: bool) -> int:
    if hidden:
        return SUPPRESSED
    if not people or rate is None:
        return NO_PEOPLE
    return int(np.searchsorted(RATE_BREAKS, rate, side="right") - 1)


def _json_script(value: Any) -> str:
    """JSON for an inline <script type="application/json">: "</" escaped so it cannot close the element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).replace("</", "<\\/")


def safe_file_name(name: str) -> str:
    """A community name as a file name: path separators and control characters replaced."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned or "community"


@dataclass
class Selection:
    key: str
    vaccine_code: str
    vaccine_label: str
    age_band: str


@dataclass
class ReportContext:
    """What one report's template needs; the city report is one with `is_city` and suppression on."""

    title: str
    scope: str
    is_city: bool
    masker: Masker
    grids: pd.DataFrame
    sections: dict[str, Any] = field(default_factory=dict)


def _selections(data: CityData) -> list[Selection]:
    names = dict(zip(data.vaccines["vaccine_code"], data.vaccines["vaccine_name"], strict=True))
    codes = sorted(set(data.coverage["vaccine_code"]))
    out = []
    for code in codes:
        label = f"{names.get(code, code)} {code}"
        for band in (ALL_AGES, *AGE_BANDS):
            out.append(Selection(f"{code}|{band}", code, label, band))
    return out


def _default_selection(data: CityData, selections: list[Selection]) -> str:
    """The vaccine that concerns the most people (all ages): the map a reader sees first."""
    if not selections:
        return ""
    totals = data.coverage[(data.coverage["area_level"] == "subdistrict") & (data.coverage["age_band"] == ALL_AGES)]
    if totals.empty:
        return selections[0].key
    top = totals.groupby("vaccine_code")["people"].sum().sort_values(ascending=False).index[0]
    return f"{top}|{ALL_AGES}"


def _coverage_totals(coverage: pd.DataFrame, level: str, area: str | None) -> pd.DataFrame:
    """One row per vaccine x band for the report's area: the community's rows, or the city's (sum of subdistricts)."""
    if level == "community":
        rows = coverage[(coverage["area_level"] == "community") & (coverage["area_code"] == area)]
    else:
        rows = coverage[coverage["area_level"] == "subdistrict"]
    return (rows.groupby(["vaccine_code", "age_band"], as_index=False)[
        ["people", "vaccinated_any_dose", "vaccinated_complete"]].sum())


def _coverage_section(ctx: ReportContext, data: CityData, selections: list[Selection], level: str,
                      area: str | None) -> dict[str, Any]:
    m = ctx.masker
    totals = _coverage_totals(data.coverage, level, area).set_index(["vaccine_code", "age_band"])
    rows = []
    for s in selections:
        if (s.vaccine_code, s.age_band) not in totals.index:
            continue
        t = totals.loc[(s.vaccine_code, s.age_band)]
        people, any_dose, complete = int(t["people"]), int(t["vaccinated_any_dose"]), int(t["vaccinated_complete"])
        complete_rate, any_rate = m.rate(complete, people), m.rate(any_dose, people)
        rows.append({
            "key": s.key, "vaccine_code": s.vaccine_code, "vaccine_label": s.vaccine_label, "age_band": s.age_band,
            "people": m.value(people), "people_text": m.count(people),
            "any": m.value(any_dose), "any_text": m.count(any_dose),
            "complete": m.value(complete), "complete_text": m.count(complete),
            "any_rate": any_rate, "any_rate_text": rate_text(any_rate),
            "complete_rate": complete_rate, "complete_rate_text": rate_text(complete_rate),
        })
    frame = pd.DataFrame(rows)
    chart = None
    if not frame.empty and charts.vega_bundle() is not None:
        bands = frame[frame["age_band"] != ALL_AGES]
        chart = charts.spec(charts.coverage_chart(bands))
    return {"rows": rows, "chart": chart, "by_key": {r["key"]: r for r in rows}}


def _grid_figures(ctx: ReportContext, data: CityData, selections: list[Selection]) -> dict[str, Any]:
    """Per selection: each grid's colour class and hover line; the legend's class counts."""
    m = ctx.masker
    codes = set(ctx.grids["grid_code"])
    cov = data.coverage[(data.coverage["area_level"] == "grid") & data.coverage["area_code"].isin(codes)]
    by_key = {k: g for k, g in cov.groupby(cov["vaccine_code"] + "|" + cov["age_band"])}
    colourings: dict[str, dict[str, list[Any]]] = {}
    bins: dict[str, list[int]] = {}
    for s in selections:
        rows = by_key.get(s.key)
        figures: dict[str, list[Any]] = {}
        counts = [0] * (len(RATE_BREAKS) + 2)
        indexed = rows.set_index("area_code") if rows is not None else pd.DataFrame()
        for code in ctx.grids["grid_code"]:
            if code in indexed.index:
                r = indexed.loc[code]
                people, any_dose, complete = int(r["people"]), int(r["vaccinated_any_dose"]), int(r["vaccinated_complete"])
            else:
                people = any_dose = complete = 0
            rate = m.rate(complete, people)
            cls = rate_class(rate, people, m.hidden(people) or m.hidden(complete))
            line = (f"{s.vaccine_label} {s.age_band}: eligible {m.count(people)}, any dose {m.count(any_dose)}, "
                    f"complete {m.count(complete)} ({rate_text(rate)})")
            figures[code] = [cls, line]
            counts[cls if cls >= 0 else len(RATE_BREAKS) + (0 if cls == NO_PEOPLE else 1)] += 1
        colourings[s.key] = figures
        bins[s.key] = counts
    return {"colourings": colourings, "bins": bins}


def _map_section(ctx: ReportContext, data: CityData, selections: list[Selection], default_key: str,
                 coverage: dict[str, Any], with_buildings: bool) -> dict[str, Any]:
    m = ctx.masker
    grids = ctx.grids
    geometries = parse_wkt(list(grids["geometry_wkt"]))
    drawable = [g for g in geometries if g is not None and not g.is_empty]
    if not drawable:
        return {"available": False}
    plane = LocalPlane.around(drawable)
    projected = [plane.project(g) if g is not None else None for g in geometries]
    box = ViewBox.of([g for g in projected if g is not None and not g.is_empty])
    figures = _grid_figures(ctx, data, selections)
    default_colouring = figures["colourings"].get(default_key, {})

    grid_features = []
    for (_, g), shape in zip(grids.iterrows(), projected, strict=True):
        cls, line = default_colouring.get(g["grid_code"], [NO_PEOPLE, ""])
        residents = int(g["residents"])
        grid_features.append({
            "code": g["grid_code"], "name": g["grid_name"], "worker": g["grid_worker_name"] or "–",
            "community": g["community"], "residents": m.value(residents), "residents_text": m.count(residents),
            "over_target": bool(g["over_target"]), "d": path_data(shape), "cls": cls, "line": line,
            "drawn": shape is not None and not shape.is_empty,
        })

    outlines = []
    if ctx.is_city:
        for community, rows in grids.assign(shape=projected).groupby("community"):
            shapes = [s for s in rows["shape"] if s is not None and not s.is_empty]
            if shapes:
                merged = shapely.union_all(shapes, grid_size=1.0)
                centre = merged.representative_point()
                outlines.append({"name": community, "d": path_data(merged), "x": round(centre.x), "y": round(centre.y)})

    buildings = []
    if with_buildings:
        b = data.buildings[data.buildings["grid_code"].isin(set(grids["grid_code"]))]
        xs, ys = plane.points(b["longitude"].to_numpy(), b["latitude"].to_numpy())
        radius = np.clip(np.sqrt(b["residents"].to_numpy(dtype=float)) * 2.5, 5, 60)
        for code, x, y, r, n in zip(b["building_code"], xs, ys, radius, b["residents"], strict=True):
            buildings.append({"code": code, "x": round(float(x)), "y": round(float(y)), "r": round(float(r)),
                              "residents_text": m.count(n)})

    f = data.facilities
    xs, ys = plane.points(f["longitude"].to_numpy(), f["latitude"].to_numpy())
    near = box.contains(xs, ys, reach_m=FACILITY_REACH_M)
    categories = sorted(set(data.facilities["category"]))
    colour_of = {c: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, c in enumerate(categories)}
    facilities = [{"id": fid, "name": name, "category": cat, "colour": colour_of[cat],
                   "x": round(float(x)), "y": round(float(y))}
                  for fid, name, cat, x, y, keep in zip(f["facility_id"], f["name"], f["category"], xs, ys, near,
                                                         strict=True) if keep]
    shown_categories = sorted({fac["category"] for fac in facilities})

    legend_totals = {}
    for s in selections:
        row = coverage["by_key"].get(s.key)
        if row:
            legend_totals[s.key] = {k: row[k] for k in ("people_text", "complete_text", "any_text",
                                                        "complete_rate_text", "people", "complete")}
    classes = [{"cls": i, "colour": RATE_COLOURS[i],
                "label": f"{lo:.0%}–{RATE_BREAKS[i + 1]:.0%}" if i + 1 < len(RATE_BREAKS) else f"≥{lo:.0%}"}
               for i, lo in enumerate(RATE_BREAKS)]
    scale = max(box.width, box.height)
    return {
        "available": True, "viewbox": box.attribute(), "box": box, "grids": grid_features, "outlines": outlines,
        "buildings": buildings, "facilities": facilities, "reach_m": FACILITY_REACH_M,
        "categories": [{"name": c, "colour": colour_of[c]} for c in shown_categories],
        "classes": classes, "bins": figures["bins"], "default_bins": figures["bins"].get(default_key, []),
        "default_totals": legend_totals.get(default_key), "marker_r": max(round(scale / 160), 20),
        "label_size": max(round(scale / 70), 40),
        "json": _json_script({"colourings": figures["colourings"], "bins": figures["bins"],
                              "totals": legend_totals}),
        "over_target": sum(1 for g in grid_features if g["over_target"]),
        "undrawn": [g["code"] for g in grid_features if not g["drawn"]],
    }


def _key_population_section(ctx: ReportContext, data: CityData, community: str | None) -> dict[str, Any]:
    m = ctx.masker
    kp = data.key_population
    if community is not None:
        rows = kp[kp["community"] == community].copy()
        rows["area"] = rows["grid_code"].where(rows["grid_code"] != "(unplaced)", "(不在网格 unplaced)")
        names = dict(zip(ctx.grids["grid_code"], ctx.grids["grid_name"], strict=True))
        rows["area_name"] = rows["grid_code"].map(names).fillna("")
        area_title = "网格 grid"
    else:
        columns = list(KEY_POPULATION_COLUMNS)
        rows = kp.assign(community=kp["community"].fillna("(unknown)")).groupby("community", as_index=False)[columns].sum()
        rows["area"] = rows["community"]
        rows["area_name"] = ""
        area_title = "社区 community"
    table = []
    long_rows = []
    for _, r in rows.iterrows():
        cells = []
        residents = int(r["residents"])
        for column, label in KEY_POPULATION_COLUMNS.items():
            n = int(r[column])
            cells.append({"field": column, "value": m.value(n), "text": m.count(n)})
            if column != "residents":
                long_rows.append({"area": r["area"], "category": label, "text": m.count(n),
                                  "share": None if m.hidden(n) or m.hidden(residents) or not residents
                                  else n / residents})
        table.append({"area": r["area"], "area_name": r["area_name"], "cells": cells})
    chart = None
    if long_rows and charts.vega_bundle() is not None:
        chart = charts.spec(charts.key_population_chart(pd.DataFrame(long_rows), area_title))
    return {"columns": KEY_POPULATION_COLUMNS, "rows": table, "chart": chart, "area_title": area_title}


def _outreach_section(ctx: ReportContext, data: CityData, community: str | None) -> dict[str, Any]:
    if data.outreach is None:
        return {"available": False}
    m = ctx.masker

    def scoped(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        if community is not None:
            frame = frame[frame["community"] == community]
        return frame.groupby(keys, as_index=False)["items"].sum() if not frame.empty else frame

    states = scoped(data.outreach.states, ["as_of_date", "state"])
    outcomes = scoped(data.outreach.outcomes, ["outcome_date", "outcome"])
    current = scoped(data.outreach.current, ["status", "outcome"])
    for frame in (states, outcomes, current):
        if not frame.empty:
            frame["text"] = frame["items"].map(m.count)
            frame["value"] = frame["items"].map(m.value)
    charts_ok = charts.vega_bundle() is not None
    states_chart = outcomes_chart = None
    if charts_ok and not states.empty:
        states_chart = charts.spec(charts.outreach_states_chart(
            states.assign(items=states["value"], as_of_date=states["as_of_date"].astype(str))))
    if charts_ok and not outcomes.empty:
        outcomes_chart = charts.spec(charts.outreach_outcomes_chart(
            outcomes.assign(items=outcomes["value"], outcome_date=outcomes["outcome_date"].astype(str))))
    return {"available": True, "states": states.to_dict("records"), "outcomes": outcomes.to_dict("records"),
            "current": current.to_dict("records"), "states_chart": states_chart, "outcomes_chart": outcomes_chart}


def _when(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(TIMEZONE)
    return stamp.strftime("%Y-%m-%d %H:%M")


def _freshness_section(data: CityData) -> list[dict[str, Any]]:
    rows = []
    for _, r in data.freshness.iterrows():
        rows.append({
            "department": r["department_label"], "source": r["source"],
            "last_success": _when(r.get("last_success_at")), "logical_date": _when(r.get("logical_date"))[:10],
            "rows": None if pd.isna(r.get("rows_loaded")) else int(r["rows_loaded"]),
            "last_status": r.get("last_status") or "–", "quality": r["quality_status"],
            "quality_checked": _when(r.get("quality_checked_at")),
        })
    return rows


def _grid_table(ctx: ReportContext) -> list[dict[str, Any]]:
    m = ctx.masker
    rows = []
    for _, g in ctx.grids.iterrows():
        rows.append({
            "code": g["grid_code"], "name": g["grid_name"], "worker": g["grid_worker_name"] or "–",
            "residents": m.value(g["residents"]), "residents_text": m.count(g["residents"]),
            "households": m.value(g["households"]), "households_text": m.count(g["households"]),
            "over_target": bool(g["over_target"]),
            "elderly": rate_text(None if pd.isna(g["elderly_care_within_1km_rate"]) else float(g["elderly_care_within_1km_rate"])),
            "health": rate_text(None if pd.isna(g["health_within_1km_rate"]) else float(g["health_within_1km_rate"])),
        })
    return rows


def _communities_table(data: CityData, masker: Masker, files: dict[str, str]) -> list[dict[str, Any]]:
    grids = data.grids
    rows = []
    for community, g in grids.groupby("community"):
        residents = int(g["residents"].sum())
        rows.append({"community": community, "subdistrict": g["subdistrict"].iloc[0], "grids": len(g),
                     "over_target": int(g["over_target"].sum()), "residents": masker.value(residents),
                     "residents_text": masker.count(residents), "file": files.get(community)})
    return rows


def _render(ctx: ReportContext, data: CityData, community: str | None, generated_at: str,
            files: dict[str, str]) -> str:
    selections = _selections(data)
    default_key = _default_selection(data, selections)
    coverage = _coverage_section(ctx, data, selections, "community" if community else "city", community)
    offered = [s for s in selections if s.key in coverage["by_key"]]
    bundle = charts.vega_bundle()
    return _templates.get_template("report.html").render(
        ctx=ctx, generated_at=generated_at, as_of=_when(data.as_of_date)[:10],
        selections=offered, default_key=default_key,
        coverage=coverage,
        map=_map_section(ctx, data, offered, default_key, coverage, with_buildings=not ctx.is_city),
        key_population=_key_population_section(ctx, data, community),
        outreach=_outreach_section(ctx, data, community),
        freshness=_freshness_section(data),
        grid_table=_grid_table(ctx),
        communities=_communities_table(data, ctx.masker, files) if ctx.is_city else [],
        suppress_below=SUPPRESS_BELOW, vega_bundle=bundle, report_js=_report_js(),
    )


def _report_js() -> str:
    return (Path(__file__).parent / "templates" / "report.js").read_text(encoding="utf-8")


def build_reports(engine: Engine, out_dir: Path | None = None, community: str | None = None) -> list[Path]:
    """Write <out>/<community>.html for every community (or only `community`) and <out>/city.html.

    Default out: <output dir>/reports. Returns the paths written, the city report last. Everything a
    report shows is inlined (map SVG, chart specs, the Vega scripts), so it opens without a network.
    """
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else output_dir() / "reports"
    out.mkdir(parents=True, exist_ok=True)
    data = load_city(engine)
    generated_at = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M")
    communities = sorted(c for c in data.grids["community"].dropna().unique())
    if community is not None and community not in communities:
        raise ValueError(f"no community {community!r} in core.grid; known: {', '.join(communities) or 'none'}")
    files = {c: f"{safe_file_name(c)}.html" for c in communities}
    written: list[Path] = []
    for name in [community] if community else communities:
        grids = data.grids[data.grids["community"] == name].reset_index(drop=True)
        subdistrict = grids["subdistrict"].dropna().iloc[0] if grids["subdistrict"].notna().any() else ""
        ctx = ReportContext(title=f"{name} 社区报告", scope=f"{subdistrict} {name}".strip(), is_city=False,
                            masker=Masker(suppress=False), grids=grids)
        path = out / files[name]
        path.write_text(_render(ctx, data, name, generated_at, files), encoding="utf-8")
        written.append(path)
    city = ReportContext(title="全市报告 city report", scope="全市 whole city", is_city=True,
                         masker=Masker(suppress=True), grids=data.grids.reset_index(drop=True))
    path = out / CITY_FILE
    path.write_text(_render(city, data, None, generated_at, files), encoding="utf-8")
    written.append(path)
    log.info("wrote %d reports to %s in %.1fs", len(written), out, time.perf_counter() - started)
    return written

