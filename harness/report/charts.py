"""Inline SVG line charts from chart evidence (``{"series": {name: [[x, y], ...]}, ...}``).

The HTML report must work offline and without scripts, so charts are drawn here as plain SVG.
Every label is escaped: series names come from suites, and suites may echo what the SUT sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from markupsafe import Markup
from markupsafe import escape as _escape

from harness.untrusted import strip_control

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 40
# Colour-blind-safe palette (Okabe-Ito); p50/p95/p99 read as three distinct lines.
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
T = TypeVar("T")


def escape(text: Any) -> Markup:
    return _escape(strip_control(str(text), keep_newlines=False))


def label(value: Any) -> Markup:
    """An axis or legend label: text, or ``(vi, en)`` drawn as two tspans the page's language
    toggle shows one of (the report's CSS hides ``.vi`` or ``.en``)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return Markup('<tspan class="vi">{}</tspan><tspan class="en">{}</tspan>').format(
            escape(value[0]), escape(value[1]))
    return escape(value or "")


@dataclass(frozen=True)
class Axis:
    low: float
    high: float

    def scale(self, value: float, start: float, length: float) -> float:
        span = self.high - self.low or 1.0
        return start + (value - self.low) / span * length


def _points(data: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for name, raw in (data.get("series") or {}).items():
        points = [(float(p[0]), float(p[1])) for p in raw or []
                  if isinstance(p, (list, tuple)) and len(p) == 2
                  and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p)]
        series[str(name)] = sorted(points)
    return series


def _ticks(axis: Axis, count: int = 5) -> list[float]:
    step = (axis.high - axis.low) / (count - 1) if axis.high > axis.low else 1.0
    return [axis.low + i * step for i in range(count)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def _svg(css_class: str, height: int, title: str) -> list[str]:
    """The opening ``<svg>`` and its ``<title>``: the parts a chart appends to."""
    return [(f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'),
            f"<title>{escape(title)}</title>"]


def _empty(parts: list[str], height: int, message: str) -> Markup:
    parts.append(f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle">{message}</text></svg>')
    return Markup("".join(parts))


def _coloured(series: Iterable[tuple[str, T]]) -> Iterator[tuple[int, str, str, T]]:
    """``(index, colour, name, value)`` per series, each in the next colour of the palette."""
    for index, (name, value) in enumerate(series):
        yield index, PALETTE[index % len(PALETTE)], name, value


def bar_chart_svg(data: dict[str, Any], title: str = "") -> Markup:
    """Horizontal bars, one per series, of its last value (e.g. errors by type)."""
    bars = [(name, pts[-1][1]) for name, pts in _points(data).items() if pts]
    height = TOP + BOTTOM + max(1, len(bars)) * 24
    parts = _svg("chart chart-bars", height, title)
    if not bars:
        return _empty(parts, height, label(("không có lỗi", "no errors")))
    label_w, plot_w = 240, WIDTH - 240 - 60
    top = max(value for _, value in bars) or 1.0
    for index, colour, name, value in _coloured(bars):
        y = TOP + index * 24
        width = max(1.0, value / top * plot_w)
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name[:40])}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="16" '
                     f'fill="{colour}" data-series="{escape(name)}"/>'
                     f'<text x="{label_w + width + 4:.1f}" y="{y + 15}">{_fmt(value)}</text>')
    parts.append(f'<text x="{label_w + plot_w / 2}" y="{height - 8}" text-anchor="middle" class="label">'
                 f'{label(data.get("y_label"))}</text></svg>')
    return Markup("".join(parts))


def chart_svg(data: dict[str, Any], title: str = "") -> Markup:
    """The chart the evidence asks for: bars when ``style`` is "bars", else lines."""
    if data.get("style") == "bars":
        return bar_chart_svg(data, title)
    return line_chart_svg(data, title)


def line_chart_svg(data: dict[str, Any], title: str = "") -> Markup:
    """One SVG element; an empty-state SVG when there is nothing to draw."""
    series = _points(data)
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _svg("chart", HEIGHT, title)
    if not xs:
        return _empty(parts, HEIGHT, label(("không có dữ liệu", "no data")))
    x_axis = Axis(min(xs), max(xs))
    y_axis = Axis(min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1.0)
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>')
    for tick in _ticks(y_axis):
        y = y_axis.scale(tick, TOP + plot_h, -plot_h)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    for tick in _ticks(x_axis):
        x = x_axis.scale(tick, LEFT, plot_w)
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_fmt(tick)}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle" class="label">'
                 f'{label(data.get("x_label"))}</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2}" text-anchor="middle" class="label" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2})">{label(data.get("y_label"))}</text>')
    given = data.get("series_labels")
    names: dict[str, Any] = given if isinstance(given, dict) else {}
    for index, colour, name, pts in _coloured(series.items()):
        coords = " ".join(f"{x_axis.scale(x, LEFT, plot_w):.1f},{y_axis.scale(y, TOP + plot_h, -plot_h):.1f}"
                          for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}" '
                     f'data-series="{escape(name)}"/>')
        legend_y = TOP + 14 + index * 18
        parts.append(f'<rect x="{LEFT + plot_w + 12}" y="{legend_y - 9}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{LEFT + plot_w + 30}" y="{legend_y}">{label(names.get(name, name))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
