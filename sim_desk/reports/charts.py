"""Charts drawn with reportlab.graphics, readable when printed in greyscale.

Series differ by fill and pattern (solid dark, light with stripes, outline), never by colour
alone, and every chart has a legend in words and numbers on or beside its bars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from sim_desk.reports.layout import CONTENT_WIDTH

INK = colors.HexColor("#212b32")
DARK_FILL = colors.HexColor("#425563")
LIGHT_FILL = colors.HexColor("#d8dde0")
AFTER_SHADE = colors.HexColor("#f0f4f5")
FONT, BOLD = "SimSans", "SimSans-Bold"


def nice_scale(value: float, *, whole: bool = False) -> tuple[float, int]:
    """A round axis maximum at or above ``value`` and how many equal steps to mark on it.

    Steps are 1, 2, 2.5 or 5 times a power of ten, four or five of them, so every tick label
    is a round number. With ``whole`` (counts of incidents) every step is a whole number, and
    there are fewer steps rather than steps of a fraction (a top of 2 is marked 0, 1, 2).
    """
    if whole and value <= 5:
        top = max(1, math.ceil(value))
        return float(top), top
    if value <= 0:
        return 1.0, 4
    best: tuple[float, int] | None = None
    power = 10 ** math.floor(math.log10(value / 5))
    for scale in (power, power * 10):
        for step in (1, 2, 2.5, 5):
            if whole and not float(step * scale).is_integer():
                continue
            for n in (4, 5):
                top = step * scale * n
                if top >= value and (best is None or top < best[0]):
                    best = (float(top), n)
    assert best is not None
    return best


def tick_label(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _stripes(x: float, y: float, w: float, h: float, gap: float = 2.2) -> Group:
    """Vertical stripes inside a rectangle: the pattern that tells a light bar apart in print."""
    g = Group()
    k = x + gap / 2
    while k < x + w:
        g.add(Line(k, y, k, y + h, strokeColor=INK, strokeWidth=0.35))
        k += gap
    return g


def _bar(g: Group, x: float, y: float, w: float, h: float, style: str) -> None:
    if h <= 0:
        return
    if style == "solid":
        g.add(Rect(x, y, w, h, fillColor=DARK_FILL, strokeColor=INK, strokeWidth=0.4))
    else:
        g.add(Rect(x, y, w, h, fillColor=LIGHT_FILL, strokeColor=INK, strokeWidth=0.5))
        if style == "striped" and w > 3:
            g.add(_stripes(x, y, w, h))


def _legend(g: Group, x: float, y: float, items: Sequence[tuple[str, str]]) -> None:
    for style, label in items:
        _bar(g, x, y, 9, 7, style)
        g.add(String(x + 12, y + 1, label, fontName=FONT, fontSize=7.5, fillColor=INK))
        x += 20 + 4.4 * len(label)


def _value_axis(
    g: Group,
    x0: float,
    y0: float,
    plot_w: float,
    plot_h: float,
    scale: tuple[float, int],
    label: str,
) -> None:
    top, steps = scale
    for i in range(steps + 1):
        y = y0 + plot_h * i / steps
        g.add(Line(x0, y, x0 + plot_w, y, strokeColor=LIGHT_FILL, strokeWidth=0.4))
        g.add(
            String(
                x0 - 3,
                y - 2.5,
                tick_label(top * i / steps),
                fontName=FONT,
                fontSize=7,
                textAnchor="end",
            )
        )
    g.add(Line(x0, y0, x0, y0 + plot_h, strokeColor=INK, strokeWidth=0.6))
    g.add(Line(x0, y0, x0 + plot_w, y0, strokeColor=INK, strokeWidth=0.6))
    g.add(String(x0 - 3, y0 + plot_h + 8, label, fontName=FONT, fontSize=7.5, textAnchor="start"))


@dataclass(frozen=True)
class MonthBar:
    label: str  # shown under every ``label_every`` bars
    lower: float  # the solid part
    upper: float = 0.0  # stacked on top, light with stripes


def monthly_chart(
    bars: Sequence[MonthBar],
    *,
    marker_index: int,
    marker_label: str,
    legend: Sequence[tuple[str, str]],
    value_label: str,
    label_every: int = 3,
    whole: bool = False,
    end_index: int | None = None,
    end_label: str = "",
    height: float = 62 * mm,
    width: float = CONTENT_WIDTH,
) -> Drawing:
    """Bars per month, stacked in two patterns, with a dashed line at ``marker_index``.

    The months from the marker on are shaded, so before and after read apart without colour;
    with ``end_index``, the shading stops there and a dotted line labelled ``end_label`` marks
    it (the end of the after window, with later months after it). ``whole``: the values are
    counts, so the axis is marked in whole numbers only.
    """
    d = Drawing(width, height, initialFontName=FONT)  # not Helvetica: every font embedded
    g = Group()
    x0, y0 = 30.0, 26.0
    plot_w, plot_h = width - x0 - 6, height - y0 - 26
    scale = nice_scale(max((b.lower + b.upper for b in bars), default=0), whole=whole)
    top = scale[0]
    n = max(len(bars), 1)
    step = plot_w / n
    shade_end = n if end_index is None else max(marker_index, min(end_index, n))
    if 0 <= marker_index <= n:
        mx = x0 + marker_index * step
        ex = x0 + shade_end * step
        g.add(Rect(mx, y0, ex - mx, plot_h, fillColor=AFTER_SHADE, strokeColor=None))
    _value_axis(g, x0, y0, plot_w, plot_h, scale, value_label)
    for i, b in enumerate(bars):
        x = x0 + i * step + step * 0.15
        w = step * 0.7
        lower_h = plot_h * b.lower / top
        _bar(g, x, y0, w, lower_h, "solid")
        _bar(g, x, y0 + lower_h, w, plot_h * b.upper / top, "striped")
        if i % label_every == 0:
            g.add(
                String(
                    x0 + (i + 0.5) * step,
                    y0 - 9,
                    b.label,
                    fontName=FONT,
                    fontSize=6.5,
                    textAnchor="middle",
                )
            )
    if 0 <= marker_index <= n:
        mx = x0 + marker_index * step
        line = Line(mx, y0 - 2, mx, y0 + plot_h + 4, strokeColor=INK, strokeWidth=1.1)
        line.strokeDashArray = [3, 2]
        g.add(line)
        g.add(String(mx + 3, y0 + plot_h - 6, marker_label, fontName=BOLD, fontSize=7.5))
    if end_index is not None and marker_index < end_index < n:
        ex = x0 + end_index * step
        line = Line(ex, y0 - 2, ex, y0 + plot_h + 4, strokeColor=INK, strokeWidth=0.9)
        line.strokeDashArray = [1, 1.5]
        g.add(line)
        g.add(String(ex + 3, y0 + plot_h - 15, end_label, fontName=FONT, fontSize=7))
    _legend(g, x0, 4, legend)
    d.add(g)
    return d


@dataclass(frozen=True)
class PairedBar:
    label: str
    before: float | None
    after: float | None


def before_after_chart(
    rows: Sequence[PairedBar],
    *,
    value_label: str = "incidents per person-year",
    width: float = CONTENT_WIDTH,
) -> Drawing:
    """Horizontal bars, before (solid) and after (light, striped), with the value at each end."""
    row_h = 22.0
    label_w = 44 * mm
    height = 24 + row_h * len(rows) + 14
    d = Drawing(width, height, initialFontName=FONT)  # not Helvetica: every font embedded
    g = Group()
    x0, y0 = label_w, 16.0
    plot_w = width - x0 - 34
    top, steps = nice_scale(max((v or 0 for r in rows for v in (r.before, r.after)), default=0))
    for i in range(steps + 1):
        x = x0 + plot_w * i / steps
        g.add(Line(x, y0, x, y0 + row_h * len(rows), strokeColor=LIGHT_FILL, strokeWidth=0.4))
        g.add(
            String(
                x,
                y0 - 9,
                tick_label(top * i / steps),
                fontName=FONT,
                fontSize=7,
                textAnchor="middle",
            )
        )
    g.add(
        String(
            x0 + plot_w,
            y0 - 9 - 9,
            value_label,
            fontName=FONT,
            fontSize=7,
            textAnchor="end",
        )
    )
    for k, row in enumerate(reversed(rows)):
        base = y0 + k * row_h
        g.add(
            String(x0 - 4, base + row_h / 2 - 3, row.label, fontName=FONT, fontSize=7.5,
                   textAnchor="end")
        )  # fmt: skip
        for j, (value, style) in enumerate(((row.before, "solid"), (row.after, "striped"))):
            y = base + row_h / 2 + (1 if j == 0 else -9)
            w = 0.0 if value is None else plot_w * value / top
            _bar(g, x0, y, w, 8, style)
            text = "not defined" if value is None else f"{value:.2f}"
            g.add(String(x0 + w + 3, y + 1.5, text, fontName=FONT, fontSize=7, fillColor=INK))
    g.add(Line(x0, y0, x0, y0 + row_h * len(rows), strokeColor=INK, strokeWidth=0.6))
    _legend(g, x0, height - 11, (("solid", "Before enrolment"), ("striped", "After enrolment")))
    d.add(g)
    return d


@dataclass(frozen=True)
class Trajectory:
    before: float
    after: float


def trajectory_chart(
    trajectories: Sequence[Trajectory],
    *,
    value_label: str = "crisis incidents per person-year",
    not_drawn: Sequence[str] = (),
    width: float = CONTENT_WIDTH,
    height: float = 70 * mm,
) -> Drawing:
    """One line per person from their before rate to their after rate.

    Falls are solid, rises dashed and level lines dotted, with the counts in the legend, so the
    chart reads in greyscale and no line carries a name. ``not_drawn`` lines of the legend say
    who is left out ("17 too early to tell"), beside the figure.
    """
    d = Drawing(width, height, initialFontName=FONT)  # not Helvetica: every font embedded
    g = Group()
    x_before, x_after = 70.0, width - 110.0
    y0, plot_h = 16.0, height - 40
    scale = nice_scale(max((v for t in trajectories for v in (t.before, t.after)), default=0))
    top = scale[0]
    _value_axis(g, x_before, y0, x_after - x_before, plot_h, scale, value_label)
    g.add(Line(x_after, y0, x_after, y0 + plot_h, strokeColor=INK, strokeWidth=0.6))
    g.add(String(x_before, y0 - 10, "Before", fontName=BOLD, fontSize=7.5, textAnchor="middle"))
    g.add(String(x_after, y0 - 10, "After", fontName=BOLD, fontSize=7.5, textAnchor="middle"))
    counts = {"down": 0, "level": 0, "up": 0}
    for t in trajectories:
        kind = (
            "level"
            if math.isclose(t.before, t.after, rel_tol=1e-9, abs_tol=1e-12)
            else "down"
            if t.after < t.before
            else "up"
        )
        counts[kind] += 1
        line = PolyLine(
            [x_before, y0 + plot_h * t.before / top, x_after, y0 + plot_h * t.after / top],
            strokeColor=INK if kind != "level" else DARK_FILL,
            strokeWidth=0.9 if kind == "down" else 0.8,
        )
        if kind == "up":
            line.strokeDashArray = [4, 2]
        elif kind == "level":
            line.strokeDashArray = [1, 1.5]
        g.add(line)
    legend_x = x_after + 12
    for i, (kind, dash, text) in enumerate(
        (
            ("down", None, "went down"),
            ("level", [1, 1.5], "stayed level"),
            ("up", [4, 2], "went up"),
        )
    ):
        y = y0 + plot_h - 12 - 14 * i
        sample = Line(legend_x, y + 2.5, legend_x + 16, y + 2.5, strokeColor=INK, strokeWidth=0.9)
        if dash:
            sample.strokeDashArray = dash
        g.add(sample)
        g.add(String(legend_x + 20, y, f"{counts[kind]} {text}", fontName=FONT, fontSize=7.5))
    for j, text in enumerate(not_drawn):
        y = y0 + plot_h - 12 - 14 * (3 + j) - 4
        g.add(String(legend_x, y, f"{text}: not drawn", fontName=FONT, fontSize=7.5))
    d.add(g)
    return d
