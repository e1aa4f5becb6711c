"""A horizontal bar chart as inline SVG, rendered on the server: no chart library, no script.

Colours and fonts come from console.css through classes (the CSP allows no inline style);
every label is escaped by the template that includes the markup.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "bar_chart"]

#: More bars than this are summed into one "other" bar: the chart stays readable and bounded.
MAX_BARS = 20
LABEL_WIDTH = 260
BAR_WIDTH = 380
ROW_HEIGHT = 26


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    #: Geometry, computed here so the template only places it.
    y: int = 0
    width: int = 0


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    row_height: int


def bar_chart(values: list[tuple[str, int]]) -> BarChart:
    ranked = sorted(values, key=lambda item: (-item[1], item[0]))
    if len(ranked) > MAX_BARS:
        rest = sum(value for _, value in ranked[MAX_BARS - 1 :])
        ranked = [*ranked[: MAX_BARS - 1], ("other", rest)]
    top = max((value for _, value in ranked), default=0) or 1
    bars = [
        Bar(label, value, y=i * ROW_HEIGHT, width=max(1, round(BAR_WIDTH * value / top)) if value else 0)
        for i, (label, value) in enumerate(ranked)
    ]
    return BarChart(bars, LABEL_WIDTH + BAR_WIDTH + 70, max(1, len(bars)) * ROW_HEIGHT, LABEL_WIDTH, ROW_HEIGHT)
