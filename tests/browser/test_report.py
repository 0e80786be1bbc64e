"""The offline reports in a real browser: Debian's Chromium (driven by Playwright) with the network cut off.

A small simulated city goes through the whole pipeline (the fixture of tests/integration/report/), the
reports are built, and Chromium opens a community report and the city report with every request that
is not the report file itself aborted and counted (zero expected), DNS mapped to nowhere as a second
fence. Checked on the rendered page: every grid of the community is drawn with a non-empty box, the
Vega charts rendered from the inlined scripts, the legend follows the vaccine selector and equals the
mart, hovering a grid shows its code and grid worker. PNG screenshots go to <output dir>/screenshots/
and their paths are printed. Skipped only when Chromium is missing: `make browser-deps` installs it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from community_dw import browser_deps
from community_dw.config import output_dir
from community_dw.report import build_reports
from community_dw.report.build import CITY_FILE, safe_file_name
from tests.integration.report.conftest import ReportCity, report_city  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any name lookup fails: nothing can leave even unrouted
]
RENDER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chromium() -> Path:
    path = browser_deps.chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed: run `make browser-deps` (apt-get install chromium fonts-noto-cjk)")
    return path


def _frame(engine: sa.Engine, query: str, **params: object) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn, params=params)


def _screenshot_dir() -> Path:
    folder = output_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_reports_render_offline_in_chromium(chromium: Path, report_city: ReportCity, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    engine = report_city.engine
    paths = {p.name: p for p in build_reports(engine, tmp_path)}
    grids = _frame(engine, "select grid_code, community, grid_worker_name from core.grid order by grid_code")
    community = grids["community"].value_counts().index[0]
    community_file = paths[f"{safe_file_name(community)}.html"]
    shots = _screenshot_dir()
    allowed = {p.as_uri() for p in paths.values()}  # the report files themselves, nothing else
    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=True)

        def route(request_route) -> None:
            url = request_route.request.url
            if url in allowed:
                request_route.continue_()
            else:
                blocked.append(url)
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("requestfailed", lambda request: blocked.append(request.url) if request.url not in blocked else None)

        # --- a community report
        page.goto(community_file.as_uri())
        page.wait_for_selector("#chart-coverage svg", timeout=RENDER_TIMEOUT_MS)  # Vega ran from the inline bundle
        expected = set(grids.loc[grids["community"] == community, "grid_code"])
        boxes = page.evaluate("""() => Array.from(document.querySelectorAll('#grids path.grid')).map(p => {
            const b = p.getBBox(); return [p.dataset.grid, b.width, b.height]; })""")
        assert {code for code, _, _ in boxes} == expected
        assert all(width > 0 and height > 0 for _, width, height in boxes), boxes
        rendered_charts = page.evaluate("() => Array.from(document.querySelectorAll('div.chart')).map(d => [d.id, !!d.querySelector('svg')])")
        assert rendered_charts and all(ok for _, ok in rendered_charts), rendered_charts

        # the selector recolours the map and the legend follows, with the mart's figures
        options = page.eval_on_selector_all("#vaccine-select option", "os => os.map(o => o.value)")
        choice = next(o for o in options if o.endswith("|60-79"))
        before = page.eval_on_selector_all("#grids path.grid", "ps => ps.map(p => p.getAttribute('class'))")
        page.select_option("#vaccine-select", choice)
        vaccine, band = choice.split("|")
        mart = _frame(engine, "select people, vaccinated_complete from mart.vaccination_coverage where area_level = "
                              "'community' and area_code = :c and vaccine_code = :v and age_band = :b",
                      c=community, v=vaccine, b=band)
        legend = page.locator("#legend-totals")
        assert legend.get_attribute("data-key") == choice
        assert int(legend.get_attribute("data-people")) == mart["people"].iloc[0]
        assert int(legend.get_attribute("data-complete")) == mart["vaccinated_complete"].iloc[0]
        after = page.eval_on_selector_all("#grids path.grid", "ps => ps.map(p => p.getAttribute('class'))")
        assert len(after) == len(before)

        # hovering a grid shows its code, its grid worker and the selected figures
        first = sorted(expected)[0]
        page.hover(f'#grids path.grid[data-grid="{first}"]')
        tooltip = page.locator("#tooltip")
        assert tooltip.is_visible()
        worker = grids.loc[grids["grid_code"] == first, "grid_worker_name"].iloc[0]
        assert first in tooltip.inner_text() and worker in tooltip.inner_text() and band in tooltip.inner_text()
        page.mouse.move(0, 0)
        community_shot = shots / "report-community.png"
        page.screenshot(path=community_shot, full_page=True)

        # --- the city report
        page.goto(paths[CITY_FILE].as_uri())
        page.wait_for_selector("#chart-coverage svg", timeout=RENDER_TIMEOUT_MS)
        drawn = page.eval_on_selector_all("#grids path.grid", "ps => ps.map(p => p.dataset.grid)")
        assert set(drawn) == set(grids["grid_code"])
        assert "<5" in page.locator("#key-population-table").inner_text()
        city_shot = shots / "report-city.png"
        page.screenshot(path=city_shot, full_page=True)
        report_requests, report_errors = list(blocked), list(errors)

        # the fence itself works: a fetch from the page is aborted and counted
        page.evaluate("() => fetch('https://example.org/probe.png').catch(() => null)")
        page.wait_for_timeout(200)
        browser.close()

    print(f"\nrequests blocked while the reports were open: {len(report_requests)}; "
          f"screenshots: {community_shot}, {city_shot}")
    assert report_requests == [], f"the report tried to fetch: {report_requests[:10]}"
    assert blocked == ["https://example.org/probe.png"], blocked
    assert report_errors == [], report_errors
