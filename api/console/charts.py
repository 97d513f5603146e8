"""Geometry of the overview's small charts, drawn as SVG by templates/charts.html (no script, no library).

A chart is a list of labelled points per series; this module only scales them into the drawing area and picks the
axis ticks. What the numbers mean comes from the queries, never from here."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 12, 30


@dataclass
class Series:
    name: str
    css: str  # a class of console.css: the colour and dash of the line or bar
    values: list[float]
    points: str = ""  # "x,y x,y …" for <polyline>
    bars: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, width, height


@dataclass
class Chart:
    title: str
    labels: list[str]
    series: list[Series]
    kind: str = "line"  # line | bar
    width: int = WIDTH
    height: int = HEIGHT
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # y, text
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    baseline: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.labels


def _scale(value: float) -> tuple[float, float]:
    """The axis maximum and tick step: whole steps of 1, 2 or 5 × 10^n, at most five of them."""
    step = next(m * 10**e for e in range(12) for m in (1, 2, 5) if value <= 5 * m * 10**e)
    return max(step, -(-value // step) * step), float(step)


def build(title: str, labels: list[str], series: list[Series], kind: str = "line") -> Chart:
    """Scale every series into the drawing area; x ticks on at most 6 labels."""
    chart = Chart(title, labels, series, kind)
    if not labels:
        return chart
    top, step = _scale(max((v for s in series for v in s.values), default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(labels)

    def y(value: float) -> float:
        return round(TOP + inner_h * (1 - value / top), 1)

    if kind == "bar":
        slot = inner_w / n
        xs = [LEFT + slot * (i + 0.5) for i in range(n)]
        for s in series:
            width = max(slot * 0.7, 1)
            s.bars = [
                (round(x - width / 2, 1), y(v), round(width, 1), round(chart.baseline - y(v), 1))
                for x, v in zip(xs, s.values, strict=True)
            ]
    else:
        xs = [LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2) for i in range(n)]
        for s in series:
            # A step line: counts change at events, not gradually between two samples.
            corners = []
            for i, (x, v) in enumerate(zip(xs, s.values, strict=True)):
                if i:
                    corners.append(f"{round(x, 1)},{y(s.values[i - 1])}")
                corners.append(f"{round(x, 1)},{y(v)}")
            s.points = " ".join(corners)
    chart.y_ticks = [(y(step * k), f"{step * k:g}") for k in range(int(top // step) + 1)]
    every = max(1, -(-n // 4))
    chart.x_ticks = [(round(xs[i], 1), labels[i]) for i in range(0, n, every)]
    return chart
