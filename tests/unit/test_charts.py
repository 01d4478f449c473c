"""The finance charts are plain SVG with every figure in a tooltip."""

from __future__ import annotations

from datetime import date, timedelta

from lxml import etree

from gateway.web.charts import signed_days, stacked_days

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]


def _svg(markup) -> etree._Element:
    return etree.fromstring(str(markup).encode())


def test_stacked_bars_carry_each_channels_exact_amount():
    series = {"post": [12345] * 30, "transfer": [0] * 29 + [99]}
    svg = _svg(stacked_days("Collections", DAYS, series))
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert titles[0] == "Collections"
    assert "30.11 transfer: 0.99" in titles and titles.count("01.11 post: 123.45") == 1
    rects = list(svg.iter("{http://www.w3.org/2000/svg}rect"))
    assert len(rects) == 31 + 2  # bars (zero bars omitted) + legend swatches


def test_negative_differences_hang_below_the_zero_line_and_text_is_escaped():
    svg = _svg(signed_days("Settlement <differences>", DAYS[:3], {"fees": [-500, 0, 700]}))
    bars = [
        r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None
    ]
    zero = float(next(svg.iter("{http://www.w3.org/2000/svg}line")).get("y1"))
    below, above = bars
    assert float(below.get("y")) == zero and float(above.get("y")) < zero
    assert svg.get("aria-label") == "Settlement <differences>"


def test_an_empty_month_still_draws_axes():
    svg = _svg(stacked_days("Backlog", DAYS, {"0-1 days": [0] * 30}, unit="items"))
    assert svg.tag.endswith("svg")
