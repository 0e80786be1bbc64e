"""Vega-Lite chart specs (altair) and the Vega JavaScript inlined from vl-convert, so charts render offline."""

from __future__ import annotations

import functools
import json
from typing import Any

import altair as alt
import pandas as pd

#: The spec's "$schema" names a URL; it is an identifier vega-embed never fetches, but the report
#: carries no external URL at all, so it is dropped (vega-embed then assumes Vega-Lite).
_DROP_KEYS = ("$schema",)


@functools.cache
def vega_bundle() -> str | None:
    """vega + vega-lite + vega-embed as one script, from the vl-convert-python wheel (no network).

    None when vl-convert-python is not installed: reports then show their tables without charts.
    The bundle is checked for "</script" so it can sit inside an inline <script> element.
    """
    try:
        import vl_convert
        from altair.utils._importers import vl_version_for_vl_convert
    except ImportError:
        return None
    bundle = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())
    return bundle.replace("</script", "<\\/script")


def spec(chart: alt.TopLevelMixin) -> str:
    """The chart as JSON for an inline <script type="application/json">, safe inside HTML."""
    as_dict: dict[str, Any] = chart.to_dict(validate=False)
    for key in _DROP_KEYS:
        as_dict.pop(key, None)
    return json.dumps(as_dict, ensure_ascii=False, default=str).replace("</", "<\\/")


def coverage_chart(rows: pd.DataFrame) -> alt.Chart:
    """Complete-course coverage by vaccine (columns) and age band (bars); rows: one per vaccine x band.

    A withheld rate (None, city report) draws no bar; its tooltip still says "<5".
    """
    data = rows[["vaccine_code", "vaccine_label", "age_band", "complete_rate", "people_text", "complete_text", "any_text"]]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("age_band:N", title=None, sort=["0-17", "18-59", "60-79", "80+"]),
            y=alt.Y("complete_rate:Q", title="全程接种率 complete", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("age_band:N", title="年龄段 age band", sort=["0-17", "18-59", "60-79", "80+"]),
            column=alt.Column("vaccine_code:N", title=None, header=alt.Header(labelAngle=0, labelFontSize=12)),
            tooltip=[alt.Tooltip("vaccine_label:N", title="vaccine"), alt.Tooltip("age_band:N", title="age band"),
                     alt.Tooltip("people_text:N", title="eligible people"),
                     alt.Tooltip("any_text:N", title="any dose"),
                     alt.Tooltip("complete_text:N", title="complete"),
                     alt.Tooltip("complete_rate:Q", title="complete rate", format=".1%")],
        )
        .properties(width=90, height=170)
    )


def key_population_chart(rows: pd.DataFrame, area_title: str) -> alt.Chart:
    """A heat table: areas (rows) x key-population categories (columns), shaded by count."""
    base = alt.Chart(rows).encode(
        x=alt.X("category:N", title=None, sort=None, axis=alt.Axis(labelAngle=-35, labelLimit=220)),
        y=alt.Y("area:N", title=area_title, sort=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", title="share of residents", scale=alt.Scale(scheme="oranges"),
                        legend=alt.Legend(format="%")),
        tooltip=[alt.Tooltip("area:N"), alt.Tooltip("category:N"), alt.Tooltip("text:N", title="people")],
    )
    labels = base.mark_text(fontSize=10).encode(text="text:N")
    return (cells + labels).properties(width=alt.Step(58), height=alt.Step(18))


def outreach_states_chart(rows: pd.DataFrame) -> alt.Chart:
    """Items by state at each list run's as-of date, stacked."""
    return (
        alt.Chart(rows)
        .mark_bar()
        .encode(
            x=alt.X("as_of_date:O", title="名单日期 list date"),
            y=alt.Y("items:Q", title="items", stack="zero"),
            color=alt.Color("state:N", title="状态 status"),
            tooltip=["as_of_date:O", "state:N", alt.Tooltip("text:N", title="items")],
        )
        .properties(width=alt.Step(40), height=180)
    )


def outreach_outcomes_chart(rows: pd.DataFrame) -> alt.Chart:
    """Staff outcomes (走访结果) by the date they were reported, stacked."""
    return (
        alt.Chart(rows)
        .mark_bar()
        .encode(
            x=alt.X("outcome_date:O", title="回访日期 contact date"),
            y=alt.Y("items:Q", title="items", stack="zero"),
            color=alt.Color("outcome:N", title="走访结果 outcome"),
            tooltip=["outcome_date:O", "outcome:N", alt.Tooltip("text:N", title="items")],
        )
        .properties(width=alt.Step(40), height=180)
    )
