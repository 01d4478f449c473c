"""Server-rendered SVG charts for the finance pages: no script, no CDN, readable in print.

Pure functions from numbers to an SVG string (``Markup``): a stacked bar per day (collections
by channel, review backlog by age) and bars above and below zero (settlement differences).
Every bar carries a ``<title>`` with its exact figure, so hovering shows the amount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

from reconciliation.money import format_amount

PALETTE = (
    "#2f6f9f", "#e39b2d", "#4f9a5b", "#b8463f", "#7a5ca8", "#3fa3a0", "#9a7b4f", "#c45f9a",
)  # fmt: skip
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 16, 36


def _lei(bani: int) -> str:
    """Axis label in whole lei with thin grouping."""
    return f"{bani // 100:,}".replace(",", "\u202f")


def _ticks(top: int, n: int = 4) -> list[int]:
    if top <= 0:
        return [0]
    step = max(1, top // n)
    magnitude = 10 ** (len(str(step)) - 1)
    step = ((step + magnitude - 1) // magnitude) * magnitude
    return list(range(0, top + step, step))


def _frame(title: str, body: list[str], legend: Sequence[tuple[str, str]]) -> Markup:
    items = [
        f'<g transform="translate({WIDTH - RIGHT + 14},{TOP + 14 + 18 * i})">'
        f'<rect width="12" height="12" fill="{color}"/>'
        f'<text x="18" y="10">{escape(name)}</text></g>'
        for i, (name, color) in enumerate(legend)
    ]
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>{''.join(body)}{''.join(items)}</svg>"
    )


def stacked_days(
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[int]],
    *,
    unit: str = "lei",
) -> Markup:
    """One stacked bar per day; ``series`` maps a name to one value per day (bani or a count
    when ``unit`` is not "lei")."""
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(days))]
    ticks = _ticks(max(totals, default=0))
    top = max(ticks[-1], 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    band = plot_w / max(len(days), 1)
    body = _axis(ticks, top, plot_w, plot_h, unit)
    for i, day in enumerate(days):
        x = LEFT + i * band + band * 0.15
        y_base: float = TOP + plot_h
        for k, name in enumerate(names):
            value = series[name][i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y_base -= h
            shown = format_amount(value) if unit == "lei" else str(value)
            body.append(
                f'<rect x="{x:.1f}" y="{y_base:.1f}" width="{band * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[k % len(PALETTE)]}"><title>{day:%d.%m} {escape(name)}: '
                f"{shown}</title></rect>"
            )
        if len(days) <= 10 or i % max(1, len(days) // 10) == 0:
            body.append(
                f'<text x="{x + band * 0.35:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{day:%d.%m}</text>'
            )
    legend = [(n, PALETTE[k % len(PALETTE)]) for k, n in enumerate(names)]
    return _frame(title, body, legend)


def signed_days(title: str, days: Sequence[date], values: Mapping[str, Sequence[int]]) -> Markup:
    """Bars above (money over) and below (money short) the zero line, one group per day."""
    names = list(values)
    peak = max((abs(v) for n in names for v in values[n]), default=0)
    ticks = _ticks(peak)
    top = max(ticks[-1], 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    zero = TOP + plot_h / 2
    band = plot_w / max(len(days), 1)
    body = [
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#888"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">+{_lei(top)}</text>',
        f'<text x="{LEFT - 6}" y="{zero + 4:.1f}" text-anchor="end">0</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">-{_lei(top)}</text>',
    ]
    width = band * 0.7 / max(len(names), 1)
    for i, day in enumerate(days):
        for k, name in enumerate(names):
            v = values[name][i]
            if not v:
                continue
            h = (plot_h / 2) * abs(v) / top
            x = LEFT + i * band + band * 0.15 + k * width
            y = zero - h if v > 0 else zero
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[(k + 3) % len(PALETTE)]}"><title>{day:%d.%m} {escape(name)}: '
                f"{format_amount(v)}</title></rect>"
            )
        if len(days) <= 10 or i % max(1, len(days) // 10) == 0:
            body.append(
                f'<text x="{LEFT + i * band + band / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{day:%d.%m}</text>'
            )
    legend = [(n, PALETTE[(k + 3) % len(PALETTE)]) for k, n in enumerate(names)]
    return _frame(title, body, legend)


def _axis(ticks: list[int], top: int, plot_w: float, plot_h: float, unit: str) -> list[str]:
    out = []
    for t in ticks:
        y = TOP + plot_h - plot_h * t / top
        label = _lei(t) if unit == "lei" else str(t)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    return out
