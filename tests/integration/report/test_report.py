"""The offline reports, built from a small simulated city: self-contained, complete, and true to the marts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from community_dw.report import build_reports
from community_dw.report.build import CITY_FILE, RATE_BREAKS, Masker, safe_file_name
from tests.integration.report.conftest import ReportCity
from tests.integration.report.html_tree import Element, parse

pytestmark = pytest.mark.slow

EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
#: Elements and attributes through which a page fetches something.
FETCHING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "video": "src",
            "audio": "src", "embed": "src", "object": "data", "image": "href"}
COUNT_FIELDS = {"people", "vaccinated_any_dose", "vaccinated_complete", "residents", "households", "items",
                "aged_60_plus", "aged_80_plus", "aged_80_plus_living_alone", "floating_population", "extreme_poverty",
                "minimum_allowance", "disability", "aged_80_plus_alone_recipients", "children_in_difficulty"}


@pytest.fixture(scope="module")
def reports(report_city: ReportCity, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    started = time.perf_counter()
    paths = build_reports(report_city.engine, out)
    print(f"\n{len(paths)} reports in {time.perf_counter() - started:.1f}s: {[p.name for p in paths]}")
    return {path.name: path for path in paths}


@pytest.fixture(scope="module")
def trees(reports: dict[str, Path]) -> dict[str, Element]:
    return {name: parse(path.read_text(encoding="utf-8")) for name, path in reports.items()}


def _frame(engine: sa.Engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


def _communities(engine: sa.Engine) -> list[str]:
    return sorted(_frame(engine, "select distinct community from core.grid")["community"])


def _value(cell: Element) -> int | None:
    value = cell.attrs.get("data-value")
    return None if value is None else int(value)


def test_one_report_per_community_and_one_for_the_city(report_city: ReportCity, reports: dict[str, Path]) -> None:
    communities = _communities(report_city.engine)
    assert len(communities) >= 2
    assert set(reports) == {f"{safe_file_name(c)}.html" for c in communities} | {CITY_FILE}
    assert all(path.stat().st_size > 10_000 for path in reports.values())


def test_nothing_is_fetched_from_another_host(trees: dict[str, Element]) -> None:
    for name, tree in trees.items():
        for element in tree.iter():
            if element.tag in FETCHING:
                target = element.attrs.get(FETCHING[element.tag])
                assert element.tag != "script" or target is None, f"{name}: <script src={target}>"
                assert target is None or not EXTERNAL.match(target), f"{name}: <{element.tag}> fetches {target}"
            for attribute, value in element.attrs.items():
                assert not (value and EXTERNAL.search(value)), f"{name}: {element.tag}[{attribute}]={value!r}"
            if element.tag == "style":
                css = element.text()
                assert "@import" not in css and "@font-face" not in css, name
                assert not re.search(r"url\(\s*['\"]?(?!#)", css), f"{name}: CSS url() to something not in the page"
            if element.tag not in ("script", "style"):
                assert not EXTERNAL.search("".join(element.parts)), f"{name}: a URL in the text of <{element.tag}>"
        # The only scripts: the inlined Vega bundle, the report's own code, and JSON data blocks.
        assert all("src" not in script.attrs for script in tree.iter("script")), name
        assert not list(tree.iter("link")), f"{name}: <link> elements"


def test_every_grid_of_the_community_is_drawn(report_city: ReportCity, reports: dict[str, Path],
                                              trees: dict[str, Element]) -> None:
    grids = _frame(report_city.engine, "select grid_code, community, grid_worker_name from core.grid")
    for community, rows in grids.groupby("community"):
        tree = trees[f"{safe_file_name(community)}.html"]
        drawn = {path.attrs["data-grid"]: path for path in tree.find_all("path") if "grid" in path.cls()}
        assert set(drawn) == set(rows["grid_code"])
        for _, row in rows.iterrows():
            path = drawn[row["grid_code"]]
            assert re.fullmatch(r"(M-?\d+ -?\d+( -?\d+ -?\d+){2,}Z)+", path.attrs["d"]), path.attrs["d"][:80]
            title = path.find("title").text()  # what a hover shows: code, worker and figures
            assert row["grid_code"] in title and row["grid_worker_name"] in title and "residents" in title
    city_drawn = {path.attrs["data-grid"] for path in trees[CITY_FILE].find_all("path") if "grid" in path.cls()}
    assert city_drawn == set(grids["grid_code"])


def test_map_layers_buildings_facilities_and_over_target(report_city: ReportCity, trees: dict[str, Element]) -> None:
    engine = report_city.engine
    workload = _frame(engine, "select grid_code, community, over_target from mart.grid_workload")
    buildings = _frame(engine, "select b.building_code, g.community from core.building b join core.grid g using (grid_code) "
                               "where b.longitude is not null")
    for community, rows in workload.groupby("community"):
        tree = trees[f"{safe_file_name(community)}.html"]
        outlined = {p.attrs["data-grid"] for p in tree.find_all("path") if "over-target" in p.cls()}
        assert outlined == set(rows.loc[rows["over_target"], "grid_code"])
        assert tree.find("b", id="over-target-count").text() == str(int(rows["over_target"].sum()))
        drawn = {c.attrs["data-building"] for c in tree.find_all("circle") if "building" in c.cls()}
        assert drawn == set(buildings.loc[buildings["community"] == community, "building_code"])
        # every drawn facility is open, and has its 1 km circle
        facilities = [r for r in tree.find_all("rect") if "facility" in r.cls()]
        reach = [c for c in tree.find_all("circle") if "reach" in c.cls()]
        assert len(reach) == len(facilities) and all(c.attrs["r"] == "1000" for c in reach)
    open_ids = set(_frame(engine, "select facility_id from core.facility where is_open")["facility_id"].astype(str))
    drawn_ids = {r.attrs["data-facility"] for t in trees.values() for r in t.find_all("rect") if "facility" in r.cls()}
    assert drawn_ids and drawn_ids <= open_ids


def test_community_tables_and_legend_equal_the_mart(report_city: ReportCity, trees: dict[str, Element]) -> None:
    engine = report_city.engine
    coverage = _frame(engine, "select * from mart.vaccination_coverage where area_level = 'community'")
    grid_coverage = _frame(engine, "select * from mart.vaccination_coverage where area_level = 'grid'")
    key_population = _frame(engine, "select * from mart.key_population")
    workload = _frame(engine, "select * from mart.grid_workload")
    for community in _communities(engine):
        tree = trees[f"{safe_file_name(community)}.html"]
        mart = coverage[coverage["community"] == community]
        rows = {(r.attrs["data-vaccine"], r.attrs["data-band"]): r for r in tree.find("table", id="coverage-table").iter("tr")
                if "data-vaccine" in r.attrs}
        assert len(rows) == len(mart) + mart["vaccine_code"].nunique()  # each band, plus "all"
        for _, m in mart.iterrows():
            cells = {c.attrs["data-field"]: c for c in rows[(m["vaccine_code"], m["age_band"])].iter("td") if "data-field" in c.attrs}
            for field in ("people", "vaccinated_any_dose", "vaccinated_complete"):
                assert _value(cells[field]) == m[field]
            if m["complete_rate"] is not None and not pd.isna(m["complete_rate"]):
                assert float(cells["complete_rate"].attrs["data-value"]) == pytest.approx(float(m["complete_rate"]))
        for vaccine, bands in mart.groupby("vaccine_code"):
            cells = {c.attrs["data-field"]: c for c in rows[(vaccine, "all")].iter("td") if "data-field" in c.attrs}
            assert _value(cells["people"]) == bands["people"].sum()
            assert _value(cells["vaccinated_complete"]) == bands["vaccinated_complete"].sum()

        # the legend: the community's totals for the selection shown, and how many grids fall in each class
        legend = tree.find("div", id="legend-totals")
        vaccine, band = legend.attrs["data-key"].split("|")
        selected = mart[mart["vaccine_code"] == vaccine] if band == "all" else \
            mart[(mart["vaccine_code"] == vaccine) & (mart["age_band"] == band)]
        assert int(legend.attrs["data-people"]) == selected["people"].sum()
        assert int(legend.attrs["data-complete"]) == selected["vaccinated_complete"].sum()
        grids = grid_coverage[(grid_coverage["community"] == community) & (grid_coverage["vaccine_code"] == vaccine)]
        if band != "all":
            grids = grids[grids["age_band"] == band]
        per_grid = grids.groupby("area_code")[["people", "vaccinated_complete"]].sum()
        expected = [0] * len(RATE_BREAKS)
        for _, g in per_grid[per_grid["people"] > 0].iterrows():
            rate = round(g["vaccinated_complete"] / g["people"], 4)
            expected[max(i for i, lo in enumerate(RATE_BREAKS) if rate >= lo)] += 1
        shown = [int(r.find("td", data_field="grids").text()) for r in tree.find("table", id="legend-classes").iter("tr")
                 if r.attrs.get("data-class", "-1") not in ("-1", "-2")]
        assert shown == expected
        # the precomputed colourings the selector switches between cover every grid, for every option
        map_data = json.loads(tree.find("script", id="map-data").text())
        options = [o.attrs["value"] for o in tree.find("select", id="vaccine-select").iter("option")]
        assert set(options) == set(map_data["colourings"])
        assert all(set(colouring) == set(workload.loc[workload["community"] == community, "grid_code"])
                   for colouring in map_data["colourings"].values())

        # key populations and workload per grid
        kp_rows = {r.attrs["data-area"]: r for r in tree.find("table", id="key-population-table").iter("tr")
                   if "data-area" in r.attrs}
        for _, k in key_population[key_population["community"] == community].iterrows():
            area = k["grid_code"] if k["grid_code"] != "(unplaced)" else "(不在网格 unplaced)"
            cells = {c.attrs["data-field"]: _value(c) for c in kp_rows[area].iter("td") if "data-field" in c.attrs}
            assert cells == {field: k[field] for field in cells} and "aged_80_plus_living_alone" in cells
        grid_rows = {r.attrs["data-grid"]: r for r in tree.find("table", id="grid-table").iter("tr") if "data-grid" in r.attrs}
        for _, w in workload[workload["community"] == community].iterrows():
            cells = {c.attrs["data-field"]: c.attrs["data-value"] for c in grid_rows[w["grid_code"]].iter("td")
                     if "data-field" in c.attrs}
            assert int(cells["residents"]) == w["residents"] and int(cells["households"]) == w["households"]
            assert cells["over_target"] == str(bool(w["over_target"])).lower()


def test_freshness_and_outreach_equal_the_audit_and_lists(report_city: ReportCity, trees: dict[str, Element]) -> None:
    engine = report_city.engine
    loads = _frame(engine, "select distinct on (source) source, rows_loaded from audit.load_run "
                           "where status = 'succeeded' order by source, finished_at desc")
    items = _frame(engine, "select community, status, count(*) as items from outreach.list_item group by 1, 2")
    assert not items.empty  # the fixture built the lists
    for name, tree in trees.items():
        rows = {r.attrs["data-source"]: r for r in tree.find("table", id="freshness-table").iter("tr") if "data-source" in r.attrs}
        for _, load in loads.iterrows():
            cell = rows[load["source"]].find("td", data_field="rows_loaded")
            assert int(cell.attrs["data-value"]) == load["rows_loaded"]
            assert rows[load["source"]].find("span").text() in ("passed", "warnings", "failed", "not checked")
        if name == CITY_FILE:
            continue
        community = tree.find("h1").text().split()[0]
        current = {(r.attrs["data-status"]): r for r in tree.find("table", id="outreach-current-table").iter("tr")
                   if "data-status" in r.attrs}
        expected = items[items["community"] == community]
        assert sum(_value(r.find("td", data_field="items")) for r in current.values()) == expected["items"].sum()


def test_city_report_suppresses_counts_under_five(report_city: ReportCity, trees: dict[str, Element]) -> None:
    tree = trees[CITY_FILE]
    assert tree.find("body").attrs["data-suppressed-below"] == "5"
    suppressed = 0
    for cell in tree.iter("td"):
        if cell.attrs.get("data-field") not in COUNT_FIELDS:
            continue
        if "data-suppressed" in cell.attrs:
            assert cell.text().strip() == "<5" and "data-value" not in cell.attrs
            suppressed += 1
        else:
            value = int(cell.attrs["data-value"])
            assert value == 0 or value >= 5, cell.attrs
    # the mart has small counts per community that the city report must have hidden
    key_population = _frame(report_city.engine, "select community, sum(extreme_poverty) as n1, sum(children_in_difficulty) as n2,"
                                                " sum(aged_80_plus_living_alone) as n3 from mart.key_population group by community")
    small = ((key_population[["n1", "n2", "n3"]] > 0) & (key_population[["n1", "n2", "n3"]] < 5)).to_numpy().sum()
    assert suppressed >= small
    # hover lines and chart data carry no small count either
    hover = " ".join(line for colouring in json.loads(tree.find("script", id="map-data").text())["colourings"].values()
                     for _, line in colouring.values())
    assert not re.search(r"(?<![\d,.<])[1-4](?![\d,.%])", re.sub(r"\d+-\d+|\d+\+", "", hover.replace("<5", ""))), hover[:400]
    for spec in tree.find_all("script", **{"class": "chart-spec"}):
        for dataset in json.loads(spec.text()).get("datasets", {}).values():
            for row in dataset:
                assert row.get("items") is None or row["items"] == 0 or row["items"] >= 5
    # community reports are for the community's own staff: exact figures
    community_tree = next(t for n, t in trees.items() if n != CITY_FILE)
    assert community_tree.find("body").attrs["data-suppressed-below"] == "0"


def test_masker_rules() -> None:
    city, community = Masker(suppress=True), Masker(suppress=False)
    assert [city.count(n) for n in (0, 1, 4, 5, 1234)] == ["0", "<5", "<5", "5", "1,234"]
    assert community.count(3) == "3" and city.value(3) is None and city.value(7) == 7
    assert city.rate(3, 100) is None and city.rate(50, 100) == 0.5 and city.rate(0, 0) is None


def test_one_community_and_unknown_community(report_city: ReportCity, tmp_path: Path) -> None:
    community = _communities(report_city.engine)[0]
    paths = build_reports(report_city.engine, tmp_path, community)
    assert [p.name for p in paths] == [f"{safe_file_name(community)}.html", CITY_FILE]
    with pytest.raises(ValueError, match="no community"):
        build_reports(report_city.engine, tmp_path, "没有这个社区")


def test_without_outreach_tables_the_section_says_so(report_city: ReportCity, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from community_dw.report import data

    real = data._table_exists
    monkeypatch.setattr(data, "_table_exists", lambda conn, name: False if name.startswith("outreach.") else real(conn, name))
    paths = build_reports(report_city.engine, tmp_path, _communities(report_city.engine)[0])
    for path in paths:
        section = parse(path.read_text(encoding="utf-8")).find("section", id="outreach-section")
        assert "no outreach data yet" in section.find("p", id="no-outreach").text()
        assert section.find("table") is None


def test_cdw_report_command(report_city: ReportCity, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from community_dw.report import report_command

    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)  # a group, as in cdw, so "report" is a subcommand
    community = _communities(report_city.engine)[-1]
    result = CliRunner().invoke(app, ["report", "--community", community, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"{safe_file_name(community)}.html").exists() and (tmp_path / CITY_FILE).exists()
    assert "2 reports" in result.output
    bad = CliRunner().invoke(app, ["report", "--community", "没有这个社区", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "no community" in bad.output
